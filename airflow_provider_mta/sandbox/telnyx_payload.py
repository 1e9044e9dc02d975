"""What ``/v2`` answers and posts: the message resource (the SDK's ``OutboundMessagePayload``), the
``message.sent``/``message.finalized`` event envelope and the balance.

The sandbox's simulated outcomes (the MTA statuses of :mod:`.statuses`) map onto Telnyx's words:
DELIVERED -> ``delivered``; SENDING_FAILED and SEND_REJECTED -> ``sending_failed`` (they show
``sending``, not ``sent``, before that); DELIVERY_UNCONFIRMED -> ``delivery_unconfirmed``; every other
failure -> ``delivery_failed`` with a Telnyx delivery error code in ``errors``.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from airflow_provider_mta.sandbox.statuses import DELIVERED, SENT, iso

if TYPE_CHECKING:
    from airflow_provider_mta.sandbox.store import MessageRow

SANDBOX_PROFILE_ID = "5a4db0c0-0000-4000-8000-000000000001"
SANDBOX_ORGANIZATION_ID = "5a4db0c0-0000-4000-8000-000000000002"
SANDBOX_POOL_NUMBER = "+13125550100"
PRICE_PER_PART = Decimal("0.0040")
STARTING_BALANCE = Decimal("100.0000")
CURRENCY = "USD"

SENDING_FAILED_STATUSES = frozenset({5, 13})
# final MTA status -> (Telnyx status, delivery error code and title or None)
FINAL_STATUSES: dict[int, tuple[str, tuple[str, str] | None]] = {
    DELIVERED: ("delivered", None),
    5: ("sending_failed", ("40008", "Undeliverable")),
    6: ("delivery_failed", ("40008", "Undeliverable")),
    7: ("delivery_unconfirmed", None),
    8: ("delivery_failed", ("40004", "Rejected by destination")),
    9: ("delivery_failed", ("40006", "Recipient server unavailable")),
    10: ("delivery_failed", ("40012", "Invalid destination number")),
    11: ("delivery_failed", ("40300", "Blocked due to STOP message")),
    12: ("delivery_failed", ("40001", "Not routable")),
    13: ("sending_failed", ("40013", "Invalid source number")),
}
LANDLINE = 12


def telnyx_status(message: MessageRow, now: float) -> str:
    """``queued`` until SENT (a scheduled message too), then ``sent``/``sending``, then the final word."""
    status = message.timeline.status(now)
    final = message.timeline.final_status
    if status < SENT:
        return "queued"
    if status == SENT:
        return "sending" if final in SENDING_FAILED_STATUSES else "sent"
    return FINAL_STATUSES.get(final, ("delivery_failed", None))[0]


def cost_of(parts: int) -> dict[str, str]:
    return {"amount": str(PRICE_PER_PART * parts), "currency": CURRENCY}


def message_payload(message: MessageRow, data: dict[str, Any], now: float, *, accepted: bool = False) -> dict[str, Any]:
    """The message resource as ``GET /v2/messages/{id}`` answers it at ``now``; with ``accepted``, as
    ``POST /v2/messages`` answers it (``queued``, whatever the simulated timeline)."""
    timeline = message.timeline
    status = "queued" if accepted else telnyx_status(message, now)
    reached = SENT - 1 if accepted else timeline.status(now)
    final = status not in ("queued", "sent", "sending")
    errors: list[dict[str, Any]] = []
    detail = FINAL_STATUSES.get(timeline.final_status, ("delivery_failed", None))[1]
    if final and detail is not None:
        errors.append({"code": detail[0], "title": detail[1], "detail": f"Sandbox outcome: {detail[1]}."})
    line_type = "Wireline" if timeline.final_status == LANDLINE else "Wireless"
    sender = data.get("from") or SANDBOX_POOL_NUMBER
    return {
        "record_type": "message",
        "direction": "outbound",
        "id": message.message_id,
        "type": data["type"],
        "messaging_profile_id": data.get("messaging_profile_id") or SANDBOX_PROFILE_ID,
        "organization_id": SANDBOX_ORGANIZATION_ID,
        "from": {"phone_number": sender, "carrier": "Telnyx Sandbox", "line_type": "VoIP"},
        "to": [
            {"phone_number": message.recipient, "status": status, "carrier": "Sandbox Carrier", "line_type": line_type}
        ],
        "cc": [],
        "text": data.get("text"),
        "subject": data.get("subject"),
        "media": [{"url": u, "content_type": None, "sha256": None, "size": None} for u in data["media_urls"]],
        "webhook_url": data.get("webhook_url"),
        "webhook_failover_url": data.get("webhook_failover_url"),
        "encoding": data["encoding"],
        "parts": message.parts,
        "tags": [],
        "cost": data["cost"],
        "received_at": iso(timeline.created_at),
        "sent_at": iso(timeline.sent_at) if reached >= SENT and status != "sending_failed" else None,
        "completed_at": iso(timeline.final_at) if final else None,
        "valid_until": None,
        "wait_seconds": 0.0,
        "errors": errors,
    }


def inbound_payload(sender: str, receiver: str, text: str, at: float) -> dict[str, Any]:
    """The message resource of a ``message.received`` event: ``sender`` texted ``text`` to ``receiver``."""
    return {
        "id": str(uuid.uuid4()),
        "record_type": "message",
        "direction": "inbound",
        "type": "SMS",
        "from": {"phone_number": sender},
        "to": [{"phone_number": receiver, "status": "webhook_delivered"}],
        "text": text,
        "received_at": iso(at),
    }


def event_envelope(event_type: str, payload: dict[str, Any], occurred_at: float, url: str) -> dict[str, Any]:
    """Telnyx's webhook envelope around one message resource; ``url`` is where it is posted."""
    return {
        "data": {
            "event_type": event_type,
            "id": str(uuid.uuid4()),
            "occurred_at": iso(occurred_at),
            "payload": payload,
            "record_type": "event",
        },
        "meta": {"attempt": 1, "delivered_to": url},
    }


def balance_payload(spent: list[str]) -> dict[str, Any]:
    """``GET /v2/balance``: a 100 USD starting balance, less the cost of every ``/v2`` message."""
    balance = STARTING_BALANCE - sum((Decimal(a) for a in spent), Decimal(0))
    credit_limit = Decimal("0.0000")
    return {
        "data": {
            "record_type": "balance",
            "balance": str(balance),
            "credit_limit": str(credit_limit),
            "available_credit": str(balance + credit_limit),
            "currency": CURRENCY,
            "pending": "0.0000",
        }
    }
