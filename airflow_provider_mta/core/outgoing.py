"""Vendor-neutral types of a send: the outgoing request every backend validates, and its result.

:class:`OutgoingRequest` holds what every SMS API in this package can send: a list of phone numbers,
one message (Liquid placeholders filled per recipient from ``properties``), an optional image,
tags and a scheduled time. Each backend subclasses it with its own wire names and its own extra
fields (MTA's ``groups`` or ``template_id``, say); a field a backend does not list is refused by
name before anything is sent. :class:`SendResult` is what a backend's send answered, in one shape.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from airflow_provider_mta.core.errors import MtaValidationError
from airflow_provider_mta.core.masking import mask_recipient

_MTA_DATE_RE = re.compile(r"^(\d{8})T(\d{4,6})(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})?$")
_INT_LIMIT = 10**100


def parse_scheduled_date(value: str | dt.datetime) -> dt.datetime:
    """Parse ``20250306T193000-0000`` (MTA's compact form) or any ISO 8601 date-time; naive means UTC."""
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


def iso_utc(value: dt.datetime) -> str:
    """``2025-03-06T19:30:00Z``: RFC 3339 in UTC, the form most APIs take."""
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class OutgoingRequest(BaseModel):
    """One send: ``subscribers`` (phone numbers), ``message`` and/or ``image``, optional properties and tags.

    Strict: unknown fields and contradictory recipients are errors that name the field. Subclasses set
    :attr:`api` and :attr:`endpoint` (used in error text) and may override :meth:`format_date`.
    """

    model_config = ConfigDict(populate_by_name=True, extra="forbid")
    api: ClassVar[str] = "SMS"
    endpoint: ClassVar[str] = "the send request"

    subscribers: list[str] | None = None
    message: str | None = None
    image: str | None = None
    is_mms: bool | None = None
    external_id: str | int | None = None
    tags: dict[str, str] | None = None
    properties: dict[str, dict[str, str]] | None = None
    scheduled_date: str | None = None

    @classmethod
    def format_date(cls, value: dt.datetime) -> str:
        """How this API writes a scheduled date-time (UTC)."""
        return iso_utc(value)

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
            raise ValueError("must be an ISO 8601 string like 2025-03-06T19:30:00Z")
        try:
            when = parse_scheduled_date(value)
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO 8601 date-time like 2025-03-06T19:30:00Z") from None
        if when <= dt.datetime.now(dt.timezone.utc):
            raise ValueError(f"{cls.format_date(when)} is in the past")
        return cls.format_date(when)

    @model_validator(mode="after")
    def _check_request(self) -> OutgoingRequest:
        self.check_recipients()
        self.check_content()
        self.check_properties()
        return self

    def check_recipients(self) -> None:
        """At least one phone number, none twice (subclasses with other kinds of recipient override)."""
        if not self.subscribers:
            raise FieldError("subscribers", "no recipient: give at least one phone number")
        if len(set(self.subscribers)) != len(self.subscribers):
            raise FieldError("subscribers", "lists the same recipient twice")

    def check_content(self) -> None:
        if not (self.message or self.image):
            raise FieldError("message", "no content: give message or image")

    def check_properties(self) -> None:
        if self.properties is None:
            return
        if not self.subscribers:
            raise FieldError("properties", "is keyed by recipient and needs subscribers")
        unknown = sorted(set(self.properties) - set(self.subscribers))
        if unknown:
            names = ", ".join(mask_recipient(k) for k in unknown[:5])
            raise FieldError("properties", f"has keys that are not in subscribers: {names}")

    @property
    def sends_as_mms(self) -> bool:
        """An MMS when ``is_mms`` is true or, by default, when an image is attached."""
        return self.is_mms if self.is_mms is not None else bool(self.image)

    def to_payload(self) -> dict[str, Any]:
        """The JSON body in the API's field names, without unset fields."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")

    def texts(self) -> list[tuple[str, str | None]]:
        """Each recipient with the text it receives: ``message`` with its Liquid filled from its properties."""
        from airflow_provider_mta.core import liquid

        subscribers = self.subscribers or []
        if not self.message:
            return [(s, None) for s in subscribers]
        if not liquid.variables(self.message) and "{%" not in self.message:
            return [(s, self.message) for s in subscribers]
        properties = self.properties or {}
        out: list[tuple[str, str | None]] = []
        for s in subscribers:
            try:
                out.append((s, liquid.render(self.message, properties.get(s, {}))))
            except Exception as exc:  # an undefined property or a filter failing on this recipient's values
                raise MtaValidationError(
                    f"message: for {mask_recipient(s)}, it does not render: {str(exc).splitlines()[0]}; "
                    "nothing was sent to them",
                    field="message",
                ) from None
        return out

    @classmethod
    def build(cls, *, region: str | None = None, **fields: Any) -> Any:
        """Validate snake_case fields; raise :class:`MtaValidationError` naming the field.

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
            raise validation_error(exc, api=cls.api, endpoint=cls.endpoint) from None


def validation_error(exc: ValidationError, *, api: str = "MTA", endpoint: str = "POST /send") -> MtaValidationError:
    """Turn pydantic's error list into one readable :class:`MtaValidationError` naming the fields."""
    lines = []
    first_field = None
    for err in exc.errors():
        cause = (err.get("ctx") or {}).get("error")
        loc = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if isinstance(cause, FieldError):
            loc, msg = cause.field, str(cause)
        loc = loc or "request"
        first_field = first_field or loc
        if err["type"] == "extra_forbidden":
            msg = f"is not a field of {endpoint}"
        lines.append(f"{loc}: {msg}")
    return MtaValidationError(f"invalid {api} send request: " + "; ".join(lines), field=first_field)


class FieldError(ValueError):
    """A cross-field rule broken; ``field`` says where (pydantic would report the whole model)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


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


class SendResult(BaseModel):
    """What one send answered, whichever API sent it.

    ``outbound_ids`` are the API's ids of each recipient's message (MTA's integers, Telnyx's UUIDs).
    ``already_sent``: the API said this request id was sent before. ``unknown``: recipients whose text
    may or may not have gone out (an ambiguous failure that is never resent); ``opted_out``: refused by
    the API because the number texted STOP; ``failed``: refused for another reason (``failures`` says why,
    numbers masked).
    """

    model_config = ConfigDict(populate_by_name=True, extra="allow")

    provider: str = "mta"
    message_id: str | None = None
    total_sent: int = 0
    outbound_ids: list[int | str] = Field(default_factory=list)
    message: str | None = None
    request_id: str | None = None
    already_sent: bool = False
    unknown: list[str] = Field(default_factory=list)
    opted_out: list[str] = Field(default_factory=list)
    failures: list[dict[str, Any]] = Field(default_factory=list)
    parts: int | None = None
    cost: float | None = None
    currency: str | None = None

    def summary(self) -> dict[str, Any]:
        """The XCom keys every send adds: provider and the counts of unknown, opted-out and failed recipients."""
        return {
            "provider": self.provider,
            "unknown": len(self.unknown),
            "unknown_recipients": self.unknown[:50],
            "opted_out_at_send": len(self.opted_out),
            "failed": len(self.failures),
            "failures": self.failures[:50],
            "parts": self.parts,
            "cost": self.cost,
            "currency": self.currency,
        }
