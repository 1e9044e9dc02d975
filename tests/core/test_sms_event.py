"""core/sms_event.py: the vendor-neutral webhook event, its replay key, its masked asset extra, STOP words."""

from __future__ import annotations

import json

import pytest

from airflow_provider_mta.core.sms_event import SmsEvent, is_start_reply, is_stop_reply


@pytest.mark.parametrize(
    "text",
    ["STOP", "stop", " Stop! ", "quit", "END", "revoke", "opt out", "Opt-Out", "OPTOUT", "cancel", "Unsubscribe"],
)
def test_stop_words(text):
    assert is_stop_reply(text) and not is_start_reply(text)


@pytest.mark.parametrize("text", ["YES", "stop by at 5", "don't stop", "", None, "please cancel my order"])
def test_not_stop(text):
    assert not is_stop_reply(text)


def test_start_words():
    assert is_start_reply("START") and is_start_reply("unstop") and not is_start_reply("started")


def test_asset_extra_is_small_json_and_masks_numbers():
    event = SmsEvent(
        provider="mta", kind="reply", event_id="e1", number="+13175551234", outbound_id="77",
        text="YES call me at +1 317 555 9876", occurred_at=1.5,
    )  # fmt: skip
    extra = event.asset_extra()
    assert extra == {
        "provider": "mta", "kind": "reply", "number": "***1234", "outbound_id": "77", "occurred_at": 1.5,
        "text": extra["text"],
    }  # fmt: skip
    assert "555 9876" not in extra["text"] and "9876" in extra["text"]
    assert "+13175551234" not in json.dumps(extra)
    assert event.key == "mta:reply:e1" and event.masked == "***1234"
