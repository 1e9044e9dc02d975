"""The sandbox's ledger: messages, accepted request ids, webhooks, groups and opt-outs in SQLite (stdlib sqlite3).

Every message row names its ``provider`` (``mta`` for ``/v3``, ``telnyx`` for ``/v2``, ``bird`` for
Bird's Channels API); a Telnyx message also has a row in ``telnyx_messages`` (what its answer needs
beyond the common columns), and Telnyx's accepted ``Idempotency-Key`` values live in
``telnyx_idempotency``. A Bird message (one per contact) has a row in ``bird_messages``. Texts phones sent
back (``POST /_sandbox/reply``) are in ``replies``, each in its sender's thread (``reply_threads``).

One connection guarded by a lock, so the store can be used from any thread. Each ``/send`` is one
transaction. Delivery statuses are not stored but computed from each message's timeline
(:class:`~.statuses.Timeline`), so they survive a restart and need no background writes.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_mta.sandbox.statuses import SENT, Timeline, status_sql, updated_sql

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS requests (
    request_id TEXT PRIMARY KEY,
    message_id TEXT NOT NULL,
    total_sent INTEGER NOT NULL,
    outbound_ids TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    outbound_id INTEGER PRIMARY KEY,
    message_id TEXT NOT NULL,
    request_id TEXT,
    recipient TEXT NOT NULL,
    text TEXT NOT NULL,
    parts INTEGER NOT NULL,
    credits INTEGER NOT NULL,
    type TEXT NOT NULL,
    external_id TEXT,
    tags TEXT,
    sender_name TEXT,
    final_status INTEGER NOT NULL,
    created_at REAL NOT NULL,
    release_at REAL NOT NULL,
    sent_at REAL NOT NULL,
    final_at REAL NOT NULL,
    provider TEXT NOT NULL DEFAULT 'mta'
);
CREATE INDEX IF NOT EXISTS messages_message_id ON messages (message_id);
CREATE INDEX IF NOT EXISTS messages_request_id ON messages (request_id);
CREATE INDEX IF NOT EXISTS messages_recipient ON messages (recipient);
CREATE INDEX IF NOT EXISTS messages_created_at ON messages (created_at);
CREATE INDEX IF NOT EXISTS messages_sent_at ON messages (sent_at);
CREATE INDEX IF NOT EXISTS messages_final_at ON messages (final_at);
CREATE TABLE IF NOT EXISTS webhooks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event TEXT NOT NULL,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS groups (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS group_members (
    group_id INTEGER NOT NULL,
    position INTEGER NOT NULL,
    recipient TEXT NOT NULL,
    PRIMARY KEY (group_id, position)
);
CREATE TABLE IF NOT EXISTS opt_outs (
    recipient TEXT PRIMARY KEY,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS telnyx_messages (
    message_id TEXT PRIMARY KEY,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS telnyx_idempotency (
    key TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status INTEGER NOT NULL,
    body TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (key, method, path)
);
CREATE TABLE IF NOT EXISTS bird_messages (
    message_id TEXT PRIMARY KEY,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS reply_threads (
    thread_id INTEGER PRIMARY KEY AUTOINCREMENT,
    number TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS replies (
    reply_id INTEGER PRIMARY KEY AUTOINCREMENT,
    thread_id INTEGER NOT NULL,
    provider TEXT NOT NULL,
    from_number TEXT NOT NULL,
    to_number TEXT NOT NULL,
    text TEXT NOT NULL,
    received_at REAL NOT NULL
);
"""

PROVIDERS = ("mta", "telnyx", "bird")
IDEMPOTENCY_TTL_S = 24 * 3600.0

_COLUMNS = (
    "outbound_id, message_id, request_id, recipient, text, parts, credits, type, external_id, tags,"
    " sender_name, final_status, created_at, release_at, sent_at, final_at, provider"
)
_INSERT_MESSAGE = f"INSERT INTO messages ({_COLUMNS}) VALUES ({', '.join('?' * 17)})"
_SORT_COLUMNS = {
    "createdAt": "created_at",
    "updatedAt": updated_sql(),
    "outboundId": "outbound_id",
}


@dataclass(frozen=True)
class NewMessage:
    """One recipient's message, ready to be recorded."""

    recipient: str
    text: str
    parts: int
    credits: int
    type: str
    final_status: int


@dataclass(frozen=True)
class SendOutcome:
    """What a ``/send`` produced (or, with ``duplicate``, what the earlier send with that request id did)."""

    message_id: str
    total_sent: int
    outbound_ids: list[int]
    duplicate: bool = False

    def data(self) -> dict[str, Any]:
        return {"messageId": self.message_id, "totalSent": self.total_sent, "outboundIds": self.outbound_ids}


@dataclass(frozen=True)
class MessageRow:
    """One stored recipient message."""

    outbound_id: int
    message_id: str
    request_id: str | None
    recipient: str
    text: str
    parts: int
    credits: int
    type: str
    external_id: str | int | None
    tags: dict[str, str] | None
    sender_name: str | None
    timeline: Timeline
    provider: str = "mta"

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> MessageRow:
        return cls(
            outbound_id=row[0],
            message_id=row[1],
            request_id=row[2],
            recipient=row[3],
            text=row[4],
            parts=row[5],
            credits=row[6],
            type=row[7],
            external_id=json.loads(row[8]) if row[8] is not None else None,
            tags=json.loads(row[9]) if row[9] is not None else None,
            sender_name=row[10],
            timeline=Timeline(
                final_status=row[11],
                created_at=row[12],
                release_at=row[13],
                sent_at=row[14],
                final_at=row[15],
            ),
            provider=row[16],
        )


@dataclass(frozen=True)
class Webhook:
    id: int
    event: str
    url: str
    secret: str
    created_at: float


@dataclass(frozen=True)
class Reply:
    """One text a phone sent to the account (``POST /_sandbox/reply``); ``thread_id`` is stable per
    ``from_number``, ``reply_id`` increases."""

    reply_id: int
    thread_id: int
    provider: str
    from_number: str
    to_number: str
    text: str
    received_at: float


@dataclass(frozen=True)
class IdempotencyRecord:
    """An accepted Telnyx ``Idempotency-Key``: what identified the request and the answer given."""

    key: str
    method: str
    path: str
    fingerprint: str
    status: int
    body: str
    created_at: float


@dataclass(frozen=True)
class DeliveryQuery:
    """Filters, sort and page of ``GET /deliveries`` (already validated)."""

    page: int = 1
    page_size: int = 25
    sort_by: str = "createdAt"
    descending: bool = True
    query: str | None = None
    start: float | None = None
    end: float | None = None
    type: str | None = None
    statuses: tuple[int, ...] | None = None
    message_id: str | None = None


class Store:
    """Thread-safe SQLite ledger. ``path`` may be ``":memory:"``."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(path, check_same_thread=False)
        with self._lock:
            if path != ":memory:":
                self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(_SCHEMA)
            columns = [row[1] for row in self._conn.execute("PRAGMA table_info(messages)")]
            if "provider" not in columns:  # a ledger written before the Telnyx routes existed
                self._conn.execute("ALTER TABLE messages ADD COLUMN provider TEXT NOT NULL DEFAULT 'mta'")
            self._conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('next_outbound_id', 1)")
            self._conn.commit()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- sends ---------------------------------------------------------------------------------

    def get_request(self, request_id: str) -> SendOutcome | None:
        """The earlier answer for an accepted ``X-Request-Id``, or None."""
        with self._lock:
            return self._get_request(request_id)

    def _get_request(self, request_id: str) -> SendOutcome | None:
        row = self._conn.execute(
            "SELECT message_id, total_sent, outbound_ids FROM requests WHERE request_id = ?", (request_id,)
        ).fetchone()
        if row is None:
            return None
        return SendOutcome(row[0], row[1], json.loads(row[2]), duplicate=True)

    def record_send(
        self,
        messages: Sequence[NewMessage],
        *,
        request_id: str | None,
        external_id: str | int | None,
        tags: dict[str, str] | None,
        sender_name: str | None,
        release_at: float | None,
        delivery_delay_s: float,
    ) -> SendOutcome:
        """Record one send in one transaction; a known ``request_id`` returns the earlier outcome instead."""
        ext = json.dumps(external_id) if external_id is not None else None
        tag_text = json.dumps(tags, sort_keys=True) if tags is not None else None
        with self._lock:
            if request_id is not None:
                earlier = self._get_request(request_id)
                if earlier is not None:
                    return earlier
            now = time.time()
            message_id = str(uuid.uuid4())
            with self._conn:
                ids = self._insert_messages(
                    messages,
                    message_id=message_id,
                    request_id=request_id,
                    ext=ext,
                    tag_text=tag_text,
                    sender_name=sender_name,
                    now=now,
                    release_at=release_at,
                    delivery_delay_s=delivery_delay_s,
                    provider="mta",
                )
                if request_id is not None:
                    self._conn.execute(
                        "INSERT INTO requests VALUES (?, ?, ?, ?, ?)",
                        (request_id, message_id, len(messages), json.dumps(ids), now),
                    )
            return SendOutcome(message_id, len(messages), ids)

    def _insert_messages(
        self,
        messages: Sequence[NewMessage],
        *,
        message_id: str,
        request_id: str | None,
        ext: str | None,
        tag_text: str | None,
        sender_name: str | None,
        now: float,
        release_at: float | None,
        delivery_delay_s: float,
        provider: str,
    ) -> list[int]:
        """Insert rows with the next outbound ids (inside the caller's transaction); returns the ids."""
        release = max(now, release_at) if release_at is not None else now
        sent, final = release + delivery_delay_s / 2, release + delivery_delay_s
        first = self._conn.execute("SELECT value FROM meta WHERE key = 'next_outbound_id'").fetchone()[0]
        ids = list(range(first, first + len(messages)))
        rows = (
            (oid, message_id, request_id, m.recipient, m.text, m.parts, m.credits, m.type, ext, tag_text,
             sender_name, m.final_status, now, release, sent, final, provider)
            for oid, m in zip(ids, messages, strict=True)
        )  # fmt: skip
        self._conn.executemany(_INSERT_MESSAGE, rows)
        self._conn.execute("UPDATE meta SET value = ? WHERE key = 'next_outbound_id'", (first + len(messages),))
        return ids

    # -- Telnyx ----------------------------------------------------------------------------------

    def record_telnyx(
        self,
        message: NewMessage,
        *,
        message_id: str,
        data: dict[str, Any],
        now: float,
        release_at: float | None,
        delivery_delay_s: float,
        idempotency: IdempotencyRecord | None = None,
    ) -> IdempotencyRecord | None:
        """Record one Telnyx message (and its ``Idempotency-Key`` answer) in one transaction.

        If a concurrent request already stored the same key, nothing is recorded and that record is
        returned instead; otherwise None.
        """
        with self._lock:
            if idempotency is not None:
                earlier = self._get_idempotency(idempotency.key, idempotency.method, idempotency.path, now)
                if earlier is not None:
                    return earlier
            with self._conn:
                self._insert_messages(
                    [message],
                    message_id=message_id,
                    request_id=None,
                    ext=None,
                    tag_text=None,
                    sender_name=None,
                    now=now,
                    release_at=release_at,
                    delivery_delay_s=delivery_delay_s,
                    provider="telnyx",
                )
                self._conn.execute(
                    "INSERT INTO telnyx_messages (message_id, data) VALUES (?, ?)",
                    (message_id, json.dumps(data, sort_keys=True)),
                )
                if idempotency is not None:
                    i = idempotency
                    self._conn.execute(
                        "INSERT OR REPLACE INTO telnyx_idempotency VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (i.key, i.method, i.path, i.fingerprint, i.status, i.body, i.created_at),
                    )
        return None

    def get_telnyx(self, message_id: str) -> tuple[MessageRow, dict[str, Any]] | None:
        """A Telnyx message and its extra data by its id, or None."""
        with self._lock:
            row = self._conn.execute(
                f"SELECT {_COLUMNS} FROM messages WHERE message_id = ? AND provider = 'telnyx'", (message_id,)
            ).fetchone()
            extra = self._conn.execute(
                "SELECT data FROM telnyx_messages WHERE message_id = ?", (message_id,)
            ).fetchone()
        if row is None or extra is None:
            return None
        data: dict[str, Any] = json.loads(extra[0])
        return MessageRow.from_row(row), data

    def telnyx_spent(self) -> list[str]:
        """The ``cost.amount`` of every Telnyx message (for the balance)."""
        with self._lock:
            rows = self._conn.execute("SELECT data FROM telnyx_messages").fetchall()
        return [str(json.loads(r[0])["cost"]["amount"]) for r in rows]

    # -- Bird ------------------------------------------------------------------------------------

    def record_bird(
        self,
        messages: Sequence[tuple[str, NewMessage, dict[str, Any]]],
        *,
        reference: str | None,
        now: float,
        delivery_delay_s: float,
    ) -> list[int]:
        """Record one Bird send in one transaction: per contact ``(message id, message, extra data)``,
        each its own ledger row; ``reference`` is stored as request id and external id. Returns the
        outbound ids."""
        ext = json.dumps(reference) if reference is not None else None
        ids: list[int] = []
        with self._lock, self._conn:
            for message_id, message, data in messages:
                ids += self._insert_messages(
                    [message],
                    message_id=message_id,
                    request_id=reference,
                    ext=ext,
                    tag_text=None,
                    sender_name=None,
                    now=now,
                    release_at=None,
                    delivery_delay_s=delivery_delay_s,
                    provider="bird",
                )
                self._conn.execute(
                    "INSERT INTO bird_messages (message_id, data) VALUES (?, ?)",
                    (message_id, json.dumps(data)),  # key order kept: GET answers the body as sent
                )
        return ids

    def get_bird(self, message_id: str) -> tuple[MessageRow, dict[str, Any]] | None:
        """A Bird message and its extra data by its id, or None."""
        with self._lock:
            row = self._conn.execute(
                f"SELECT {_COLUMNS} FROM messages WHERE message_id = ? AND provider = 'bird'", (message_id,)
            ).fetchone()
            extra = self._conn.execute("SELECT data FROM bird_messages WHERE message_id = ?", (message_id,)).fetchone()
        if row is None or extra is None:
            return None
        data: dict[str, Any] = json.loads(extra[0])
        return MessageRow.from_row(row), data

    def get_idempotency(self, key: str, method: str, path: str, now: float) -> IdempotencyRecord | None:
        """The accepted answer for a Telnyx ``Idempotency-Key`` younger than 24 hours, or None."""
        with self._lock:
            return self._get_idempotency(key, method, path, now)

    def _get_idempotency(self, key: str, method: str, path: str, now: float) -> IdempotencyRecord | None:
        row = self._conn.execute(
            "SELECT key, method, path, fingerprint, status, body, created_at FROM telnyx_idempotency"
            " WHERE key = ? AND method = ? AND path = ?",
            (key, method, path),
        ).fetchone()
        if row is None:
            return None
        record = IdempotencyRecord(*row)
        if now - record.created_at >= IDEMPOTENCY_TTL_S:
            with self._conn:
                self._conn.execute(
                    "DELETE FROM telnyx_idempotency WHERE key = ? AND method = ? AND path = ?", (key, method, path)
                )
            return None
        return record

    # -- messages ------------------------------------------------------------------------------

    def get_message(self, outbound_id: int) -> MessageRow | None:
        with self._lock:
            row = self._conn.execute(
                f"SELECT {_COLUMNS} FROM messages WHERE outbound_id = ? AND provider = 'mta'", (outbound_id,)
            ).fetchone()
        return MessageRow.from_row(row) if row else None

    def list_messages(
        self,
        *,
        to: str | None = None,
        message_id: str | None = None,
        request_id: str | None = None,
        provider: str | None = None,
        limit: int | None = None,
        offset: int = 0,
        newest_first: bool = False,
    ) -> list[MessageRow]:
        """Messages in outbound-id order, optionally filtered (admin route and inbox page)."""
        where: list[str] = []
        params: list[Any] = []
        filters = (("recipient", to), ("message_id", message_id), ("request_id", request_id), ("provider", provider))
        for column, value in filters:
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        sql = f"SELECT {_COLUMNS} FROM messages"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f" ORDER BY outbound_id {'DESC' if newest_first else 'ASC'} LIMIT ? OFFSET ?"
        params += [limit if limit is not None else -1, offset]
        with self._lock:
            rows = self._conn.execute(sql, params).fetchall()
        return [MessageRow.from_row(r) for r in rows]

    def count_messages(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0])

    def deliveries(self, q: DeliveryQuery, *, now: float) -> tuple[list[MessageRow], int]:
        """One page of ``GET /deliveries`` and the total number of matching rows."""
        where: list[str] = ["provider = 'mta'"]
        params: dict[str, Any] = {"now": now}
        if q.query:
            escaped = q.query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            where.append("recipient LIKE :query ESCAPE '\\'")
            params["query"] = f"%{escaped}%"
        if q.start is not None:
            where.append("created_at >= :start")
            params["start"] = q.start
        if q.end is not None:
            where.append("created_at < :end")
            params["end"] = q.end
        if q.type is not None:
            where.append("type = :type")
            params["type"] = q.type
        if q.message_id is not None:
            where.append("message_id = :message_id")
            params["message_id"] = q.message_id
        if q.statuses is not None:
            where.append(f"({status_sql()}) IN ({', '.join(str(int(s)) for s in q.statuses)})")
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        direction = "DESC" if q.descending else "ASC"
        order = f"{_SORT_COLUMNS[q.sort_by]} {direction}, outbound_id {direction}"
        params["limit"], params["offset"] = q.page_size, (q.page - 1) * q.page_size
        with self._lock:
            total = self._conn.execute(f"SELECT COUNT(*) FROM messages{clause}", params).fetchone()[0]
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM messages{clause} ORDER BY {order} LIMIT :limit OFFSET :offset",
                params,
            ).fetchall()
        return [MessageRow.from_row(r) for r in rows], int(total)

    def highest_outbound_id(self) -> int:
        """The highest outbound id stored (0 when there are none)."""
        with self._lock:
            return int(self._conn.execute("SELECT COALESCE(MAX(outbound_id), 0) FROM messages").fetchone()[0])

    def transitions(
        self, after: float, until: float, *, seen_up_to: int
    ) -> tuple[list[tuple[float, int, MessageRow]], int]:
        """``(at, status, message)`` for each SENT or final status reached in ``(after, until]``, in
        order, plus those of rows stored after outbound id ``seen_up_to`` whose status was reached
        earlier (a send that computed its times before a tick but was stored after it); and the
        highest outbound id stored now, to pass as ``seen_up_to`` next time."""
        out: list[tuple[float, int, MessageRow]] = []
        with self._lock:
            sent = self._conn.execute(
                f"SELECT {_COLUMNS} FROM messages WHERE (sent_at > ? AND sent_at <= ?)"
                " OR (outbound_id > ? AND sent_at <= ?)",
                (after, until, seen_up_to, after),
            ).fetchall()
            final = self._conn.execute(
                f"SELECT {_COLUMNS} FROM messages WHERE (final_at > ? AND final_at <= ?)"
                " OR (outbound_id > ? AND final_at <= ?)",
                (after, until, seen_up_to, after),
            ).fetchall()
            highest = int(self._conn.execute("SELECT COALESCE(MAX(outbound_id), 0) FROM messages").fetchone()[0])
        for row in sent:
            msg = MessageRow.from_row(row)
            out.append((msg.timeline.sent_at, SENT, msg))
        for row in final:
            msg = MessageRow.from_row(row)
            out.append((msg.timeline.final_at, msg.timeline.final_status, msg))
        out.sort(key=lambda item: (item[0], item[2].outbound_id, item[1] != SENT))
        return out, max(highest, seen_up_to)

    # -- webhooks ------------------------------------------------------------------------------

    def add_webhook(self, event: str, url: str, secret: str) -> Webhook:
        now = time.time()
        with self._lock, self._conn:
            cur = self._conn.execute(
                "INSERT INTO webhooks (event, url, secret, created_at) VALUES (?, ?, ?, ?)",
                (event, url, secret, now),
            )
            return Webhook(int(cur.lastrowid or 0), event, url, secret, now)

    def list_webhooks(self) -> list[Webhook]:
        with self._lock:
            sql = "SELECT id, event, url, secret, created_at FROM webhooks ORDER BY id"
            rows = self._conn.execute(sql).fetchall()
        return [Webhook(*row) for row in rows]

    def delete_webhook(self, webhook_id: int) -> bool:
        with self._lock, self._conn:
            return self._conn.execute("DELETE FROM webhooks WHERE id = ?", (webhook_id,)).rowcount > 0

    # -- groups --------------------------------------------------------------------------------

    def add_group(self, name: str, members: Iterable[str]) -> int:
        with self._lock, self._conn:
            sql = "INSERT INTO groups (name, created_at) VALUES (?, ?)"
            cur = self._conn.execute(sql, (name, time.time()))
            group_id = int(cur.lastrowid or 0)
            self._conn.executemany(
                "INSERT INTO group_members (group_id, position, recipient) VALUES (?, ?, ?)",
                ((group_id, i, m) for i, m in enumerate(members)),
            )
            return group_id

    def list_groups(self) -> list[tuple[int, str, list[str]]]:
        """``(id, name, members)`` of every group."""
        with self._lock:
            groups = self._conn.execute("SELECT id, name FROM groups ORDER BY id").fetchall()
            members = self._conn.execute(
                "SELECT group_id, recipient FROM group_members ORDER BY group_id, position"
            ).fetchall()
        by_group: dict[int, list[str]] = {}
        for group_id, recipient in members:
            by_group.setdefault(group_id, []).append(recipient)
        return [(gid, name, by_group.get(gid, [])) for gid, name in groups]

    # -- opt-outs -------------------------------------------------------------------------------

    def add_opt_outs(self, numbers: Iterable[str]) -> None:
        """Remember normalized numbers that opted out (texted STOP); a known one is kept as it was."""
        now = time.time()
        with self._lock, self._conn:
            self._conn.executemany(
                "INSERT OR IGNORE INTO opt_outs (recipient, created_at) VALUES (?, ?)", ((n, now) for n in numbers)
            )

    def list_opt_outs(self) -> list[str]:
        """The opted-out numbers, oldest first."""
        with self._lock:
            rows = self._conn.execute("SELECT recipient FROM opt_outs ORDER BY created_at, rowid").fetchall()
        return [row[0] for row in rows]

    def opted_out(self) -> frozenset[str]:
        """The opted-out numbers as a set, for rendering a send."""
        return frozenset(self.list_opt_outs())

    def remove_opt_out(self, number: str) -> None:
        """The number texted START: sends to it go through again."""
        with self._lock, self._conn:
            self._conn.execute("DELETE FROM opt_outs WHERE recipient = ?", (number,))

    def clear_opt_outs(self) -> None:
        with self._lock, self._conn:
            self._conn.execute("DELETE FROM opt_outs")

    # -- replies --------------------------------------------------------------------------------

    def record_reply(self, provider: str, from_number: str, to_number: str, text: str, now: float) -> Reply:
        """Store one reply; its thread is the sender's (made on the sender's first reply)."""
        with self._lock, self._conn:
            self._conn.execute("INSERT OR IGNORE INTO reply_threads (number) VALUES (?)", (from_number,))
            sql = "SELECT thread_id FROM reply_threads WHERE number = ?"
            thread_id = int(self._conn.execute(sql, (from_number,)).fetchone()[0])
            cur = self._conn.execute(
                "INSERT INTO replies (thread_id, provider, from_number, to_number, text, received_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (thread_id, provider, from_number, to_number, text, now),
            )
        return Reply(int(cur.lastrowid or 0), thread_id, provider, from_number, to_number, text, now)

    def list_replies(self, *, limit: int) -> list[Reply]:
        """The latest ``limit`` replies, newest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT reply_id, thread_id, provider, from_number, to_number, text, received_at FROM replies"
                " ORDER BY reply_id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [Reply(*row) for row in rows]

    def count_replies(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM replies").fetchone()[0])

    # -- admin ---------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget messages, request ids, webhooks, groups, opt-outs, Telnyx idempotency keys, Bird data and
        replies.

        Outbound ids, thread ids and reply ids keep increasing.
        """
        with self._lock, self._conn:
            tables = ("messages", "requests", "webhooks", "groups", "group_members", "opt_outs", "replies")
            for table in (*tables, "telnyx_messages", "telnyx_idempotency", "bird_messages", "reply_threads"):
                self._conn.execute(f"DELETE FROM {table}")
