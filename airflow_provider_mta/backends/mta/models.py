"""Pydantic v2 wire models for MTA's ``POST /send`` and the answers the provider reads.

Requests are strict (unknown fields and contradictory recipients are errors that name the field);
responses are tolerant (unknown fields kept, missing optional ones defaulted).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from airflow_provider_mta.core.errors import MtaValidationError
from airflow_provider_mta.core.masking import mask_recipient

RECIPIENT_FIELDS = ("subscribers", "subscriber_ids", "groups", "thread_id", "all_subscribers")
_MTA_DATE_RE = re.compile(r"^(\d{8})T(\d{4,6})(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})?$")


def parse_scheduled_date(value: str | dt.datetime) -> dt.datetime:
    """Parse MTA's ``20250306T193000-0000`` or any ISO 8601 date-time; naive means UTC."""
    if isinstance(value, dt.datetime):
        parsed = value
    else:
        text = value.strip()
        match = _MTA_DATE_RE.match(text)
        if match:
            date, time, zone = match.groups()
            time = time.ljust(6, "0")
            zone = (zone or "+0000").replace("Z", "+0000").replace(":", "")
            parsed = dt.datetime.strptime(f"{date}T{time}{zone}", "%Y%m%dT%H%M%S%z")
        else:
            parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.astimezone(dt.timezone.utc)


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


class SendRequest(_Wire):
    """Body of ``POST /send``. Exactly one kind of recipient and at least one kind of content."""

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

    @field_validator("subscribers", mode="before")
    @classmethod
    def _subscribers_as_strings(cls, value: Any) -> Any:
        if isinstance(value, (str, int)):
            value = [value]
        if isinstance(value, (list, tuple)):
            out = []
            for i, item in enumerate(value):
                if isinstance(item, bool) or not isinstance(item, (str, int)):
                    raise ValueError(f"item {i} must be a phone number or email, got {type(item).__name__}")
                text = str(item).strip()
                if not text:
                    raise ValueError(f"item {i} is empty")
                out.append(text)
            return out
        return value

    @field_validator("properties", mode="before")
    @classmethod
    def _properties_as_strings(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        out: dict[str, Any] = {}
        for key, props in value.items():
            if not isinstance(props, dict):
                raise ValueError(f"properties[{mask_recipient(key)!r}] must be an object of variable -> value")
            out[str(key).strip()] = {str(name): _property_to_str(key, name, v) for name, v in props.items()}
        return out

    @field_validator("tags", mode="before")
    @classmethod
    def _tags_as_strings(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): _scalar_to_str(f"tags[{k!r}]", v) for k, v in value.items()}
        return value

    @field_validator("image")
    @classmethod
    def _image_is_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://\S+$", value.strip()):
            raise ValueError("must be a public http(s) URL")
        return value

    @field_validator("scheduled_date", mode="before")
    @classmethod
    def _scheduled_date_in_future(cls, value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, (str, dt.datetime)):
            raise ValueError("must be an ISO 8601 string like 20250306T193000-0000")
        try:
            when = parse_scheduled_date(value)
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO 8601 date-time like 20250306T193000-0000") from None
        if when <= dt.datetime.now(dt.timezone.utc):
            raise ValueError(f"{format_scheduled_date(when)} is in the past")
        return format_scheduled_date(when)

    @model_validator(mode="after")
    def _check_recipients_and_content(self) -> SendRequest:
        kinds = [name for name in RECIPIENT_FIELDS if _is_set(getattr(self, name))]
        for name in ("subscribers", "subscriber_ids", "groups"):
            if getattr(self, name) == []:
                raise _FieldError(name, "is empty: give at least one recipient")
        if not kinds:
            raise _FieldError(
                "subscribers",
                "no recipient: give one of subscribers, subscriber_ids, groups, thread_id or all_subscribers=True",
            )
        if len(kinds) > 1:
            raise _FieldError(", ".join(kinds), "give exactly one kind of recipient, not several")
        if not (self.message or self.image or self.template_id is not None):
            raise _FieldError("message", "no content: give message, image or template_id")
        if self.link_id is not None and self.template_id is None:
            raise _FieldError("link_id", "is only valid together with template_id")
        if self.subscribers and len(set(self.subscribers)) != len(self.subscribers):
            raise _FieldError("subscribers", "lists the same recipient twice")
        if self.properties is not None:
            if not self.subscribers:
                raise _FieldError("properties", "is keyed by recipient and needs subscribers")
            unknown = sorted(set(self.properties) - set(self.subscribers))
            if unknown:
                names = ", ".join(mask_recipient(k) for k in unknown[:5])
                raise _FieldError("properties", f"has keys that are not in subscribers: {names}")
        if self.repeat is not None and self.scheduled_date is None:
            raise _FieldError("repeat", "needs scheduled_date")
        return self

    @property
    def sends_as_mms(self) -> bool:
        """MTA sends an MMS when ``isMMS`` is true or, by default, when an image is attached."""
        return self.is_mms if self.is_mms is not None else bool(self.image)

    def to_payload(self) -> dict[str, Any]:
        """The JSON body, camelCase, without unset fields."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")

    @classmethod
    def build(cls, *, region: str | None = None, **fields: Any) -> SendRequest:
        """Validate snake_case (or camelCase) fields; raise :class:`MtaValidationError` naming the field.

        With ``region`` (e.g. ``"US"``), phone numbers in ``subscribers`` are first normalized to
        E.164 and ``properties`` re-keyed to match, so both always use exactly the same string.
        """
        if region is not None and fields.get("subscribers") not in (None, [], ()):
            from airflow_provider_mta.core.phones import normalize_subscribers

            fields["subscribers"], fields["properties"] = normalize_subscribers(
                fields["subscribers"], properties=fields.get("properties"), region=region
            )
        try:
            return cls.model_validate(fields)
        except ValidationError as exc:
            raise validation_error(exc) from None


def validation_error(exc: ValidationError) -> MtaValidationError:
    """Turn pydantic's error list into one readable :class:`MtaValidationError` naming the fields."""
    lines = []
    first_field = None
    for err in exc.errors():
        cause = (err.get("ctx") or {}).get("error")
        loc = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if isinstance(cause, _FieldError):
            loc, msg = cause.field, str(cause)
        loc = loc or "request"
        first_field = first_field or loc
        if err["type"] == "extra_forbidden":
            msg = "is not a field of POST /send"
        lines.append(f"{loc}: {msg}")
    return MtaValidationError("invalid MTA send request: " + "; ".join(lines), field=first_field)


class _FieldError(ValueError):
    """A cross-field rule broken; ``field`` says where (pydantic would report the whole model)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _is_set(value: Any) -> bool:
    return value is not None and value is not False


def _property_to_str(key: Any, name: Any, value: Any) -> str:
    """:func:`_scalar_to_str` for ``properties[key][name]``; the common types skip building the field name."""
    kind = type(value)
    if kind is str:
        return value  # type: ignore[no-any-return]
    if (kind is int and -_INT_LIMIT < value < _INT_LIMIT) or (kind is float and math.isfinite(value)):
        return str(value)
    if kind is bool:
        return "true" if value else "false"
    return _scalar_to_str(f"properties[{mask_recipient(key)!r}][{name!r}]", value)


_INT_LIMIT = 10**100


def _scalar_to_str(where: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where} is {value} (not a number); give a value or leave the property out")
    if isinstance(value, int) and not isinstance(value, bool) and not -_INT_LIMIT < value < _INT_LIMIT:
        raise ValueError(f"{where} is an integer of more than 100 digits; send it as text if you mean it")
    if isinstance(value, (bool, int, float)):
        return str(value).lower() if isinstance(value, bool) else str(value)
    if value is None:
        raise ValueError(f"{where} is null")
    raise ValueError(f"{where} must be text or a number, got {type(value).__name__}")


class _Tolerant(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")


class SendResult(_Tolerant):
    """What ``POST /send`` answered. ``already_sent`` is true when MTA said 409 for this request id."""

    message_id: str | None = None
    total_sent: int = 0
    total_failed_international_recipients: int = 0
    outbound_ids: list[int] = Field(default_factory=list)
    message: str | None = None
    request_id: str | None = None
    already_sent: bool = False

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
