"""What every vendor's webhook parser shares: reading the body, numbers, times, and keyword consent events.

Parsers are tolerant: unknown fields are ignored, a missing optional field is None, and a body that is JSON but
not an event the parser knows gives no events. Only a body that is not JSON at all raises :class:`MalformedBody`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from airflow_provider_mta.core.phones import InvalidRecipientError, normalize_recipient
from airflow_provider_mta.core.sms_event import SmsEvent, is_start_reply, is_stop_reply


class MalformedBody(ValueError):
    """The webhook body is not JSON (the receiver answers 400). The text never quotes the body."""


def load_json(body: bytes) -> Any:
    """The parsed body; :class:`MalformedBody` when it is not JSON (or not UTF-8/16/32)."""
    try:
        return json.loads(body)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        raise MalformedBody(f"the webhook body ({len(body)} bytes) is not JSON") from None


def obj(value: Any) -> Mapping[str, Any]:
    """``value`` when it is a JSON object, else an empty one (so ``obj(x).get(...)`` never fails)."""
    return value if isinstance(value, Mapping) else {}


def text_or_none(value: Any) -> str | None:
    """A non-empty string or number as text (ids may be either); anything else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float, str)) and str(value).strip():
        return str(value).strip()
    return None


def phone(value: Any) -> str:
    """A phone number in E.164; one that does not read as a number is kept trimmed (never dropped), none is ``""``."""
    raw = text_or_none(value)
    if raw is None:
        return ""
    try:
        return normalize_recipient(raw)
    except InvalidRecipientError:
        return raw


def unix_time(value: Any) -> float | None:
    """ISO 8601 (``2025-03-06T19:30:00.000Z``; no zone means UTC) or Unix seconds as a float; else None."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when.timestamp()


def with_keyword_events(reply: SmsEvent) -> list[SmsEvent]:
    """``[reply]``, plus an ``opt_out`` (a STOP word) or ``opt_in`` (a START word) event of the same sender.

    The consent event's ``event_id`` is the reply's plus ``:opt_out``/``:opt_in``, so a replay repeats it too.
    """
    if is_stop_reply(reply.text):
        return [reply, replace(reply, kind="opt_out", event_id=f"{reply.event_id}:opt_out")]
    if is_start_reply(reply.text):
        return [reply, replace(reply, kind="opt_in", event_id=f"{reply.event_id}:opt_in")]
    return [reply]
