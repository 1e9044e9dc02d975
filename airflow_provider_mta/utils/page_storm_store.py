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
from dataclasses import dataclass

from airflow_provider_mta.utils.sql_state import SqlStateStore, airflow_home_file

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


class PageStormStore(SqlStateStore):
    """One DB-API connection to the storm tables (use from one thread at a time; ``clone`` for another)."""

    ddl = (
        f"CREATE TABLE IF NOT EXISTS {STATE_TABLE} (recipient_key VARCHAR(64) PRIMARY KEY, "
        "last_text_at DOUBLE PRECISION NOT NULL, digest_owner VARCHAR(64))",
        f"CREATE TABLE IF NOT EXISTS {EVENTS_TABLE} (event_id VARCHAR(128) PRIMARY KEY, "
        "recipient_key VARCHAR(64) NOT NULL, at DOUBLE PRECISION NOT NULL, summary VARCHAR(200) NOT NULL, "
        "claimed_by VARCHAR(64))",
        f"CREATE TABLE IF NOT EXISTS {BREAKER_TABLE} (conn_id VARCHAR(250) PRIMARY KEY, open_until DOUBLE PRECISION)",
    )
    default_file = DEFAULT_FILE
    label = "storm control"

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


def default_path() -> str:
    """``$AIRFLOW_HOME/mta_page_storm.sqlite``: shared by every worker process on this machine."""
    return airflow_home_file(DEFAULT_FILE)
