"""The fault matrix of a 10,000-recipient batch: one row per fault, checked against the sandbox ledger.

Tests call :func:`ledger_counts` to check a run (0 duplicates, 0 missing) and :func:`record` to add
their row; at the end of the session ``tests/reliability/conftest.py`` prints the Markdown table and
writes it to ``fault-matrix.md`` (and ``.json``) in pytest's base temp directory (the path is printed).
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROWS: list[MatrixRow] = []
NOTES: list[str] = []
SECTIONS: dict[str, str] = {}  # other reports of the reliability suite (e.g. the secrets scan), by title

RECIPIENTS = 10_000
CHUNK_SIZE = 500
MESSAGE = "Hi {{ first_name }}, your code is {{ code }}"


def phone(i: int) -> str:
    return f"+1317{5550000 + i:07d}"


def recipient_rows(n: int = RECIPIENTS) -> Iterator[dict[str, Any]]:
    """The batch's rows (a generator: read again on every try, like a SQL cursor)."""
    for i in range(n):
        yield {"phone": phone(i), "first_name": f"R{i}", "code": f"{i * 7919 % 100_000:05d}"}


def expected_texts(n: int = RECIPIENTS) -> dict[str, str]:
    return {row["phone"]: f"Hi {row['first_name']}, your code is {row['code']}" for row in recipient_rows(n)}


@dataclass
class LedgerCounts:
    """What the sandbox's ledger holds compared with the recipients that should have one text each."""

    texts: int
    recipients: int
    duplicates: int
    missing: int
    unexpected: int
    wrong_text: int

    @property
    def exactly_once(self) -> bool:
        return not (self.duplicates or self.missing or self.unexpected or self.wrong_text)


def ledger_counts(ledger: Iterable[dict[str, Any]], expected: dict[str, str]) -> LedgerCounts:
    rows = list(ledger)
    per_phone = Counter(m["to"] for m in rows)
    return LedgerCounts(
        texts=len(rows),
        recipients=len(per_phone),
        duplicates=sum(n - 1 for n in per_phone.values() if n > 1),
        missing=len(expected.keys() - per_phone.keys()),
        unexpected=len(per_phone.keys() - expected.keys()),
        wrong_text=sum(1 for m in rows if expected.get(m["to"]) not in (None, m["text"])),
    )


@dataclass
class MatrixRow:
    """One fault scenario and what it cost."""

    fault: str
    recovery: str
    recipients: int
    ledger: LedgerCounts
    send_requests: int  # POST /send requests the sandbox received (every attempt, faulted ones included)
    chunks: int
    faults_fired: int
    conflicts: int  # 409s: a chunk MTA already had, not texted again
    rate_limited: int  # 429s (injected or from the server's own limit)
    tries: int  # Airflow task tries
    seconds: float
    test: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def retries(self) -> int:
        """Extra POST /send attempts beyond one per chunk."""
        return self.send_requests - self.chunks


def record(row: MatrixRow) -> MatrixRow:
    ROWS.append(row)
    return row


def row_from_stats(
    *,
    fault: str,
    recovery: str,
    stats: dict[str, Any],
    ledger: LedgerCounts,
    chunks: int,
    tries: int,
    seconds: float,
    test: str,
    recipients: int = RECIPIENTS,
) -> MatrixRow:
    """A row from the sandbox's ``/_sandbox/stats`` counters."""
    return MatrixRow(
        fault=fault,
        recovery=recovery,
        recipients=recipients,
        ledger=ledger,
        send_requests=int(stats.get("sendRequests", 0)),
        chunks=chunks,
        faults_fired=int(stats.get("faultsFired", 0)),
        conflicts=int(stats.get("conflicts", 0)),
        rate_limited=int(stats.get("rateLimited", 0)),
        tries=tries,
        seconds=seconds,
        test=test,
    )


def spread_faults(
    sandbox: Any, kinds: list[tuple[str, int | None]], *, chunks: int, seed: int, first: int = 1
) -> list[int]:
    """Queue one fault per ``(kind, status)`` at distinct random chunks (fixed ``seed``); returns the chunks.

    Each fault is aimed with the sandbox's ``after``: a faulted chunk is sent once more (client retry or
    Airflow retry, both with the same request id), which the next fault's ``after`` counts.
    """
    rng = random.Random(seed)
    targets = sorted(rng.sample(range(first, chunks), len(kinds)))
    previous = None
    for (kind, status), chunk in zip(kinds, targets, strict=True):
        after = chunk if previous is None else chunk - previous
        sandbox.fault(kind, count=1, status=status, after=after)
        previous = chunk
    return [c + 1 for c in targets]  # 1-based, as the task log counts chunks


@contextmanager
def stopwatch() -> Iterator[list[float]]:
    box = [0.0]
    started = time.monotonic()
    try:
        yield box
    finally:
        box[0] = time.monotonic() - started


def render(rows: list[MatrixRow] | None = None, notes: list[str] | None = None) -> str:
    """The matrix as a Markdown table."""
    rows = ROWS if rows is None else rows
    notes = NOTES if notes is None else notes
    header = (
        "| Fault | Recovery | Recipients | Texts in ledger | Duplicates | Missing | POST /send requests "
        "| Retries | 409s | 429s | Faults fired | Task tries | Wall time |\n"
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n"
    )
    lines = [
        f"| {r.fault} | {r.recovery} | {r.recipients:,} | {r.ledger.texts:,} | {r.ledger.duplicates} | "
        f"{r.ledger.missing} | {r.send_requests} | {r.retries} | {r.conflicts} | {r.rate_limited} | "
        f"{r.faults_fired} | {r.tries} | {r.seconds:.1f} s |"
        for r in rows
    ]
    text = header + "\n".join(lines) + "\n"
    if notes:
        text += "\n" + "\n".join(f"- {n}" for n in notes) + "\n"
    return text


def report() -> str:
    """Everything the reliability suite measured in this session, as Markdown."""
    parts = []
    if ROWS:
        parts.append("## Fault matrix\n\n" + render())
    parts += [f"## {title}\n\n{text.rstrip()}\n" for title, text in SECTIONS.items()]
    return "\n".join(parts)


def write(directory: Path) -> Path:
    """Write ``reliability-report.md`` and ``fault-matrix.json``; returns the Markdown file."""
    directory.mkdir(parents=True, exist_ok=True)
    md = directory / "reliability-report.md"
    md.write_text(report())
    data = [{**asdict(r), "retries": r.retries} for r in ROWS]
    (directory / "fault-matrix.json").write_text(json.dumps(data, indent=2))
    return md


def record_run(
    sandbox: Any,
    *,
    fault: str,
    recovery: str,
    expected: dict[str, str],
    chunks: int,
    tries: int,
    seconds: float,
    test: str,
) -> MatrixRow:
    """Check the ledger of a finished run and add its row (call after the run, before any reset)."""
    counts = ledger_counts(sandbox.messages(), expected)
    return record(
        row_from_stats(
            fault=fault,
            recovery=recovery,
            stats=sandbox.stats(),
            ledger=counts,
            chunks=chunks,
            tries=tries,
            seconds=seconds,
            test=test,
            recipients=len(expected),
        )
    )
