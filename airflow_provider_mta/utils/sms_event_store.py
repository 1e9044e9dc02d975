"""Verified webhook events, kept where the delivery sensor, its trigger and the reply sensor can read them.

One table, created on first use, on the SMS connection's ``webhook_store_conn_id`` (any common.sql
connection: PostgreSQL when the API server and the workers are on different machines) or, by default,
a SQLite file ``$AIRFLOW_HOME/mta_sms_events.sqlite`` shared by the processes of one machine::

    mta_sms_events (event_key PK, conn_id, provider, kind, number_key, masked, outbound_id, message_id,
                    external_id, status, outcome, text, occurred_at, received_at)

``number_key`` is a SHA-256 of the E.164 number and ``masked`` its last four digits: the full number is
never stored. ``event_key`` is the event's replay key, so an event delivered twice is stored once.
Rows older than ``retention_s`` (default 7 days) are deleted as new ones arrive.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from airflow_provider_mta.core.sms_event import SmsEvent
from airflow_provider_mta.utils.sql_state import SqlStateStore

TABLE = "mta_sms_events"
DEFAULT_FILE = "mta_sms_events.sqlite"
DEFAULT_RETENTION_S = 7 * 24 * 3600.0
_PURGE_EVERY_S = 600.0


def number_key(number: str) -> str:
    """What the store keeps instead of a number: the SHA-256 (hex) of its E.164 form."""
    return hashlib.sha256(number.strip().encode()).hexdigest()


@dataclass(frozen=True)
class StoredEvent:
    """One stored event as read back (no full number)."""

    kind: str
    provider: str
    masked: str
    number_key: str
    outbound_id: str | None
    message_id: str | None
    status: str | None
    outcome: str | None
    text: str | None
    occurred_at: float | None
    received_at: float


_COLUMNS = (
    "kind, provider, masked, number_key, outbound_id, message_id, status, outcome, text, occurred_at, received_at"
)


class SmsEventStore(SqlStateStore):
    """The event table of every SMS connection (rows carry their ``conn_id``)."""

    ddl = (
        f"CREATE TABLE IF NOT EXISTS {TABLE} (event_key VARCHAR(250) PRIMARY KEY, conn_id VARCHAR(250) NOT NULL, "
        "provider VARCHAR(16) NOT NULL, kind VARCHAR(16) NOT NULL, number_key VARCHAR(64) NOT NULL, "
        "masked VARCHAR(32) NOT NULL, outbound_id VARCHAR(128), message_id VARCHAR(128), external_id VARCHAR(250), "
        "status VARCHAR(64), outcome VARCHAR(16), text VARCHAR(1600), occurred_at DOUBLE PRECISION, "
        "received_at DOUBLE PRECISION NOT NULL)",
        f"CREATE INDEX IF NOT EXISTS {TABLE}_outbound ON {TABLE} (conn_id, outbound_id)",
        f"CREATE INDEX IF NOT EXISTS {TABLE}_kind_received ON {TABLE} (conn_id, kind, received_at)",
    )
    default_file = DEFAULT_FILE
    label = "SMS webhook events"
    retention_s = DEFAULT_RETENTION_S
    _last_purge = 0.0

    def record(self, *, conn_id: str, events: Iterable[SmsEvent], now: float | None = None) -> list[SmsEvent]:
        """Store each event once; returns those that were new (a replay returns nothing)."""
        now = time.time() if now is None else now
        new = []
        for event in events:
            inserted = self._execute(
                f"INSERT INTO {TABLE} (event_key, conn_id, provider, kind, number_key, masked, outbound_id, "
                "message_id, external_id, status, outcome, text, occurred_at, received_at) VALUES "
                "({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p})",
                (
                    event.key[:250], conn_id, event.provider, event.kind, number_key(event.number), event.masked,
                    event.outbound_id, event.message_id, event.external_id, event.status, event.outcome,
                    event.text[:1600] if event.text is not None else None, event.occurred_at, now,
                ),
                quiet=True,
            )  # fmt: skip
            if inserted == 1:
                new.append(event)
        if now - self._last_purge > _PURGE_EVERY_S:
            self._last_purge = now
            self._execute(f"DELETE FROM {TABLE} WHERE received_at < {{p}}", (now - self.retention_s,))
        return new

    def latest_deliveries(self, *, conn_id: str, outbound_ids: Sequence[str]) -> dict[str, StoredEvent]:
        """The latest delivery event of each of these outbound ids that has one (by the vendor's time)."""
        found: dict[str, StoredEvent] = {}
        for start in range(0, len(outbound_ids), 500):
            batch = [str(i) for i in outbound_ids[start : start + 500]]
            marks = ", ".join("{p}" for _ in batch)
            rows = self._query(
                f"SELECT {_COLUMNS} FROM {TABLE} WHERE conn_id = {{p}} AND kind = 'delivery' "
                f"AND outbound_id IN ({marks})",
                (conn_id, *batch),
            )
            for row in rows:
                event = _stored(row)
                key = str(event.outbound_id)
                if key not in found or _newer(event, found[key]):
                    found[key] = event
        return found

    def events_since(
        self, *, conn_id: str, kinds: Sequence[str], since: float, number_keys: Sequence[str] | None = None
    ) -> list[StoredEvent]:
        """Events of these kinds received after ``since`` (from these numbers when given), oldest first."""
        marks = ", ".join("{p}" for _ in kinds)
        sql = f"SELECT {_COLUMNS} FROM {TABLE} WHERE conn_id = {{p}} AND kind IN ({marks}) AND received_at > {{p}}"
        params: tuple[object, ...] = (conn_id, *kinds, since)
        if number_keys is not None:
            if not number_keys:
                return []
            sql += f" AND number_key IN ({', '.join('{p}' for _ in number_keys)})"
            params += tuple(number_keys)
        return [_stored(row) for row in self._query(sql + " ORDER BY received_at", params)]


def _newer(a: StoredEvent, b: StoredEvent) -> bool:
    return (a.occurred_at or a.received_at, a.received_at) > (b.occurred_at or b.received_at, b.received_at)


def _stored(row: tuple[object, ...]) -> StoredEvent:
    kind, provider, masked, key, outbound_id, message_id, status, outcome, text, occurred_at, received_at = row
    return StoredEvent(
        kind=str(kind), provider=str(provider), masked=str(masked), number_key=str(key),
        outbound_id=None if outbound_id is None else str(outbound_id),
        message_id=None if message_id is None else str(message_id),
        status=None if status is None else str(status), outcome=None if outcome is None else str(outcome),
        text=None if text is None else str(text),
        occurred_at=None if occurred_at is None else float(str(occurred_at)), received_at=float(str(received_at)),
    )  # fmt: skip
