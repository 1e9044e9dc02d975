"""core/webhook_parsing.py: JSON or MalformedBody, tolerant numbers and times, keyword consent events."""

from __future__ import annotations

import pytest

from airflow_provider_mta.backends.bird.webhook_events import parse_events as bird_events
from airflow_provider_mta.backends.mta.webhook_events import parse_events as mta_events
from airflow_provider_mta.backends.telnyx.webhook_events import parse_events as telnyx_events
from airflow_provider_mta.core.sms_event import SmsEvent
from airflow_provider_mta.core.webhook_parsing import MalformedBody, load_json, phone, unix_time, with_keyword_events


@pytest.mark.parametrize("body", [b"", b"{", b"\xff\xfe\x00", b"nope"])
def test_not_json_is_malformed_and_the_message_does_not_quote_it(body):
    with pytest.raises(MalformedBody, match="is not JSON") as caught:
        load_json(body)
    assert "nope" not in str(caught.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-12-06T17:00:00.000Z", 1796576400.0), ("2026-12-06T12:00:00-05:00", 1796576400.0),
        ("2026-12-06T17:00:00", 1796576400.0), (1796576400, 1796576400.0),
        ("20250306T193000-0000x", None), ("", None), (None, None), (True, None), ({}, None),
    ],
)  # fmt: skip
def test_unix_time(value, expected):
    assert unix_time(value) == expected


def test_phone_normalizes_and_keeps_what_is_not_a_number():
    assert phone("(317) 555-1111") == "+13175551111" and phone(13175551111) == "+13175551111"
    assert phone("short") == "short" and phone(None) == "" and phone({}) == ""


def test_keyword_events_only_for_a_whole_stop_or_start_text():
    reply = SmsEvent(provider="mta", kind="reply", event_id="e", number="+13175551111", text="please stop by")
    assert with_keyword_events(reply) == [reply]


def test_missing_optional_fields_are_none():
    (mta,) = mta_events(b'{"messageId": 5, "status": "7"}')
    assert (mta.number, mta.status, mta.outcome, mta.external_id) == ("", "DELIVERY_UNCONFIRMED", "failed", None)
    (reply,) = mta_events(b'{"event": "message-reply", "fromNumber": "+13175551111"}')
    assert (reply.text, reply.occurred_at, reply.outbound_id) == (None, None, None)
    body = (
        b'{"data": {"event_type": "message.received", "id": "e1", "payload": {"received_at": "2026-12-06T17:00:00Z"}}}'
    )
    (telnyx,) = telnyx_events(body)
    assert (telnyx.number, telnyx.text, telnyx.occurred_at) == ("", None, 1796576400.0)
    (bird,) = bird_events(b'{"event": "sms.outbound", "payload": {"id": "m1", "status": "sent"}}')
    assert (bird.number, bird.outcome, bird.event_id) == ("", "pending", "m1:sent")
    assert bird_events(b'{"event": "sms.outbound", "payload": {"id": "m1"}}') == []
