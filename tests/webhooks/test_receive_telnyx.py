"""Telnyx webhooks through verify_and_parse: Ed25519 over "timestamp|body" and a 300 s window, then the events."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from airflow_provider_mta.webhooks.receive import WebhookRejected, verify_and_parse
from tests.webhooks.vendor_signing import compact, telnyx_headers, telnyx_public_key

KEY = Ed25519PrivateKey.generate()
PUBLIC = telnyx_public_key(KEY)
NOW = 1_796_576_400
URL = "https://airflow.example.com/sms-webhooks/telnyx_default"
EVENT_ID = "0ccc7b54-4df3-4bca-a65a-3da1ecc777f0"


def envelope(event_type: str, payload: dict[str, object]) -> bytes:
    data = {"event_type": event_type, "id": EVENT_ID, "occurred_at": "2026-12-06T17:00:00.000Z", "payload": payload}
    return compact({"data": {**data, "record_type": "event"}, "meta": {"attempt": 1, "delivered_to": URL}})


def finalized(*statuses: str) -> bytes:
    to = [{"phone_number": f"+1317555111{i}", "status": s, "carrier": "c"} for i, s in enumerate(statuses)]
    return envelope("message.finalized", {"id": "msg-1", "direction": "outbound", "to": to, "text": "hi"})


def received(text: str) -> bytes:
    payload = {
        "id": "in-1", "direction": "inbound", "from": {"phone_number": "+13175552222"},
        "to": [{"phone_number": "+13125550100"}], "text": text, "received_at": "2026-12-06T16:59:59.000Z",
    }  # fmt: skip
    return envelope("message.received", payload)


def receive(body: bytes, headers: dict[str, str] | None = None, *, now: float = NOW, secret: str | None = PUBLIC):
    signed = telnyx_headers(KEY, body, NOW) if headers is None else headers
    return verify_and_parse(conn_type="telnyx", headers=signed, body=body, url=URL, secret=secret, now=now)


def test_finalized_gives_one_delivery_per_recipient():
    first, second = receive(finalized("delivered", "delivery_failed"))
    assert (first.kind, first.number, first.outbound_id) == ("delivery", "+13175551110", "msg-1")
    assert (first.status, first.outcome, first.event_id) == ("delivered", "delivered", EVENT_ID)
    assert (second.number, second.outcome, second.event_id) == ("+13175551111", "failed", f"{EVENT_ID}#1")
    assert first.occurred_at == NOW


def test_sent_is_pending():
    body = envelope("message.sent", {"id": "msg-1", "to": [{"phone_number": "+13175551110", "status": "sent"}]})
    (event,) = receive(body)
    assert (event.status, event.outcome) == ("sent", "pending")


def test_received_is_a_reply_and_stop_adds_opt_out_with_its_own_id():
    (plain,) = receive(received("sounds good"))
    assert (plain.kind, plain.number, plain.text, plain.outbound_id) == ("reply", "+13175552222", "sounds good", "in-1")
    reply, opt_out = receive(received("STOP"))
    assert (reply.event_id, opt_out.kind, opt_out.event_id) == (EVENT_ID, "opt_out", f"{EVENT_ID}:opt_out")


@pytest.mark.parametrize(
    "payload", [{"data": {"event_type": "message.unknown", "id": EVENT_ID, "payload": {}}}, {"data": []}, {}, 3]
)
def test_json_that_is_no_known_event_gives_no_events(payload):
    assert receive(compact(payload)) == []


@pytest.mark.parametrize(
    ("make_headers", "now", "why"),
    [
        (lambda b: telnyx_headers(Ed25519PrivateKey.generate(), b, NOW), NOW, "does not match"),
        (lambda b: telnyx_headers(KEY, b.replace(b"delivered", b"delivereD"), NOW), NOW, "does not match"),
        (lambda b: telnyx_headers(KEY, b, NOW), NOW + 301, "s old"),
        (lambda b: telnyx_headers(KEY, b, NOW), NOW - 301, "in the future"),
        (lambda b: {}, NOW, "no telnyx-signature-ed25519"),
        (lambda b: {"telnyx-signature-ed25519": telnyx_headers(KEY, b, NOW)["telnyx-signature-ed25519"]}, NOW, "no "),
    ],
    ids=["wrong-key", "body-changed", "stale", "future", "missing-header", "missing-timestamp"],
)
def test_a_bad_or_stale_signature_is_401(make_headers, now, why):
    body = finalized("delivered")
    with pytest.raises(WebhookRejected) as caught:
        receive(body, make_headers(body), now=now)
    assert caught.value.status == 401 and why in caught.value.reason


def test_a_public_key_that_is_not_one_is_401_naming_the_extra():
    with pytest.raises(WebhookRejected) as caught:
        receive(finalized("delivered"), secret="not-a-key")
    assert caught.value.status == 401 and "webhook_public_key" in caught.value.reason
    assert "not-a-key" not in str(caught.value)


def test_a_signed_body_that_is_not_json_is_400():
    with pytest.raises(WebhookRejected) as caught:
        receive(b"<html>oops</html>")
    assert caught.value.status == 400
