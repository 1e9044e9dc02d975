"""What Bird's routes answer: the message object and the channel object.

The sandbox's simulated outcomes (the MTA statuses of :mod:`.statuses`) map onto Bird's words:
``accepted`` until SENT, then ``sent``, then DELIVERED -> ``delivered``; SENDING_FAILED and
SEND_REJECTED -> ``sending_failed`` (they never show ``sent``); DELIVERY_UNCONFIRMED stays ``sent`` (no
delivery report ever comes); every other failure -> ``delivery_failed``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_mta.sandbox.statuses import DELIVERED, SENT, iso

if TYPE_CHECKING:
    from airflow_provider_mta.sandbox.store import MessageRow

SANDBOX_SENDER = "+15550000000"
CHANNEL_PLATFORM = "sms-messagebird"
CHANNEL_NAME = "Sandbox SMS"
SENDING_FAILED_STATUSES = frozenset({5, 13})
DELIVERY_UNCONFIRMED = 7


def bird_word(status: int, final: int) -> str:
    """Bird's word for a message that reached MTA status ``status`` on its way to ``final``."""
    if status < SENT:
        return "accepted"
    if final in SENDING_FAILED_STATUSES:
        return "accepted" if status == SENT else "sending_failed"
    if status == SENT or final == DELIVERY_UNCONFIRMED:
        return "sent"
    return "delivered" if final == DELIVERED else "delivery_failed"


def bird_status(message: MessageRow, now: float) -> str:
    """``accepted``, ``sent``, ``sending_failed``, ``delivered`` or ``delivery_failed`` at ``now``."""
    return bird_word(message.timeline.status(now), message.timeline.final_status)


def contact(contact_id: str, number: str) -> dict[str, str]:
    return {"id": contact_id, "identifierKey": "phonenumber", "identifierValue": number}


def message_object(
    message_id: str,
    channel_id: str,
    contacts: list[dict[str, str]],
    data: dict[str, Any],
    *,
    status: str,
    created_at: float,
    updated_at: float,
) -> dict[str, Any]:
    """The message object of Bird's Channels API; ``data`` holds the ``body`` and ``reference`` as sent."""
    return {
        "id": message_id,
        "channelId": channel_id,
        "sender": {"connector": {"identifierValue": SANDBOX_SENDER}},
        "receiver": {"contacts": contacts},
        "body": data["body"],
        "reference": data.get("reference"),
        "status": status,
        "direction": "outgoing",
        "createdAt": iso(created_at),
        "updatedAt": iso(updated_at),
    }


def bird_updated_at(message: MessageRow, now: float) -> float:
    """When the Bird status last changed: creation, ``sent``, or the final word (if it has one)."""
    timeline, status = message.timeline, bird_status(message, now)
    if status == "accepted":
        return timeline.created_at
    if status == "sent":
        return timeline.sent_at
    return timeline.final_at


def stored_message(message: MessageRow, data: dict[str, Any], now: float) -> dict[str, Any]:
    """``GET .../messages/{id}``: one stored contact's message as the delivery simulation has it now."""
    return message_object(
        message.message_id,
        data["channelId"],
        [contact(data["contactId"], message.recipient)],
        data,
        status=bird_status(message, now),
        created_at=message.timeline.created_at,
        updated_at=bird_updated_at(message, now),
    )


def outbound_event(message: MessageRow, data: dict[str, Any], word: str, at: float) -> dict[str, Any]:
    """The ``sms.outbound`` webhook event: one contact's message reached ``word`` at ``at`` (the sandbox's
    reading of Bird's docs)."""
    return {
        "service": "channels",
        "event": "sms.outbound",
        "payload": {
            "id": message.message_id,
            "channelId": data["channelId"],
            "status": word,
            "reference": data.get("reference"),
            "receiver": {"contacts": [{"identifierValue": message.recipient}]},
            "updatedAt": iso(at),
        },
    }


def inbound_event(event_id: str, channel_id: str, sender: str, receiver: str, text: str, at: float) -> dict[str, Any]:
    """The ``sms.inbound`` webhook event: ``sender`` texted ``text`` to the channel's number ``receiver``."""
    return {
        "service": "channels",
        "event": "sms.inbound",
        "payload": {
            "id": event_id,
            "channelId": channel_id,
            "direction": "incoming",
            "sender": {"contact": {"identifierValue": sender}},
            "receiver": {"connector": {"identifierValue": receiver}},
            "body": {"type": "text", "text": {"text": text}},
            "createdAt": iso(at),
        },
    }


def channel_object(channel_id: str) -> dict[str, str]:
    """``GET /workspaces/{ws}/channels/{ch}``."""
    return {"id": channel_id, "platformId": CHANNEL_PLATFORM, "status": "active", "name": CHANNEL_NAME}
