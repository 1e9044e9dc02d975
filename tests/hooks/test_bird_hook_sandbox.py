"""BirdHook over real HTTP to the sandbox's Bird routes: one text per recipient, never a resend, 429, status."""

from __future__ import annotations

import asyncio

import pytest

from airflow_provider_mta.core.errors import MtaUnauthorizedError
from airflow_provider_mta.hooks.bird import BirdHook, message_reference
from airflow_provider_mta.hooks.sms import get_sms_hook
from tests.conftest import bird_conn_json

pytestmark = pytest.mark.integration

ANN, BO, CY = "+13175551111", "+13175552222", "+13175553333"


def texts(sandbox) -> list[tuple[str, str]]:
    return sorted((row["to"], row["text"]) for row in sandbox.messages(provider="bird"))


def test_each_recipient_gets_its_own_text_once(sandbox):
    hook = get_sms_hook("bird_default")
    assert type(hook) is BirdHook
    request = hook.build_request(
        subscribers=[ANN, "(317) 555-2222"],
        message="Hi {{ first_name }}",
        properties={ANN: {"first_name": "Ann"}, "(317) 555-2222": {"first_name": "Bo"}},
    )
    result = hook.send(request, request_id="req-1")
    assert (result.provider, result.total_sent, result.unknown, result.failures) == ("bird", 2, [], [])
    assert len(result.outbound_ids) == 2 and all(isinstance(i, str) for i in result.outbound_ids)
    assert texts(sandbox) == [(ANN, "Hi Ann"), (BO, "Hi Bo")]
    rows = {row["to"]: row for row in sandbox.messages(provider="bird")}
    assert rows[ANN]["requestId"] == message_reference("req-1", ANN)  # the reference the sandbox recorded


def test_a_dropped_answer_is_reported_unknown_and_never_resent(sandbox):
    sandbox.fault("drop_after_commit", provider="bird")
    result = get_sms_hook("bird_default").send_message(subscribers=[ANN, BO], message="hi", request_id="req-2")
    assert result.unknown == ["***1111"] and result.total_sent == 1
    assert texts(sandbox) == [(ANN, "hi"), (BO, "hi")]  # ANN's text went out once; the client did not resend it


def test_a_503_on_send_is_ambiguous_not_retried(sandbox):
    sandbox.fault("status", status=503, provider="bird")
    result = get_sms_hook("bird_default").send_message(subscribers=[ANN, BO], message="hi")
    assert result.unknown == ["***1111"] and result.total_sent == 1
    assert texts(sandbox) == [(BO, "hi")]  # at most once: the 503 sent nothing and nothing was resent


def test_a_429_is_retried_and_texts_once(sandbox):
    sandbox.fault("rate_limit", provider="bird")
    result = get_sms_hook("bird_default").send_message(subscribers=[ANN], message="hi")
    assert (result.total_sent, result.unknown) == (1, [])
    assert texts(sandbox) == [(ANN, "hi")]
    assert sandbox.stats()["faultsFired"] == 1


def test_a_refused_recipient_is_a_failure_and_the_rest_is_sent(sandbox):
    hook = get_sms_hook("bird_default")
    # ANN's text renders empty, which Bird refuses (422); hook.send sends as built, without the length check.
    request = hook.build_request(subscribers=[ANN, BO], message="{{ t }}", properties={ANN: {"t": ""}, BO: {"t": "hi"}})
    result = hook.send(request)
    assert (result.total_sent, result.unknown) == (1, [])
    assert [f["recipient"] for f in result.failures] == ["***1111"]
    assert "Bird answered HTTP 422" in result.failures[0]["reason"]
    assert texts(sandbox) == [(BO, "hi")]


def test_a_bad_key_is_one_clear_error_and_test_fails(sandbox, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_BIRD_BAD", bird_conn_json(sandbox, api_key="bird-wrong-key"))
    hook = get_sms_hook("bird_bad")
    with pytest.raises(MtaUnauthorizedError) as info:
        hook.send_message(subscribers=[ANN], message="hi")
    assert "bird-wrong-key" not in str(info.value) and "Bird" in str(info.value)
    ok, message = hook.test_connection()
    assert not ok and "401" in message and "bird-wrong-key" not in message
    assert texts(sandbox) == []


def test_another_channel_is_a_404_naming_the_extras(sandbox, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_BIRD_OTHER", bird_conn_json(sandbox, channel_id="5f0c1b2e-0000-4000-8000-0000000000ff")
    )
    ok, message = BirdHook(bird_conn_id="bird_other").test_connection()
    assert not ok and "404" in message and "workspace_id and channel_id" in message


def test_test_connection_gets_the_channel(sandbox):
    ok, message = BirdHook(bird_conn_id="bird_default").test_connection()
    assert ok, message
    assert message.startswith("Bird access key accepted: channel") and sandbox.bird_channel_id in message
    assert message.endswith(f"at {sandbox.url}") and sandbox.api_key not in message
    assert texts(sandbox) == []


def test_delivery_report_sync_and_async(sandbox):
    hook = get_sms_hook("bird_default")
    result = hook.send_message(subscribers=[ANN], message="hi")
    (message_id,) = result.outbound_ids
    record = hook.get_delivery_report(message_id)
    assert record.outbound_id == message_id and record.recipient == "***1111"
    assert record.status.name in {"ACCEPTED", "SENT", "DELIVERED"} and record.status.known

    async def lookup():
        return await hook.aget_delivery_report(message_id)

    again = asyncio.run(lookup())
    assert again.outbound_id == message_id and again.recipient == "***1111"


def test_async_send_is_the_twin(sandbox):
    hook = get_sms_hook("bird_default")
    result = asyncio.run(hook.asend_message(subscribers=[ANN, BO], message="async hi", request_id="req-a"))
    assert result.total_sent == 2 and texts(sandbox) == [(ANN, "async hi"), (BO, "async hi")]
