"""The opt-out table: recipients who texted STOP (or were opted out by you), on any common.sql connection.

One table that every worker, DAG and run shares (PostgreSQL, MySQL, SQLite, Snowflake, ...): the
delivery sensor adds the numbers MTA reported as 11 STOPPED_NUMBER, and both send operators read it
before sending. It is created on first use::

    CREATE TABLE mta_opt_outs (recipient VARCHAR(320) PRIMARY KEY, source VARCHAR(64) NOT NULL,
                               recorded_at VARCHAR(32) NOT NULL)

``recipient`` is the E.164 number (or the email) exactly as the provider sends it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from typing import Any

from airflow_provider_mta.core.errors import MtaConfigError

DEFAULT_TABLE = "mta_opt_outs"
_IDENTIFIER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
_INSERT_BATCH = 500


class OptOutTable:
    """Read and add opt-outs in ``table`` on the SQL connection ``conn_id``."""

    def __init__(self, *, conn_id: str, table: str = DEFAULT_TABLE) -> None:
        if not _IDENTIFIER_RE.match(table or ""):
            raise MtaConfigError(f"opt_out_table: {table!r} is not a table name (letters, digits, _, one schema.)")
        self.conn_id = conn_id
        self.table = table
        self._ready = False

    def __repr__(self) -> str:
        return f"OptOutTable({self.table!r} on connection {self.conn_id!r})"

    @property
    def db_hook(self) -> Any:
        """The connection's DbApiHook, with its statement log off: its parameters are phone numbers."""
        from airflow_provider_mta.utils.sql_rows import get_db_hook

        hook = get_db_hook(self.conn_id)
        hook.log_sql = False
        return hook

    def ensure(self) -> None:
        """Create the table when it does not exist yet (once per instance)."""
        if self._ready:
            return
        hook = self.db_hook
        try:
            hook.run(
                f"CREATE TABLE IF NOT EXISTS {self.table} (recipient VARCHAR(320) PRIMARY KEY, "
                "source VARCHAR(64) NOT NULL, recorded_at VARCHAR(32) NOT NULL)"
            )
        except Exception as exc:
            raise MtaConfigError(
                f"opt_out_conn_id: cannot create or open the opt-out table {self.table!r} on connection "
                f"{self.conn_id!r}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            ) from None
        self._ready = True

    def recipients(self) -> Iterator[str]:
        """Every stored recipient, streamed."""
        from airflow_provider_mta.utils.sql_rows import iter_sql_rows

        self.ensure()
        for row in iter_sql_rows(self.db_hook, f"SELECT recipient FROM {self.table}"):
            value = row.get("recipient")
            if value is None:  # some drivers upper-case column names
                value = next(iter(row.values()), None)
            if value is not None:
                yield str(value)

    def record(self, recipients: Iterable[str], *, source: str) -> int:
        """Add recipients not stored yet; returns how many were new. Safe to call twice or concurrently."""
        wanted = list(dict.fromkeys(recipients))
        if not wanted:
            return 0
        self.ensure()
        hook = self.db_hook
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        added = 0
        for start in range(0, len(wanted), _INSERT_BATCH):
            batch = wanted[start : start + _INSERT_BATCH]
            present = self._present(hook, batch)
            for recipient in batch:
                if recipient in present:
                    continue
                try:
                    hook.insert_rows(
                        self.table,
                        [(recipient, source[:64], now)],
                        target_fields=["recipient", "source", "recorded_at"],
                    )
                except Exception:
                    if recipient not in self._present(hook, [recipient]):
                        raise  # not a concurrent insert of the same recipient: a real failure
                    continue
                added += 1
        return added

    def _present(self, hook: Any, recipients: list[str]) -> set[str]:
        marks = ", ".join([getattr(hook, "placeholder", None) or "%s"] * len(recipients))
        rows = hook.get_records(
            f"SELECT recipient FROM {self.table} WHERE recipient IN ({marks})", parameters=recipients
        )
        return {str(row[0]) for row in rows or ()}
