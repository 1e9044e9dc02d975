"""An on-disk spool of validated recipients, so a batch of any size is read once and held in flat memory.

Validation writes each accepted recipient (in source order, first occurrence wins) to a temporary
SQLite file; sending reads it back a chunk at a time. The file is deleted on :meth:`close`.
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
                props TEXT NOT NULL
            );
            BEGIN;
            """
        )
        self.count = 0

    def add(self, recipient: str, row_no: int, props_json: str) -> int | None:
        """Add a recipient; returns None when new, else the row number of its first occurrence."""
        cur = self._db.execute(
            "INSERT OR IGNORE INTO recipients (recipient, row_no, props) VALUES (?, ?, ?)",
            (recipient, row_no, props_json),
        )
        if cur.rowcount == 1:
            self.count += 1
            return None
        first = self._db.execute("SELECT row_no FROM recipients WHERE recipient = ?", (recipient,)).fetchone()
        return int(first[0])

    def props_of(self, recipient: str) -> str | None:
        """The stored properties (JSON) of a recipient."""
        row = self._db.execute("SELECT props FROM recipients WHERE recipient = ?", (recipient,)).fetchone()
        return str(row[0]) if row else None

    def finish(self) -> None:
        """End the write phase (one transaction for all adds)."""
        if self._db.in_transaction:
            self._db.execute("COMMIT")

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
