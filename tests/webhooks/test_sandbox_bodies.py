"""What the sandbox really posts for deliveries (MTA V1 via a webhook registered by MtaHook, Telnyx via the profile
webhook) passes verify_and_parse and becomes the right delivery events."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from airflow_provider_mta.hooks.mta import MtaHook
from airflow_provider_mta.sandbox.testing import SandboxServer
from airflow_provider_mta.webhooks.receive import verify_and_parse
from tests.conftest import mta_conn_json
from tests.loopback_http import LoopbackServer, QuietHandler

pytestmark = pytest.mark.integration
SECRET = "whsec-e2e-0123"
NUMBERS = ["+13175551111", "+13175550010"]  # delivered; 10 INVALID_NUMBER


class Received:
    calls: list[tuple[str, dict[str, str], bytes]] = []
    lock = threading.Lock()


class Handler(QuietHandler):
    def do_POST(self) -> None:
        body = self.body()
        with Received.lock:
            Received.calls.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        self.reply(200)


@pytest.fixture(scope="module")
def receiver() -> Iterator[LoopbackServer]:
    server = LoopbackServer(Handler)
    yield server
    server.close()


@pytest.fixture(scope="module")
def sbx(receiver: LoopbackServer) -> Iterator[SandboxServer]:
    # a short delivery delay, so that SENT and the final status are two moments (with 0 the sandbox builds
    # message.sent from the final state)
    with SandboxServer(telnyx_webhook_url=f"{receiver.root}/telnyx", delivery_delay_s=0.3) as server:
        yield server


def calls_to(path: str, count: int) -> list[tuple[str, dict[str, str], bytes]]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with Received.lock:
            found = [c for c in Received.calls if c[0] == path]
        if len(found) >= count:
            return found
        time.sleep(0.02)
    pytest.fail(f"{len(found)} of {count} webhooks to {path} arrived")


def events_of(conn_type: str, calls: list[tuple[str, dict[str, str], bytes]], secret: str, root: str) -> list[Any]:
    found = []
    for path, headers, body in calls:
        found += verify_and_parse(conn_type=conn_type, headers=headers, body=body, url=root + path, secret=secret)
    return found


def test_mta_delivery_webhooks(sbx, receiver, monkeypatch):
    sbx.reset()
    monkeypatch.setenv("AIRFLOW_CONN_MTA_DEFAULT", mta_conn_json(sbx.base_url, api_key=sbx.api_key))
    hook = MtaHook()
    hook.register_webhook(event="delivery-status", url=f"{receiver.root}/mta", secret=SECRET)
    sent = hook.send_message(subscribers=NUMBERS, message="hello")
    events = events_of("mta", calls_to("/mta", 4), SECRET, receiver.root)  # SENT and the final status of each
    by_status = {(e.outbound_id, e.status): e for e in events}
    delivered = by_status[(str(sent.outbound_ids[0]), "DELIVERED")]
    assert (delivered.number, delivered.outcome, delivered.kind) == ("+13175551111", "delivered", "delivery")
    assert by_status[(str(sent.outbound_ids[1]), "INVALID_NUMBER")].outcome == "failed"
    assert by_status[(str(sent.outbound_ids[1]), "SENT")].outcome == "pending"
    assert len({e.key for e in events}) == len(events)


def test_telnyx_delivery_webhooks(sbx, receiver):
    sbx.reset()
    headers = {"Authorization": f"Bearer {sbx.api_key}"}
    answer = httpx.post(
        f"{sbx.telnyx_base_url}/messages",
        headers=headers,
        json={"from": "+13125550100", "to": NUMBERS[0], "text": "hi"},
    )
    message_id = answer.json()["data"]["id"]
    events = events_of("telnyx", calls_to("/telnyx", 2), sbx.telnyx_public_key(), receiver.root)
    assert [(e.outbound_id, e.status, e.outcome) for e in events] == [
        (message_id, "sent", "pending"), (message_id, "delivered", "delivered"),
    ]  # fmt: skip
    assert {e.number for e in events} == {NUMBERS[0]} and all(e.occurred_at for e in events)
