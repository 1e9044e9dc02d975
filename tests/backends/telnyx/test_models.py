"""The ``POST /messages`` body and the tolerant parsing of Telnyx's answers."""

from __future__ import annotations

from airflow_provider_mta.backends.telnyx.models import TelnyxBalance, TelnyxSent, message_payload


def test_payload_uses_from_and_leaves_out_nones():
    assert message_payload(to="+13175551111", text="hi", sender=None, messaging_profile_id="prof") == {
        "messaging_profile_id": "prof",
        "to": "+13175551111",
        "text": "hi",
    }
    full = message_payload(
        to="+13175551111",
        text=None,
        sender="+18445550001",
        messaging_profile_id=None,
        media_urls=["https://x.test/a.png"],
        subject="S",
        type="MMS",
        webhook_url="https://hooks.test/t",
        send_at="2030-01-01T00:00:00Z",
    )
    assert full == {
        "from": "+18445550001",
        "to": "+13175551111",
        "media_urls": ["https://x.test/a.png"],
        "subject": "S",
        "type": "MMS",
        "webhook_url": "https://hooks.test/t",
        "send_at": "2030-01-01T00:00:00Z",
    }


def test_sent_tolerates_missing_and_odd_fields():
    sent = TelnyxSent.from_envelope({"data": {"id": "m", "parts": "x", "cost": None, "to": []}})
    assert sent == TelnyxSent(id="m")
    assert TelnyxSent.from_envelope({"data": {"id": "m", "cost": {"amount": "junk"}, "parts": 2.0}}) == TelnyxSent(
        id="m", parts=2
    )


def test_sent_needs_an_id():
    for envelope in (None, [], {"data": None}, {"data": {"id": ""}}, {"errors": []}):
        assert TelnyxSent.from_envelope(envelope) is None


def test_balance_tolerates_missing_fields():
    assert TelnyxBalance.from_envelope({"data": {"balance": "1.5"}}) == TelnyxBalance(balance=1.5)
    assert TelnyxBalance.from_envelope("nope") == TelnyxBalance()
