"""Pydantic v2 wire models for MTA's ``POST /send`` and the answers the provider reads.

Requests are strict (unknown fields and contradictory recipients are errors that name the field);
responses are tolerant (unknown fields kept, missing optional ones defaulted).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from airflow_provider_mta.core.outgoing import FieldError, OutgoingRequest, parse_scheduled_date, validation_error
from airflow_provider_mta.core.outgoing import SendResult as OutgoingResult

__all__ = [
    "RECIPIENT_FIELDS",
    "Repeat",
    "SendRequest",
    "SendResult",
    "VerifyResult",
    "format_scheduled_date",
    "parse_scheduled_date",
    "validation_error",
]

RECIPIENT_FIELDS = ("subscribers", "subscriber_ids", "groups", "thread_id", "all_subscribers")


def format_scheduled_date(value: dt.datetime) -> str:
    """Format a date-time the way MTA's docs show it: ``20250306T193000+0000`` (UTC)."""
    return value.astimezone(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%z")


class _Wire(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class Repeat(_Wire):
    """When a scheduled send repeats. ``frequency``: -1 custom, 0 never, 1 daily ... 5 annually."""

    monday: bool = False
    tuesday: bool = False
    wednesday: bool = False
    thursday: bool = False
    friday: bool = False
    saturday: bool = False
    sunday: bool = False
    type: Literal["week", "month"] = "week"
    frequency: int = Field(ge=-1, le=5)

    @model_validator(mode="after")
    def _custom_needs_a_day(self) -> Repeat:
        days = (
            self.monday,
            self.tuesday,
            self.wednesday,
            self.thursday,
            self.friday,
            self.saturday,
            self.sunday,
        )
        if self.frequency == -1 and not any(days):
            raise ValueError("a CUSTOM (-1) repeat needs at least one weekday set to true")
        return self


class SendRequest(OutgoingRequest):
    """Body of ``POST /send``. Exactly one kind of recipient and at least one kind of content."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")
    api: ClassVar[str] = "MTA"
    endpoint: ClassVar[str] = "POST /send"

    subscribers: list[str] | None = None
    subscriber_ids: list[int] | None = None
    groups: list[int] | None = None
    thread_id: int | None = None
    all_subscribers: bool | None = None
    message: str | None = None
    image: str | None = None
    template_id: int | None = None
    link_id: int | None = None
    is_mms: bool | None = Field(default=None, alias="isMMS")
    header: str | None = None
    footer: str | None = None
    longcode_id: int | None = None
    sender_name: str | None = None
    external_id: str | int | None = None
    tags: dict[str, str] | None = None
    properties: dict[str, dict[str, str]] | None = None
    scheduled_date: str | None = None
    repeat: Repeat | None = None

    @classmethod
    def format_date(cls, value: dt.datetime) -> str:
        return format_scheduled_date(value)

    def check_recipients(self) -> None:
        kinds = [name for name in RECIPIENT_FIELDS if _is_set(getattr(self, name))]
        for name in ("subscribers", "subscriber_ids", "groups"):
            if getattr(self, name) == []:
                raise FieldError(name, "is empty: give at least one recipient")
        if not kinds:
            raise FieldError(
                "subscribers",
                "no recipient: give one of subscribers, subscriber_ids, groups, thread_id or all_subscribers=True",
            )
        if len(kinds) > 1:
            raise FieldError(", ".join(kinds), "give exactly one kind of recipient, not several")
        if self.subscribers and len(set(self.subscribers)) != len(self.subscribers):
            raise FieldError("subscribers", "lists the same recipient twice")

    def check_content(self) -> None:
        if not (self.message or self.image or self.template_id is not None):
            raise FieldError("message", "no content: give message, image or template_id")
        if self.link_id is not None and self.template_id is None:
            raise FieldError("link_id", "is only valid together with template_id")
        if self.repeat is not None and self.scheduled_date is None:
            raise FieldError("repeat", "needs scheduled_date")

    @classmethod
    def build(cls, *, region: str | None = None, **fields: Any) -> SendRequest:
        """Validate snake_case (or camelCase) fields; raise :class:`MtaValidationError` naming the field."""
        request: SendRequest = super().build(region=region, **fields)
        return request


def _is_set(value: Any) -> bool:
    return value is not None and value is not False


class _Tolerant(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")


class SendResult(OutgoingResult):
    """What ``POST /send`` answered. ``already_sent`` is true when MTA said 409 for this request id."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")

    total_failed_international_recipients: int = 0

    @classmethod
    def from_envelope(cls, envelope: Any, *, request_id: str | None, already_sent: bool = False) -> SendResult:
        """Parse ``{"message": ..., "data": {...}}``, tolerating missing or extra fields."""
        data = envelope.get("data") if isinstance(envelope, dict) else None
        data = data if isinstance(data, dict) else {}
        message = envelope.get("message") if isinstance(envelope, dict) else None
        fields = {**data, "message": message if isinstance(message, str) else None}
        fields["outboundIds"] = [int(x) for x in fields.get("outboundIds") or [] if _is_int(x)]
        if fields.get("messageId") is not None:
            fields["messageId"] = str(fields["messageId"])
        for key in ("totalSent", "totalFailedInternationalRecipients"):
            if not _is_int(fields.get(key)):
                fields.pop(key, None)
        return cls.model_validate({**fields, "requestId": request_id, "alreadySent": already_sent})


class VerifyResult(_Tolerant):
    """What ``GET /auth/verify-api-key`` answered: the account's name and email."""

    name: str | None = None
    email: str | None = None
    message: str | None = None

    @classmethod
    def from_envelope(cls, envelope: Any) -> VerifyResult:
        data = envelope.get("data") if isinstance(envelope, dict) else None
        data = data if isinstance(data, dict) else {}
        message = envelope.get("message") if isinstance(envelope, dict) else None
        return cls.model_validate({**data, "message": message if isinstance(message, str) else None})


def _is_int(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, str) and value.isdigit()
