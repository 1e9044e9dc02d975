"""Turning source rows (dicts from XCom, tuples from SQL) into a recipient and its Liquid properties."""

from __future__ import annotations

import datetime as dt
import decimal
import math
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_mta.core.errors import MtaValidationError

JsonScalar = str | int | float | bool


@dataclass(frozen=True)
class ColumnMapping:
    """Which column holds the recipient, which become properties, and what they are renamed to.

    ``property_columns=None`` means every column except the recipient's. ``rename`` maps a column
    name to the property name the message uses (``{"fname": "first_name"}``).
    """

    phone_column: str = "phone"
    property_columns: Sequence[str] | None = None
    rename: Mapping[str, str] = field(default_factory=dict)

    def check_columns(self, columns: Sequence[str]) -> None:
        """Fail before reading further when a named column is not in the source."""
        have = set(columns)
        if self.phone_column not in have:
            raise MtaValidationError(
                f"phone_column: no column {self.phone_column!r} in the rows (columns: {', '.join(columns)})",
                field="phone_column",
            )
        missing = [c for c in (self.property_columns or ()) if c not in have]
        missing += [c for c in self.rename if c not in have]
        if missing:
            raise MtaValidationError(
                f"property_columns: no column {', '.join(map(repr, missing))} in the rows "
                f"(columns: {', '.join(columns)})",
                field="property_columns",
            )

    def property_names(self, columns: Sequence[str]) -> list[str]:
        """The property names rows with these columns give (after renames)."""
        names = self.property_columns if self.property_columns is not None else columns
        return [self.rename.get(c, c) for c in names if c != self.phone_column]

    def properties(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """The row's properties by their (renamed) names; nulls are left out, values made JSON-safe."""
        names = self.property_columns if self.property_columns is not None else row.keys()
        out: dict[str, Any] = {}
        for column in names:
            if column == self.phone_column:
                continue
            value = row.get(column)
            if value is not None and not is_missing(value):
                try:
                    out[self.rename.get(column, column)] = json_safe(value)
                except ValueError as exc:
                    raise BadPropertyError(f"column {column!r} {exc}") from None
        return out


class BadPropertyError(ValueError):
    """A row's value cannot be a Liquid property (a list, a dict, a number too large to write out)."""


MAX_INT_DIGITS = 100


def is_missing(value: Any) -> bool:
    """NaN (a database's or pandas' "no value") counts as empty, like NULL; so do infinities."""
    if isinstance(value, float):
        return math.isnan(value) or math.isinf(value)
    if isinstance(value, decimal.Decimal):
        return not value.is_finite()
    return False


def property_text(value: JsonScalar) -> str:
    """The text MTA gets for a property value (``true``/``false``, ``42``, ``2.5``): Liquid sees only this."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def json_safe(value: Any) -> JsonScalar:
    """A property value MTA can take: text, numbers and booleans as they are; dates, decimals and ids as text.

    Lists, dicts and other containers are refused (MTA would get Python's repr), as are integers of more
    than :data:`MAX_INT_DIGITS` digits.
    """
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**MAX_INT_DIGITS:
        raise ValueError(f"holds an integer of more than {MAX_INT_DIGITS} digits; send it as text if you mean it")
    if isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, (Mapping, list, tuple, set, frozenset)):
        raise ValueError(
            f"holds a {type(value).__name__}; a property must be text, a number, a boolean or a date "
            "(flatten it into columns, or format it as text in the query)"
        )
    return str(value)


def iter_mappings(rows: Any, *, columns: Sequence[str] | None = None) -> Iterator[Mapping[str, Any]]:
    """Rows as mappings, from what an upstream task may return.

    Accepts a list (or any iterable) of dicts, a list of tuples with ``columns``, a column-oriented
    dict of lists (``{"phone": [...], "name": [...]}``) or a pandas DataFrame. Rows are yielded one
    at a time; nothing is copied.
    """
    if rows is None:
        raise MtaValidationError("rows: no rows given (pass an XComArg or a list of dicts, or sql=...)", field="rows")
    if isinstance(rows, (str, bytes)):
        raise MtaValidationError(
            "rows: got text, not rows. Pass the upstream task's output (XComArg) rather than a Jinja string, "
            "or set render_template_as_native_obj=True on the DAG",
            field="rows",
        )
    if hasattr(rows, "to_dict") and hasattr(rows, "columns"):  # a pandas DataFrame, without importing pandas
        rows = rows.to_dict(orient="records")
    if isinstance(rows, Mapping):
        rows = _columnar(rows)
    if not isinstance(rows, Iterable):
        raise MtaValidationError(f"rows: expected a list of rows, got {type(rows).__name__}", field="rows")
    for number, row in enumerate(rows, start=1):
        if isinstance(row, Mapping):
            yield row
        elif isinstance(row, (list, tuple)) and columns is not None:
            if len(row) != len(columns):
                raise MtaValidationError(
                    f"rows: row {number} has {len(row)} values for {len(columns)} columns", field="rows"
                )
            yield dict(zip(columns, row, strict=False))
        elif isinstance(row, (list, tuple)):
            raise MtaValidationError(
                f"rows: row {number} is a {type(row).__name__}; give columns=[...] to name its values", field="rows"
            )
        else:
            raise MtaValidationError(
                f"rows: row {number} is a {type(row).__name__}, expected a dict of column -> value", field="rows"
            )


def _columnar(rows: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    lists = {k: v for k, v in rows.items() if isinstance(v, (list, tuple))}
    if not lists or len(lists) != len(rows):
        raise MtaValidationError(
            "rows: a dict must map each column to a list of values (or pass a list of dicts)", field="rows"
        )
    lengths = {len(v) for v in lists.values()}
    if len(lengths) != 1:
        raise MtaValidationError("rows: the column lists have different lengths", field="rows")
    names = list(lists)
    for values in zip(*lists.values(), strict=False):
        yield dict(zip(names, values, strict=False))
