"""An on-disk spool of validated recipients, so a batch of any size is read once and held in flat memory.

Validation writes each accepted recipient (in source order, first occurrence wins) to a temporary
SQLite file; sending reads it back a chunk at a time. The file is deleted on :meth:`close`.

Recipients carry a ``grp`` (the quiet-hours group of their time zones, ``""`` without quiet hours)
and a ``suppressed`` flag (opted out). Chunks never mix groups, so each chunk can have its own send
time; suppressed recipients keep their place in the chunks, so the chunk boundaries (and the
request ids derived from them) do not move when the opt-out list changes between two tries.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from typing import Any


class RecipientSpool:
    """Accepted recipients keyed by their exact string, numbered 1..N in the order they were added."""

    def __init__(self, *, directory: str | None = None) -> None:
        fd, self.path = tempfile.mkstemp(prefix="mta-batch-", suffix=".sqlite", dir=directory)
        os.close(fd)
        self._db = sqlite3.connect(self.path, isolation_level=None)
        self._db.executescript(
            """
            PRAGMA journal_mode = OFF;
            PRAGMA synchronous = OFF;
            PRAGMA cache_size = -4096;
            PRAGMA temp_store = FILE;
            CREATE TABLE recipients (
                seq INTEGER PRIMARY KEY,
                recipient TEXT NOT NULL UNIQUE,
                row_no INTEGER NOT NULL,
                props TEXT NOT NULL,
                grp TEXT NOT NULL DEFAULT '',
                suppressed INTEGER NOT NULL DEFAULT 0
            );
            BEGIN;
            """
        )
        self.count = 0
        self._grouped = False

    def add(
        self, recipient: str, row_no: int, props_json: str, *, group: str = "", suppressed: bool = False
    ) -> int | None:
        """Add a recipient; returns None when new, else the row number of its first occurrence."""
        if group or suppressed:
            self._grouped = self._grouped or bool(group)
            cur = self._db.execute(
                "INSERT OR IGNORE INTO recipients (recipient, row_no, props, grp, suppressed) VALUES (?, ?, ?, ?, ?)",
                (recipient, row_no, props_json, group, int(suppressed)),
            )
        else:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO recipients (recipient, row_no, props) VALUES (?, ?, ?)",
                (recipient, row_no, props_json),
            )
        if cur.rowcount == 1:
            self.count += 1
            return None
        first = self._db.execute("SELECT row_no FROM recipients WHERE recipient = ?", (recipient,)).fetchone()
        return int(first[0])

    def discard_last(self) -> None:
        """Take back the recipient :meth:`add` just added (it cannot be sent); no gap is left in the order."""
        self._db.execute("DELETE FROM recipients WHERE seq = (SELECT MAX(seq) FROM recipients)")
        self.count -= 1

    def props_of(self, recipient: str) -> str | None:
        """The stored properties (JSON) of a recipient."""
        row = self._db.execute("SELECT props FROM recipients WHERE recipient = ?", (recipient,)).fetchone()
        return str(row[0]) if row else None

    def finish(self) -> None:
        """End the write phase (one transaction for all adds)."""
        if self._db.in_transaction:
            self._db.execute("COMMIT")
        if self._grouped:
            self._db.execute("CREATE INDEX IF NOT EXISTS by_group ON recipients (grp, seq)")

    def groups(self) -> list[tuple[str, int, int]]:
        """``(group, recipients, suppressed)`` per group, in sending order (``""`` first, then by name)."""
        rows = self._db.execute(
            "SELECT grp, COUNT(*), SUM(suppressed) FROM recipients GROUP BY grp ORDER BY grp"
        ).fetchall()
        return [(str(g), int(n), int(s or 0)) for g, n, s in rows]

    def chunk_count(self, size: int) -> int:
        """How many chunks of at most ``size`` recipients :meth:`grouped_chunks` yields."""
        return sum(-(-n // size) for _, n, _ in self.groups()) if self._grouped else -(-self.count // size)

    def grouped_chunks(
        self, size: int, *, start: int = 0
    ) -> Iterator[tuple[int, str, list[tuple[str, dict[str, Any], bool]]]]:
        """Yield ``(index, group, [(recipient, properties, suppressed)])`` for every chunk from ``start`` on.

        Without groups the chunks are exactly those of :meth:`chunks`.
        """
        if not self._grouped:
            for index, rows in self._chunks_with_flags(size, start=start):
                yield index, "", rows
            return
        index = 0
        for group, count, _ in self.groups():
            chunks = -(-count // size)
            if index + chunks <= start:
                index += chunks
                continue
            skip = max(start - index, 0)
            after = (
                self._db.execute(
                    "SELECT seq FROM recipients WHERE grp = ? ORDER BY seq LIMIT 1 OFFSET ?", (group, skip * size)
                ).fetchone()[0]
                - 1
            )
            index += skip
            while True:
                page = self._db.execute(
                    "SELECT seq, recipient, props, suppressed FROM recipients WHERE grp = ? AND seq > ? "
                    "ORDER BY seq LIMIT ?",
                    (group, after, size),
                ).fetchall()
                if not page:
                    break
                after = page[-1][0]
                yield index, group, _decode([(r, p, f) for _, r, p, f in page])
                index += 1

    def _chunks_with_flags(
        self, size: int, *, start: int
    ) -> Iterator[tuple[int, list[tuple[str, dict[str, Any], bool]]]]:
        index = start
        while index * size < self.count:
            first = index * size
            rows = self._db.execute(
                "SELECT recipient, props, suppressed FROM recipients WHERE seq > ? AND seq <= ? ORDER BY seq",
                (first, first + size),
            ).fetchall()
            yield index, _decode(rows)
            index += 1

    def chunk(self, index: int, size: int) -> list[tuple[str, dict[str, Any]]]:
        """Recipients ``index*size+1 .. (index+1)*size`` with their properties."""
        start = index * size
        rows = self._db.execute(
            "SELECT recipient, props FROM recipients WHERE seq > ? AND seq <= ? ORDER BY seq", (start, start + size)
        ).fetchall()
        if not rows:
            return []
        # One JSON parse per chunk instead of one per recipient (each value is a JSON object).
        props = json.loads("[" + ",".join(p for _, p in rows) + "]")
        return [(str(r), p) for (r, _), p in zip(rows, props, strict=True)]

    def chunks(self, size: int, *, start: int = 0) -> Iterator[tuple[int, list[tuple[str, dict[str, Any]]]]]:
        """Yield ``(index, recipients)`` for every chunk from ``start`` on."""
        index = start
        while index * size < self.count:
            yield index, self.chunk(index, size)
            index += 1

    def close(self) -> None:
        """Close and delete the file."""
        self._db.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    def __enter__(self) -> RecipientSpool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _decode(rows: list[tuple[Any, Any, Any]]) -> list[tuple[str, dict[str, Any], bool]]:
    """``(recipient, properties, suppressed)`` rows with one JSON parse for the whole chunk."""
    if not rows:
        return []
    props = json.loads("[" + ",".join(p for _, p, _ in rows) + "]")
    return [(str(r), p, bool(f)) for (r, _, f), p in zip(rows, props, strict=True)]
