"""Bird webhooks through verify_and_parse: HMAC over "timestamp\\nurl\\nsha256(body)" and a 300 s window."""

from __future__ import annotations

import pytest

from airflow_provider_mta.webhooks.receive import WebhookRejected, verify_and_parse
from tests.webhooks.vendor_signing import bird_headers, compact

KEY = "bird-signing-key-0123"
NOW = 1_796_576_400
URL = "https://airflow.example.com/sms-webhooks/bird_default?x=1"


def outbound(status: str) -> bytes:
    payload = {
        "id": "b-msg-1", "channelId": "ch", "status": status, "reference": "ref-9", "direction": "outgoing",
        "receiver": {"contacts": [{"id": "c1", "identifierKey": "phonenumber", "identifierValue": "+13175551111"}]},
        "createdAt": "2026-12-06T16:59:00.000Z", "updatedAt": "2026-12-06T17:00:00.000Z",
    }  # fmt: skip
    return compact({"service": "channels", "event": "sms.outbound", "payload": payload})


def inbound(text: str) -> bytes:
    payload = {
        "id": "b-in-1", "direction": "incoming", "sender": {"contact": {"identifierValue": "+13175552222"}},
        "receiver": {"connector": {"identifierValue": "+15550000000"}},
        "body": {"type": "text", "text": {"text": text}}, "createdAt": "2026-12-06T17:00:00.000Z",
    }  # fmt: skip
    return compact({"service": "channels", "event": "sms.inbound", "payload": payload})


def receive(body: bytes, headers: dict[str, str] | None = None, *, url: str = URL, now: float = NOW):
    signed = bird_headers(KEY, body, URL, NOW) if headers is None else headers
    return verify_and_parse(conn_type="bird", headers=signed, body=body, url=url, secret=KEY, now=now)


@pytest.mark.parametrize(
    ("status", "outcome"),
    [("accepted", "pending"), ("sent", "pending"), ("delivered", "delivered"), ("delivery_failed", "failed")],
)
def test_outbound_status_is_a_delivery(status, outcome):
    (event,) = receive(outbound(status))
    assert (event.provider, event.kind, event.number) == ("bird", "delivery", "+13175551111")
    assert (event.status, event.outcome, event.external_id) == (status, outcome, "ref-9")
    assert (event.outbound_id, event.event_id, event.occurred_at) == ("b-msg-1", f"b-msg-1:{status}", NOW)


def test_each_status_of_a_message_is_its_own_event():
    assert receive(outbound("sent"))[0].key != receive(outbound("delivered"))[0].key


def test_inbound_is_a_reply_and_stop_adds_opt_out():
    (plain,) = receive(inbound("ok"))
    assert (plain.kind, plain.number, plain.text, plain.event_id) == ("reply", "+13175552222", "ok", "b-in-1")
    assert [e.kind for e in receive(inbound("stop"))] == ["reply", "opt_out"]


@pytest.mark.parametrize("payload", [{"event": "sms.other", "payload": {"id": "x"}}, {"event": "sms.inbound"}, []])
def test_json_that_is_no_known_event_gives_no_events(payload):
    assert receive(compact(payload)) == []


@pytest.mark.parametrize(
    ("make_headers", "url", "now", "why"),
    [
        (lambda b: bird_headers("another-key", b, URL, NOW), URL, NOW, "does not match"),
        (lambda b: bird_headers(KEY, b.replace(b"ref-9", b"ref-8"), URL, NOW), URL, NOW, "does not match"),
        (lambda b: bird_headers(KEY, b, URL, NOW), URL.replace("?x=1", ""), NOW, "does not match"),
        (lambda b: bird_headers(KEY, b, URL, NOW), URL, NOW + 301, "s old"),
        (lambda b: {}, URL, NOW, "no messagebird-signature"),
        (lambda b: {"messagebird-signature": bird_headers(KEY, b, URL, NOW)["messagebird-signature"]}, URL, NOW, "no "),
    ],
    ids=["wrong-key", "body-changed", "wrong-url", "stale", "missing-header", "missing-timestamp"],
)
def test_a_bad_or_stale_signature_is_401(make_headers, url, now, why):
    body = outbound("delivered")
    with pytest.raises(WebhookRejected) as caught:
        receive(body, make_headers(body), url=url, now=now)
    assert caught.value.status == 401 and why in caught.value.reason and KEY not in str(caught.value)


def test_a_signed_body_that_is_not_json_is_400():
    with pytest.raises(WebhookRejected) as caught:
        receive(b"\xff\xfe not json")
    assert caught.value.status == 400
