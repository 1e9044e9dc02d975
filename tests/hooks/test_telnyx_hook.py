"""TelnyxHook over real HTTP to the sandbox's /v2: rendering per recipient, idempotency, ambiguity, STOP, status."""

from __future__ import annotations

import asyncio

import pytest

from airflow_provider_mta.core.errors import MtaUnauthorizedError
from airflow_provider_mta.hooks.sms import get_sms_hook
from airflow_provider_mta.hooks.telnyx import TelnyxHook, idempotency_key
from tests.conftest import telnyx_conn_json

pytestmark = pytest.mark.integration

ANN, BO, CY = "+13175551111", "+13175552222", "+13175553333"


def texts(sandbox) -> list[tuple[str, str]]:
    return sorted((row["to"], row["text"]) for row in sandbox.messages(provider="telnyx"))


def test_each_recipient_gets_its_own_text_once(sandbox):
    hook = get_sms_hook("telnyx_default")
    request = hook.build_request(
        subscribers=[ANN, "(317) 555-2222"],
        message="Hi {{ first_name }}",
        properties={ANN: {"first_name": "Ann"}, "(317) 555-2222": {"first_name": "Bo"}},
    )
    result = hook.send(request, request_id="req-1")
    assert (result.provider, result.total_sent, result.unknown, result.already_sent) == ("telnyx", 2, [], False)
    assert len(result.outbound_ids) == 2 and all(isinstance(i, str) for i in result.outbound_ids)
    assert result.parts == 2 and result.cost is not None and result.cost > 0
    assert texts(sandbox) == [(ANN, "Hi Ann"), (BO, "Hi Bo")]
    # The same request id again: the same Idempotency-Keys, so the sandbox replays and nobody gets a 2nd text.
    again = hook.send(request, request_id="req-1")
    assert again.already_sent and again.outbound_ids == result.outbound_ids
    assert len(sandbox.messages(provider="telnyx")) == 2


def test_keys_are_deterministic_per_send_and_recipient():
    assert idempotency_key("r", ANN) == idempotency_key("r", ANN)
    assert len({idempotency_key("r", ANN), idempotency_key("r", BO), idempotency_key("s", ANN)}) == 3


def test_a_dropped_answer_is_reported_unknown_and_never_resent(sandbox):
    sandbox.fault("drop_after_commit", provider="telnyx")
    result = get_sms_hook("telnyx_default").send_message(subscribers=[ANN, BO], message="hi", request_id="req-2")
    assert result.unknown == ["***1111"] and result.total_sent == 1
    assert texts(sandbox) == [(ANN, "hi"), (BO, "hi")]  # ANN's text went out once; the client did not resend it


def test_a_number_that_texted_stop_is_reported_opted_out(sandbox):
    sandbox.opt_out(BO)
    result = get_sms_hook("telnyx_default").send_message(subscribers=[ANN, BO, CY], message="hi")
    assert (result.total_sent, result.opted_out, result.failures) == (2, ["***2222"], [])
    assert texts(sandbox) == [(ANN, "hi"), (CY, "hi")]


def test_a_503_on_send_is_ambiguous_not_retried(sandbox):
    sandbox.fault("status", status=503, provider="telnyx")
    result = get_sms_hook("telnyx_default").send_message(subscribers=[ANN], message="hi")
    assert result.unknown == ["***1111"] and result.total_sent == 0
    assert texts(sandbox) == []


def test_a_bad_key_is_one_clear_error_and_nothing_is_sent(sandbox, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_TELNYX_BAD", telnyx_conn_json(sandbox.telnyx_base_url, api_key="KEY-wrong"))
    hook = get_sms_hook("telnyx_bad")
    with pytest.raises(MtaUnauthorizedError) as info:
        hook.send_message(subscribers=[ANN], message="hi")
    assert "KEY-wrong" not in str(info.value) and "Telnyx" in str(info.value)
    ok, message = hook.test_connection()
    assert not ok and "401" in message
    assert texts(sandbox) == []


def test_test_connection_reads_the_balance(sandbox):
    ok, message = TelnyxHook(telnyx_conn_id="telnyx_default").test_connection()
    assert ok and message.startswith(f"Telnyx API key accepted at {sandbox.telnyx_base_url}")
    assert texts(sandbox) == []


def test_delivery_report_sync_and_async(sandbox):
    hook = get_sms_hook("telnyx_default")
    result = hook.send_message(subscribers=[ANN], message="hi")
    (message_id,) = result.outbound_ids
    record = hook.get_delivery_report(message_id)
    assert record.outbound_id == message_id and record.recipient == "***1111"
    assert record.status.name in {"QUEUED", "SENT", "DELIVERED"}

    async def lookup():
        return await hook.aget_delivery_report(message_id)

    assert asyncio.run(lookup()).outbound_id == message_id


def test_async_send_is_the_twin(sandbox):
    hook = get_sms_hook("telnyx_default")
    result = asyncio.run(hook.asend_message(subscribers=[ANN, BO], message="async hi", request_id="req-a"))
    assert result.total_sent == 2 and texts(sandbox) == [(ANN, "async hi"), (BO, "async hi")]
