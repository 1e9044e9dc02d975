"""Validation of a ``POST /v2/messages`` body, as strict as Telnyx: what Telnyx refuses, this refuses.

Each refusal is a :class:`~.telnyx_errors.TelnyxError` with Telnyx's code and a JSON pointer to the
field. Unknown fields are refused (Telnyx does not document what it does with them, and the sandbox
is never more lenient). Text is measured with Telnyx's rules: its GSM-7 "safe" set (printable ASCII
without the grave accent, plus newline and carriage return; ``~^|{}[]\\`` take two septets), else
UCS-2 in UTF-16 code units; 160/153 septets or 70/67 units per part; at most 10 parts.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import uuid
from dataclasses import dataclass
from typing import Any

import phonenumbers

from airflow_provider_mta.sandbox.telnyx_errors import TelnyxError, bad_request

FIELDS = frozenset(
    {
        "to",
        "from",
        "messaging_profile_id",
        "text",
        "media_urls",
        "subject",
        "type",
        "webhook_url",
        "webhook_failover_url",
        "use_profile_webhooks",
        "send_at",
        "encoding",
        "auto_detect",
    }
)
ENCODINGS = ("auto", "gsm7", "ucs2")
MAX_PARTS = 10
MAX_URL_LENGTH = 2000
GSM7_SAFE = frozenset(chr(c) for c in range(0x20, 0x7F) if c != 0x60) | {"\n", "\r"}
GSM7_ESCAPED = frozenset("~^|{}[]\\")
_ALPHA_SENDER = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")
_SHORT_CODE = re.compile(r"^[0-9]{5,6}$")


@dataclass(frozen=True)
class TextSize:
    """How Telnyx would encode a text: ``GSM-7`` or ``UCS-2``, its length in that encoding, its parts."""

    encoding: str
    units: int
    parts: int


@dataclass(frozen=True)
class TelnyxSend:
    """A valid ``POST /v2/messages`` body, normalized."""

    to: str
    from_: str | None
    messaging_profile_id: str | None
    text: str | None
    subject: str | None
    media_urls: tuple[str, ...]
    type: str
    webhook_url: str | None
    webhook_failover_url: str | None
    use_profile_webhooks: bool
    send_at: float | None
    size: TextSize


def is_gsm7(text: str) -> bool:
    return all(c in GSM7_SAFE for c in text)


def measure(text: str, encoding: str = "auto") -> TextSize:
    """The encoding and parts Telnyx uses for ``text``; ``encoding`` is the request's (auto/gsm7/ucs2)."""
    if encoding != "ucs2" and is_gsm7(text):
        septets = len(text) + sum(1 for c in text if c in GSM7_ESCAPED)
        parts = 1 if septets <= 160 else math.ceil(septets / 153)
        return TextSize("GSM-7", septets, parts)
    units = len(text.encode("utf-16-le")) // 2
    parts = 1 if units <= 70 else math.ceil(units / 67)
    return TextSize("UCS-2", units, parts)


def is_e164(value: str) -> bool:
    """``+`` and digits, exactly the E.164 form of a valid number."""
    if not value.startswith("+") or not value[1:].isdigit():
        return False
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return False
    return (
        phonenumbers.is_valid_number(number)
        and phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) == value
    )


def _optional_str(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad_request("10015", f"The '{name}' parameter must be a string.", f"/{name}")
    return value


def _optional_bool(body: dict[str, Any], name: str, default: bool) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise bad_request("10015", f"The '{name}' parameter must be a boolean.", f"/{name}")
    return value


def _url(value: Any, pointer: str) -> str:
    if not isinstance(value, str) or not value.startswith(("http://", "https://")) or len(value) > MAX_URL_LENGTH:
        raise bad_request("10003", "The URL provided was invalid, malformed, or too long.", pointer)
    return value


def _to(body: dict[str, Any]) -> str:
    if "to" not in body or body["to"] is None:
        raise bad_request("10004", "The 'to' parameter is required.", "/to")
    value = body["to"]
    if isinstance(value, list) and len(value) == 1:  # Telnyx v2 takes an array of length one too
        value = value[0]
    if not isinstance(value, str) or not is_e164(value):
        raise bad_request("40310", "The 'to' address should be a single valid number.", "/to")
    return value


def _sender(body: dict[str, Any]) -> tuple[str | None, str | None]:
    sender = _optional_str(body, "from")
    profile = _optional_str(body, "messaging_profile_id")
    if sender is None and profile is None:
        raise bad_request("10004", "Either 'from' or 'messaging_profile_id' is required.", "/from")
    if profile is not None:
        try:
            uuid.UUID(profile)
        except ValueError:
            raise bad_request("10006", "The messaging_profile_id is not a valid ID.", "/messaging_profile_id") from None
    if sender is not None and not (is_e164(sender) or _SHORT_CODE.match(sender)):
        if not _ALPHA_SENDER.match(sender):
            raise bad_request("40305", "The 'from' address should be a valid number or sender ID.", "/from")
        if profile is None:
            raise bad_request(
                "10004",
                "The 'messaging_profile_id' parameter is required to send from an alphanumeric sender ID.",
                "/messaging_profile_id",
            )
    return sender, profile


def _media_urls(body: dict[str, Any]) -> tuple[str, ...]:
    value = body.get("media_urls")
    if value is None:
        return ()
    if not isinstance(value, list):
        raise bad_request("10015", "The 'media_urls' parameter must be a list of URLs.", "/media_urls")
    return tuple(_url(u, f"/media_urls/{i}") for i, u in enumerate(value))


def _send_at(body: dict[str, Any], now: float) -> float | None:
    raw = body.get("send_at")
    if raw is None:
        return None
    when = None
    if isinstance(raw, str):
        try:
            when = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            when = None
    if when is None or when.tzinfo is None:
        detail = "The 'send_at' parameter must be an ISO 8601 date-time with a time zone."
        raise bad_request("10015", detail, "/send_at")
    if when.timestamp() <= now:
        raise bad_request("10015", "The 'send_at' date-time must be in the future.", "/send_at")
    return when.timestamp()


def _content(body: dict[str, Any], media: tuple[str, ...]) -> tuple[str, str | None]:
    """``(type, text)``: an SMS needs a non-empty text and no media, an MMS needs media."""
    kind = body.get("type")
    if kind is not None and kind not in ("SMS", "MMS"):
        raise bad_request("10015", "The 'type' parameter must be SMS or MMS.", "/type")
    text = _optional_str(body, "text")
    kind = kind or ("MMS" if media else "SMS")
    if kind == "SMS":
        if media:
            raise bad_request("40304", "An SMS cannot carry 'media_urls'; send it as type MMS.", "/media_urls")
        if not text:
            raise bad_request("10004", "The 'text' parameter is required for SMS and must be non-empty.", "/text")
    elif not media:
        raise bad_request("10004", "The 'media_urls' parameter is required for MMS.", "/media_urls")
    return kind, text


def parse_telnyx_send(body: Any, now: float) -> TelnyxSend:
    """Validate a decoded JSON body; the first problem found is raised as a Telnyx 400."""
    if not isinstance(body, dict):
        raise bad_request("10015", "The request body must be a JSON object.")
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise bad_request("10015", f"Unknown parameter '{unknown[0]}'.", f"/{unknown[0]}")
    to = _to(body)
    sender, profile = _sender(body)
    media = _media_urls(body)
    kind, text = _content(body, media)
    _optional_bool(body, "auto_detect", False)  # accepted; the 10-part maximum holds either way
    encoding = body.get("encoding", "auto")
    if encoding not in ENCODINGS:
        raise bad_request("10015", "The 'encoding' parameter must be auto, gsm7 or ucs2.", "/encoding")
    if encoding == "gsm7" and text and not is_gsm7(text):
        raise bad_request("10015", "The text contains characters that cannot be encoded in GSM-7.", "/text")
    size = measure(text or "", encoding)
    if kind == "SMS" and size.parts > MAX_PARTS:
        raise bad_request(
            "40302", f"The message would need {size.parts} parts; at most {MAX_PARTS} are allowed.", "/text"
        )
    webhook = body.get("webhook_url")
    failover = body.get("webhook_failover_url")
    return TelnyxSend(
        to=to,
        from_=sender,
        messaging_profile_id=profile,
        text=text,
        subject=_optional_str(body, "subject"),
        media_urls=media,
        type=kind,
        webhook_url=_url(webhook, "/webhook_url") if webhook is not None else None,
        webhook_failover_url=_url(failover, "/webhook_failover_url") if failover is not None else None,
        use_profile_webhooks=_optional_bool(body, "use_profile_webhooks", True),
        send_at=_send_at(body, now),
        size=TextSize(size.encoding, size.units, 1 if kind == "MMS" else size.parts),
    )


def check_not_stopped(send: TelnyxSend, opted_out: frozenset[str]) -> None:
    """403 40300 when the recipient texted STOP."""
    if send.to in opted_out:
        raise TelnyxError(
            403, "40300", "Messages cannot be sent to this number due to an existing STOP block rule.", pointer="/to"
        )
