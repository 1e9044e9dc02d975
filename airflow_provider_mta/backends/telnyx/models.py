"""Telnyx's wire shapes: the ``POST /messages`` body and the tolerant answers the client reads.

Answers ignore unknown fields and default every missing optional one; only ``data.id`` of a sent message is
required. Telnyx gives money as decimal strings (``"0.0051"``); they are read as floats here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict


def message_payload(
    *,
    to: str,
    text: str | None,
    sender: str | None,
    messaging_profile_id: str | None,
    media_urls: list[str] | None = None,
    subject: str | None = None,
    type: str | None = None,
    webhook_url: str | None = None,
    send_at: str | None = None,
) -> dict[str, Any]:
    """The JSON body of ``POST /messages``: ``sender`` goes in ``from``; None values are left out."""
    fields: dict[str, Any] = {
        "from": sender,
        "messaging_profile_id": messaging_profile_id,
        "to": to,
        "text": text,
        "media_urls": list(media_urls) if media_urls is not None else None,
        "subject": subject,
        "type": type,
        "webhook_url": webhook_url,
        "send_at": send_at,
    }
    return {key: value for key, value in fields.items() if value is not None}


class _Tolerant(BaseModel):
    model_config = ConfigDict(extra="ignore")


def _data(envelope: Any) -> Mapping[str, Any]:
    data = envelope.get("data") if isinstance(envelope, Mapping) else None
    return data if isinstance(data, Mapping) else {}


def _first_recipient(data: Mapping[str, Any]) -> Mapping[str, Any]:
    to = data.get("to")
    first = to[0] if isinstance(to, list) and to else to
    return first if isinstance(first, Mapping) else {}


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value) if value is not None and value != "" else None
    except (TypeError, ValueError):
        return None


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


class TelnyxSent(_Tolerant):
    """What ``POST /messages`` answered. ``replayed``: Telnyx answered from its idempotency record, not a new send.

    ``status`` is the first recipient's (``to[0].status``); ``cost``/``currency`` come from ``cost``, which is
    often null until the message is final.
    """

    id: str
    status: str | None = None
    parts: int | None = None
    cost: float | None = None
    currency: str | None = None
    encoding: str | None = None
    replayed: bool = False

    @classmethod
    def from_envelope(cls, envelope: Any, *, replayed: bool = False) -> TelnyxSent | None:
        """Parse ``{"data": {...}}``; None when there is no ``data.id`` (the send cannot be tracked)."""
        data = _data(envelope)
        message_id = _text(data.get("id"))
        if message_id is None:
            return None
        cost = data.get("cost")
        parts = _number(data.get("parts"))
        return cls(
            id=message_id,
            status=_text(_first_recipient(data).get("status")),
            parts=int(parts) if parts is not None and parts.is_integer() else None,
            cost=_number(cost.get("amount")) if isinstance(cost, Mapping) else _number(cost),
            currency=_text(cost.get("currency")) if isinstance(cost, Mapping) else None,
            encoding=_text(data.get("encoding")),
            replayed=replayed,
        )


class TelnyxBalance(_Tolerant):
    """What ``GET /balance`` answered: the balance, the credit still available, and their currency."""

    balance: float | None = None
    available_credit: float | None = None
    currency: str | None = None

    @classmethod
    def from_envelope(cls, envelope: Any) -> TelnyxBalance:
        data = _data(envelope)
        return cls(
            balance=_number(data.get("balance")),
            available_credit=_number(data.get("available_credit")),
            currency=_text(data.get("currency")),
        )


def first_recipient(envelope: Any) -> tuple[str | None, str | None]:
    """``(to[0].phone_number, to[0].status)`` of a message answer (the number is **not masked**)."""
    recipient = _first_recipient(_data(envelope))
    return _text(recipient.get("phone_number")), _text(recipient.get("status"))


def message_id_of(envelope: Any) -> str | None:
    """``data.id`` of a message answer."""
    return _text(_data(envelope).get("id"))
