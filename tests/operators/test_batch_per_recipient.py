"""The batch on an API taking one recipient per request: each request checkpointed, the in-flight one not resent."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_mta.core.checkpoint import Checkpoint
from airflow_provider_mta.core.errors import MtaUnauthorizedError
from airflow_provider_mta.operators.batch import BatchPersonalizedSmsOperator
from tests.conftest import telnyx_conn_json

pytestmark = pytest.mark.integration  # real TelnyxHook over HTTP to the sandbox's /v2

CHUNK = [(f"+1317557{1000 + i}", {"first_name": f"P{i}"}) for i in range(4)]


class MemoryStore:
    description = "memory"

    def __init__(self) -> None:
        self.saved: list[dict[str, Any]] = []

    def load(self) -> dict[str, Any] | None:
        return self.saved[-1] if self.saved else None

    def save(self, value: dict[str, Any]) -> None:
        self.saved.append(dict(value))

    def delete(self) -> None:
        self.saved.clear()


def operator() -> BatchPersonalizedSmsOperator:
    return BatchPersonalizedSmsOperator(
        task_id="b", sms_conn_id="telnyx_default", rows=[], message="Hi {{ first_name }}"
    )


def test_every_request_is_checkpointed_in_flight_first(sandbox):
    op, store = operator(), MemoryStore()
    checkpoint = Checkpoint(fingerprint="f", chunk_size=4, chunks=1, recipients=4)
    sent = op._send_each(CHUNK, {}, True, "req-chunk-0", checkpoint, store)
    assert sent == 4 and checkpoint.in_chunk == 4 and not checkpoint.in_flight
    assert [(s["in_chunk"], s["in_flight"]) for s in store.saved] == [(0, True), (1, True), (2, True), (3, True)]
    texts = sorted((r["to"], r["text"]) for r in sandbox.messages(provider="telnyx"))
    assert texts == [(to, f"Hi {p['first_name']}") for to, p in CHUNK]


def test_resume_reports_the_in_flight_recipient_unknown_and_sends_the_rest(sandbox):
    op, store = operator(), MemoryStore()
    # An earlier try had sent to the first recipient and was sending to the second when it died.
    checkpoint = Checkpoint(fingerprint="f", chunk_size=4, chunks=1, recipients=4, sent=1, in_chunk=1, in_flight=True)
    sent = op._send_each(CHUNK, {}, True, "req-chunk-0", checkpoint, store)
    assert sent == 2 and (checkpoint.unknown, checkpoint.unknown_recipients) == (1, ["***1001"])
    assert checkpoint.sent == 3 and checkpoint.in_chunk == 4
    assert sorted(r["to"] for r in sandbox.messages(provider="telnyx")) == [CHUNK[2][0], CHUNK[3][0]]


def test_an_unambiguous_refusal_clears_the_in_flight_mark(sandbox, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_TELNYX_DEFAULT", telnyx_conn_json(sandbox.telnyx_base_url, api_key="KEY-wrong"))
    op, store = operator(), MemoryStore()
    checkpoint = Checkpoint(fingerprint="f", chunk_size=4, chunks=1, recipients=4)
    with pytest.raises(MtaUnauthorizedError):
        op._send_each(CHUNK, {}, True, "req-chunk-0", checkpoint, store)
    assert store.saved[-1]["in_flight"] is False and store.saved[-1]["in_chunk"] == 0  # a retry sends to them
    assert sandbox.messages(provider="telnyx") == []
