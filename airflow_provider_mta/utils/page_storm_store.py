"""The shared state of pages (storm control and the vendors' circuit breaker), in SQL that every worker sees.

Two tables, created on first use, on any common.sql connection (``state_conn_id``: PostgreSQL, MySQL,
the Airflow metadata database's own server...) or, by default, a SQLite file in ``$AIRFLOW_HOME`` that
every worker process on this machine shares (LocalExecutor, ``airflow dags test``)::

    mta_page_storm        (recipient_key PK, last_text_at, digest_owner)     one row per recipient
    mta_page_storm_events (event_id PK, recipient_key, at, summary, claimed_by) one row per page
    mta_vendor_breaker    (conn_id PK, open_until)                           one row per SMS connection

``recipient_key`` is a SHA-256 of the recipient, never the number. Every decision is one atomic
statement, so two workers can never both lead a window or both send the same folded page:

- lead: ``UPDATE ... SET last_text_at = now WHERE last_text_at <= now - cooldown`` (1 row = this page texts)
- fold: ``INSERT`` the page (a repeated event id is the same callback fired twice: ignored)
- own the digest: ``UPDATE ... SET digest_owner = me WHERE digest_owner IS NULL``
- take folded pages: ``UPDATE events SET claimed_by = me WHERE claimed_by IS NULL``, then read them.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from typing import Any

from airflow_provider_mta.core.errors import MtaConfigError

STATE_TABLE = "mta_page_storm"
EVENTS_TABLE = "mta_page_storm_events"
BREAKER_TABLE = "mta_vendor_breaker"
DEFAULT_FILE = "mta_page_storm.sqlite"


def recipient_key(recipient: str) -> str:
    """What the store keeps instead of a number: its SHA-256 (hex)."""
    return hashlib.sha256(recipient.encode()).hexdigest()


@dataclass(frozen=True)
class Folded:
    """A page that was folded into a digest."""

    at: float
    summary: str


class PageStormStore:
    """One DB-API connection to the storm tables (use from one thread at a time; ``clone`` for another)."""

    def __init__(self, *, conn_id: str | None = None, path: str | None = None) -> None:
        self.conn_id = conn_id
        self.path = path if path or conn_id else default_path()
        self._conn: Any = None
        self._mark = "?"
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"PageStormStore(conn_id={self.conn_id!r})" if self.conn_id else f"PageStormStore(path={self.path!r})"

    def connect(self) -> PageStormStore:
        """Open the connection and create the tables when missing (before handing the store to a thread)."""
        if self._conn is not None:
            return self
        try:
            if self.conn_id:
                from airflow_provider_mta.utils.sql_rows import get_db_hook

                hook = get_db_hook(self.conn_id)
                self._mark = getattr(hook, "placeholder", None) or "%s"
                self._conn = _shareable(hook.get_conn())
            else:
                import sqlite3

                os.makedirs(os.path.dirname(os.path.abspath(str(self.path))), exist_ok=True)
                self._conn = sqlite3.connect(str(self.path), timeout=30, check_same_thread=False)
            self._create()
        except MtaConfigError:
            raise
        except Exception as exc:
            raise MtaConfigError(
                f"storm control: cannot open its state on {self!r}: {type(exc).__name__}: {exc}"
            ) from None
        return self

    def clone(self) -> PageStormStore:
        """A store of the same tables with its own connection, opened now (in the calling thread)."""
        return PageStormStore(conn_id=self.conn_id, path=self.path).connect()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- the atomic steps -------------------------------------------------------------------------

    def lead(self, key: str, *, now: float, cooldown_s: float) -> bool:
        """Claim the right to text ``key`` now: True when no text went to it in the last ``cooldown_s``."""
        self._execute(f"INSERT INTO {STATE_TABLE} (recipient_key, last_text_at) VALUES ({{p}}, 0)", (key,), quiet=True)
        claimed = self._execute(
            f"UPDATE {STATE_TABLE} SET last_text_at = {{p}}, digest_owner = NULL "
            "WHERE recipient_key = {p} AND last_text_at <= {p}",
            (now, key, now - cooldown_s),
        )
        return claimed == 1

    def unlead(self, key: str, *, now: float) -> None:
        """Give the window back (the page that claimed it could not be texted), so the next page leads."""
        self._execute(
            f"UPDATE {STATE_TABLE} SET last_text_at = 0 WHERE recipient_key = {{p}} AND last_text_at = {{p}}",
            (key, now),
        )

    def record(self, key: str, *, event_id: str, now: float, summary: str, claimed_by: str | None) -> bool:
        """Store one page; False when this event was stored before (a callback fired twice)."""
        inserted = self._execute(
            f"INSERT INTO {EVENTS_TABLE} (event_id, recipient_key, at, summary, claimed_by) "
            "VALUES ({p}, {p}, {p}, {p}, {p})",
            (event_id, key, now, summary[:200], claimed_by),
            quiet=True,
        )
        return inserted == 1

    def own_digest(self, key: str, *, owner: str) -> bool:
        """Become the one who sends ``key``'s next digest: True when nobody is."""
        return (
            self._execute(
                f"UPDATE {STATE_TABLE} SET digest_owner = {{p}} WHERE recipient_key = {{p}} AND digest_owner IS NULL",
                (owner, key),
            )
            == 1
        )

    def window_end(self, key: str, *, cooldown_s: float) -> float:
        """When ``key``'s current window closes."""
        rows = self._query(f"SELECT last_text_at FROM {STATE_TABLE} WHERE recipient_key = {{p}}", (key,))
        return (float(rows[0][0]) if rows else 0.0) + cooldown_s

    def start_digest(self, key: str, *, owner: str, now: float) -> bool:
        """At the window's end: open the next window with the digest, if ``owner`` still owns it."""
        return (
            self._execute(
                f"UPDATE {STATE_TABLE} SET last_text_at = {{p}}, digest_owner = NULL "
                "WHERE recipient_key = {p} AND digest_owner = {p}",
                (now, key, owner),
            )
            == 1
        )

    def take_folded(self, key: str, *, claimer: str) -> list[Folded]:
        """Claim every folded page of ``key`` not yet in a digest, oldest first."""
        self._execute(
            f"UPDATE {EVENTS_TABLE} SET claimed_by = {{p}} WHERE recipient_key = {{p}} AND claimed_by IS NULL",
            (claimer, key),
        )
        rows = self._query(
            f"SELECT at, summary FROM {EVENTS_TABLE} WHERE recipient_key = {{p}} AND claimed_by = {{p}} ORDER BY at",
            (key, claimer),
        )
        return [Folded(float(at), str(summary)) for at, summary in rows]

    def give_back(self, key: str, *, claimer: str) -> None:
        """Un-claim pages whose digest could not be sent, so the next text carries them."""
        self._execute(
            f"UPDATE {EVENTS_TABLE} SET claimed_by = NULL WHERE recipient_key = {{p}} AND claimed_by = {{p}}",
            (key, claimer),
        )

    # -- the circuit breaker (core.failover.SharedBreakerState) --------------------------------------

    def open_until(self, conn_id: str) -> float | None:
        """Until when ``conn_id`` is skipped (Unix time), or None."""
        rows = self._query(f"SELECT open_until FROM {BREAKER_TABLE} WHERE conn_id = {{p}}", (conn_id,))
        return float(rows[0][0]) if rows and rows[0][0] is not None else None

    def set_open_until(self, conn_id: str, until: float | None) -> None:
        """Skip ``conn_id`` until ``until`` (None: not at all)."""
        update = f"UPDATE {BREAKER_TABLE} SET open_until = {{p}} WHERE conn_id = {{p}}"
        if self._execute(update, (until, conn_id)) == 0 and until is not None:
            inserted = self._execute(
                f"INSERT INTO {BREAKER_TABLE} (conn_id, open_until) VALUES ({{p}}, {{p}})", (conn_id, until), quiet=True
            )
            if not inserted:  # another process inserted it meanwhile
                self._execute(update, (until, conn_id))

    # -- SQL --------------------------------------------------------------------------------------

    def _create(self) -> None:
        for ddl in (
            f"CREATE TABLE IF NOT EXISTS {STATE_TABLE} (recipient_key VARCHAR(64) PRIMARY KEY, "
            "last_text_at DOUBLE PRECISION NOT NULL, digest_owner VARCHAR(64))",
            f"CREATE TABLE IF NOT EXISTS {EVENTS_TABLE} (event_id VARCHAR(128) PRIMARY KEY, "
            "recipient_key VARCHAR(64) NOT NULL, at DOUBLE PRECISION NOT NULL, summary VARCHAR(200) NOT NULL, "
            "claimed_by VARCHAR(64))",
            f"CREATE TABLE IF NOT EXISTS {BREAKER_TABLE} (conn_id VARCHAR(250) PRIMARY KEY, "
            "open_until DOUBLE PRECISION)",
        ):
            self._execute(ddl, ())

    def _execute(self, sql: str, params: tuple[Any, ...], *, quiet: bool = False) -> int:
        """Run one statement in its own transaction; with ``quiet`` a constraint violation counts 0 rows."""
        self.connect()
        with self._lock:
            cursor = self._conn.cursor()
            try:
                cursor.execute(sql.replace("{p}", self._mark), params)
                count = cursor.rowcount
                self._conn.commit()
                return int(count)
            except Exception as exc:
                self._conn.rollback()
                if quiet and _is_constraint_violation(exc):
                    return 0
                raise
            finally:
                cursor.close()

    def _query(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        self.connect()
        with self._lock:
            cursor = self._conn.cursor()
            try:
                cursor.execute(sql.replace("{p}", self._mark), params)
                rows = [tuple(row) for row in cursor.fetchall()]
                self._conn.commit()
                return rows
            finally:
                cursor.close()


def _shareable(conn: Any) -> Any:
    """A DB-API connection the digest thread may use: sqlite3's are reopened without the same-thread check
    (common.sql's SqliteHook opens them with it); other drivers' connections may change threads as they are."""
    import sqlite3

    if not isinstance(conn, sqlite3.Connection):
        return conn
    files = [row[2] for row in conn.execute("PRAGMA database_list").fetchall() if row[1] == "main"]
    if not files or not files[0]:
        return conn  # an in-memory database: no other process could see it anyway
    conn.close()
    return sqlite3.connect(files[0], timeout=30, check_same_thread=False)


def default_path() -> str:
    """``$AIRFLOW_HOME/mta_page_storm.sqlite``: shared by every worker process on this machine."""
    home = os.environ.get("AIRFLOW_HOME") or os.path.join(os.path.expanduser("~"), "airflow")
    return os.path.join(home, DEFAULT_FILE)


def _is_constraint_violation(exc: Exception) -> bool:
    """A duplicate key, whatever the driver calls it (sqlite3/psycopg2 ``IntegrityError``, MySQL's, ...)."""
    return "integrity" in type(exc).__name__.lower() or "unique" in str(exc).lower() or "duplicate" in str(exc).lower()
