"""Masking of phone numbers and emails for logs and error messages."""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence, Sized
from typing import Any

_E164_RE = re.compile(r"\+\d{8,15}(?!\d)")


def mask_recipient(value: object) -> str:
    """Keep only the last 4 digits of a phone number (``***1234``) or the first letter of an email user."""
    text = str(value)
    if "@" in text:
        user, _, domain = text.partition("@")
        return f"{user[:1]}***@{domain}"
    digits = [c for c in text if c.isdigit()]
    return "***" + "".join(digits[-4:])


def mask_phone_numbers(text: str) -> str:
    """Mask every E.164 number (``+13175551111`` -> ``***1111``) in free text, such as a server's error message."""
    return _E164_RE.sub(lambda m: mask_recipient(m.group(0)), text) if "+" in text else text


def redact(text: str, *secrets: str | None) -> str:
    """Replace every occurrence of each non-empty secret in ``text`` with ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


# A run of digits with the separators phone numbers are written with: "+1 (317) 555-1111", "317.555.1111".
_PHONE_RUN_RE = re.compile(r"\+?\(?\d[\d \t().\-/]*\d")
ROWS_SHOWN = 100  # rows kept in the masked view of a ``rows`` field


def mask_phone_runs(text: str, *, min_digits: int = 7) -> str:
    """Mask every number written with ``min_digits`` digits or more, in any format, keeping its last 4 digits.

    For text that holds recipients (a list rendered as a string), where dates and ids are not expected.
    """

    def masked(match: re.Match[str]) -> str:
        digits = sum(c.isdigit() for c in match.group(0))
        return mask_recipient(match.group(0)) if digits >= min_digits else match.group(0)

    return _PHONE_RUN_RE.sub(masked, text)


def mask_recipients(value: Any, *, phone_column: str = "phone") -> Any:
    """A masked copy of recipients as a task was given them: a number, an email, a list of them, rows (dicts, whose
    ``phone_column`` is the recipient), a dict of column lists, or text. Every recipient keeps its last 4 digits."""
    if value is None or isinstance(value, (bool, float)):
        return value
    if isinstance(value, int):
        return mask_recipient(value)
    if isinstance(value, str):
        return mask_recipient(value) if "@" in value and " " not in value.strip() else mask_phone_runs(value)
    if isinstance(value, Mapping):
        return {str(mask_recipients(k)): mask_recipients(v, phone_column=phone_column) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [mask_recipients(v, phone_column=phone_column) for v in value]
    return mask_phone_runs(str(value))


def mask_properties(properties: Any) -> Any:
    """``{recipient: {name: value}}`` with each recipient masked (and any E.164 number in the values)."""
    if not isinstance(properties, Mapping):
        return mask_recipients(properties)
    return {mask_recipient(k): _mask_values(v) for k, v in properties.items()}


def mask_rows(rows: Any, *, phone_column: str, columns: Sequence[str] | None = None) -> Any:
    """What a ``rows`` field may show: its first ``ROWS_SHOWN`` rows with ``phone_column`` masked (and any E.164
    number in the other values), then how many more there are. Rows that can only be read once are not read."""
    from airflow_provider_mta.core.rows import iter_mappings

    if rows is None or isinstance(rows, (str, bytes)):
        return mask_recipients(rows, phone_column=phone_column)
    is_frame = hasattr(rows, "to_dict") and hasattr(rows, "columns")
    if not (is_frame or isinstance(rows, (Mapping, Sequence))):
        return f"<{type(rows).__name__}: rows not shown>"
    try:
        shown = [
            {
                str(k): mask_recipient(v) if k == phone_column and v is not None else _mask_values(v)
                for k, v in row.items()
            }
            for row in itertools.islice(iter_mappings(rows, columns=columns), ROWS_SHOWN)
        ]
        total = len(rows)
    except Exception:  # rows the task will refuse with a proper error: show them masked as they are
        return mask_recipients(rows, phone_column=phone_column)
    if isinstance(rows, Mapping):  # a dict of column lists: its length is its number of columns
        total = max((len(v) for v in rows.values() if isinstance(v, Sized)), default=0)
    more: list[Any] = [f"... and {total - len(shown):,} more row(s)"] if total > len(shown) else []
    return shown + more


def _mask_values(value: Any) -> Any:
    if isinstance(value, str):
        return mask_phone_numbers(value)
    if isinstance(value, Mapping):
        return {str(k): _mask_values(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_mask_values(v) for v in value]
    return value
