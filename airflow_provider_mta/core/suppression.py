"""Opted-out recipients, normalized once, so a number written any way matches the way it was stored.

The set holds E.164 numbers (and emails, lower-cased domain): memory grows with the opt-outs, never
with the recipients of a batch. Entries that are not a phone number or email are counted, not fatal:
they can never match a valid recipient.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_mta.core.errors import MtaValidationError
from airflow_provider_mta.core.phones import InvalidRecipientError, normalize_recipient


@dataclass
class SuppressionList:
    """Recipients never to text; ``sources`` says where each part came from (for the task log)."""

    numbers: set[str] = field(default_factory=set)
    sources: list[tuple[str, int, int]] = field(default_factory=list)  # (source, entries read, unusable)

    def __contains__(self, recipient: object) -> bool:
        return recipient in self.numbers

    def __len__(self) -> int:
        return len(self.numbers)

    def add(self, values: Iterable[Any], *, source: str, region: str | None, phone_column: str = "phone") -> int:
        """Add numbers (or rows holding one in ``phone_column``); returns how many entries were read."""
        read = unusable = 0
        for value in values:
            read += 1
            raw = value.get(phone_column) if isinstance(value, Mapping) else value
            if isinstance(raw, (tuple, list)) and raw:
                raw = raw[0]  # a SQL row: the first column
            try:
                self.numbers.add(normalize_recipient(raw, region=region))
            except InvalidRecipientError:
                unusable += 1
        self.sources.append((source, read, unusable))
        return read

    def describe(self) -> str:
        parts = [
            f"{source}: {read:,} read" + (f", {bad:,} not a number" if bad else "")
            for source, read, bad in self.sources
        ]
        return f"{len(self.numbers):,} opted-out recipient(s) ({'; '.join(parts)})"


def suppression_values(value: Any, *, field_name: str) -> Iterable[Any]:
    """What ``suppress=`` may be: a list of numbers or of rows (dicts), a dict of column lists, or one number."""
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return [value]
    if isinstance(value, Mapping):
        lists = [v for v in value.values() if isinstance(v, (list, tuple))]
        if len(lists) == 1:
            return list(lists[0])
        raise MtaValidationError(
            f"{field_name}: a dict must hold one column list of numbers, got keys {', '.join(map(str, value))}",
            field=field_name,
        )
    if isinstance(value, (bytes, bytearray)) or not isinstance(value, Iterable):
        raise MtaValidationError(
            f"{field_name}: expected a list of phone numbers (or rows), got {type(value).__name__}", field=field_name
        )
    return value
