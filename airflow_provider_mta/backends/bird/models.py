"""Bird's wire shapes: the Channels API message body and the tolerant answers the client reads.

Answers ignore unknown fields and default every missing optional one; only the ``id`` of a sent message is
required.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

IDENTIFIER_KEY = "phonenumber"


def message_payload(*, to: str, text: str) -> dict[str, Any]:
    """The JSON body of ``POST .../messages`` for one phone number and its text (without ``reference``)."""
    return {
        "receiver": {"contacts": [{"identifierKey": IDENTIFIER_KEY, "identifierValue": to}]},
        "body": {"type": "text", "text": {"text": text}},
    }


class _Tolerant(BaseModel):
    model_config = ConfigDict(extra="ignore")


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _object(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


class BirdSent(_Tolerant):
    """What ``POST .../messages`` answered (202): the message id and its first status (``accepted``)."""

    id: str
    status: str | None = None

    @classmethod
    def from_answer(cls, answer: Any) -> BirdSent | None:
        """Parse the message object; None when it has no ``id`` (the send cannot be tracked)."""
        message = _object(answer)
        message_id = _text(message.get("id"))
        if message_id is None:
            return None
        return cls(id=message_id, status=_text(message.get("status")))


class BirdChannel(_Tolerant):
    """What ``GET /workspaces/{ws}/channels/{ch}`` answered (the connection's Test)."""

    id: str | None = None
    platform_id: str | None = None
    status: str | None = None
    name: str | None = None

    @classmethod
    def from_answer(cls, answer: Any) -> BirdChannel:
        channel = _object(answer)
        return cls(
            id=_text(channel.get("id")),
            platform_id=_text(channel.get("platformId")),
            status=_text(channel.get("status")),
            name=_text(channel.get("name")),
        )


def receiver_of(message: Any) -> str | None:
    """``receiver.contacts[0].identifierValue`` of a message object or payload (the number is **not masked**)."""
    contacts = _object(_object(message).get("receiver")).get("contacts")
    first = contacts[0] if isinstance(contacts, list) and contacts else None
    return _text(_object(first).get("identifierValue"))


def message_status(message: Any) -> tuple[str | None, str | None]:
    """``(id, status)`` of a message object."""
    message = _object(message)
    return _text(message.get("id")), _text(message.get("status"))
