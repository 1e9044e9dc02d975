"""MTA webhooks through verify_and_parse: X-Signature checked, then delivery-status, message-reply, number-opt-in."""

from __future__ import annotations

import hashlib

import pytest

from airflow_provider_mta.webhooks.receive import WebhookRejected, verify_and_parse
from tests.webhooks.vendor_signing import compact, mta_headers

SECRET = "whsec-mta-0123456789"
URL = "https://airflow.example.com/sms-webhooks/mta_default"
DELIVERY = {
    "destinationNumber": "+13175551111", "messageId": 4242, "externalId": "otp_42", "status": 4,
    "tags": {"requestId": "r-1"}, "senderName": None, "type": "sms", "somethingNew": [1],
}  # fmt: skip


def receive(body: bytes, headers: dict[str, str] | None = None, secret: str | None = SECRET):
    signed = mta_headers(SECRET, body) if headers is None else headers
    return verify_and_parse(conn_type="mta", headers=signed, body=body, url=URL, secret=secret)


def reply(text: str, **extra: object) -> bytes:
    return compact(
        {
            "event": "message-reply", "fromNumber": "+13175552222", "toNumber": "+13125550100", "message": text,
            "threadId": 9, "replyId": 77, "receivedAt": "2026-12-06T17:00:00.000Z", **extra,
        }
    )  # fmt: skip


def test_delivery_status_is_one_delivery_event():
    body = compact(DELIVERY)
    (event,) = receive(body)
    assert (event.provider, event.kind, event.number) == ("mta", "delivery", "+13175551111")
    assert (event.outbound_id, event.external_id, event.message_id) == ("4242", "otp_42", None)
    assert (event.status, event.outcome, event.occurred_at) == ("DELIVERED", "delivered", None)
    assert event.event_id == hashlib.sha256(body).hexdigest()


@pytest.mark.parametrize(("status", "name", "outcome"), [(3, "SENT", "pending"), (10, "INVALID_NUMBER", "failed")])
def test_delivery_status_numbers_are_named_and_classed(status, name, outcome):
    (event,) = receive(compact({**DELIVERY, "status": status, "externalId": None}))
    assert (event.status, event.outcome, event.external_id) == (name, outcome, None)


def test_a_replayed_identical_body_is_the_same_event_and_another_status_is_not():
    body = compact(DELIVERY)
    assert receive(body)[0].key == receive(body)[0].key
    assert receive(compact({**DELIVERY, "status": 3}))[0].key != receive(body)[0].key


def test_a_reply_reads_sender_text_and_time():
    (event,) = receive(reply("yes please"))
    assert (event.kind, event.number, event.text, event.outbound_id) == ("reply", "+13175552222", "yes please", "77")
    assert event.occurred_at == 1796576400.0


def test_a_stop_reply_gives_reply_and_opt_out_a_start_reply_opt_in():
    events = receive(reply(" Stop! "))
    assert [e.kind for e in events] == ["reply", "opt_out"]
    assert {e.number for e in events} == {"+13175552222"} and len({e.key for e in events}) == 2
    assert [e.kind for e in receive(reply("UNSTOP"))] == ["reply", "opt_in"]


@pytest.mark.parametrize(("flag", "kind"), [(False, "opt_out"), (True, "opt_in")])
def test_number_opt_in_event(flag, kind):
    body = compact({"event": "number-opt-in", "number": "3175553333", "optIn": flag, "keyword": "STOP"})
    (event,) = receive(body)
    assert (event.kind, event.number, event.text) == (kind, "+13175553333", "STOP")


@pytest.mark.parametrize(
    "payload",
    [{"event": "message-send", "messageId": "m"}, {"event": "number-opt-in", "number": "+13175553333"}, [1, 2], "x"],
)
def test_json_that_is_no_known_event_gives_no_events(payload):
    assert receive(compact(payload)) == []


def test_header_names_are_case_insensitive_and_hex_case_is_ignored():
    body = compact(DELIVERY)
    signature = mta_headers(SECRET, body)["X-Signature"].upper()
    assert len(receive(body, {"x-signature": signature})) == 1


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        (lambda body: mta_headers("another-secret", body), "does not match"),
        (lambda body: mta_headers(SECRET, body.replace(b"4242", b"4243")), "does not match"),
        (lambda body: {}, "no X-Signature"),
        (lambda body: {"X-Signature": ""}, "no X-Signature"),
    ],
    ids=["wrong-key", "body-changed", "missing-header", "empty-header"],
)
def test_a_bad_signature_is_401(headers, why):
    body = compact(DELIVERY)
    with pytest.raises(WebhookRejected) as caught:
        receive(body, headers(body))
    assert caught.value.status == 401 and why in caught.value.reason and SECRET not in str(caught.value)


def test_a_signed_body_that_is_not_json_is_400():
    body = b'{"destinationNumber": "+13175551111", '
    with pytest.raises(WebhookRejected) as caught:
        receive(body)
    assert caught.value.status == 400 and "not JSON" in caught.value.reason and "3175551111" not in str(caught.value)
