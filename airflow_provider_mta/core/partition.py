"""Partitions of a batch: which of ``count`` tasks owns a row, by a stable hash of its normalized recipient.

Two rows with the same recipient written two ways (``+13175551234``, ``(317) 555-1234``) normalize to the
same E.164 text, so they land in the same partition, where the batch's de-duplication merges them. A row
without a valid recipient belongs to the partition its raw value (as stripped text) hashes to, so exactly
one partition counts and reports it. The hash is BLAKE2b, stable across processes and Python versions
(unlike ``hash()``, which is salted per process).
"""

from __future__ import annotations

import hashlib
from typing import Any

from airflow_provider_mta.core.errors import MtaValidationError


def partition_of(key: str, count: int) -> int:
    """The partition (``0 <= p < count``) that owns ``key``: a normalized recipient, or an invalid row's raw text."""
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "big") % count


def raw_key(raw: Any) -> str:
    """The text an invalid recipient is partitioned by: its value stripped (``None`` is the empty text)."""
    return "" if raw is None else str(raw).strip()


def check_partition(value: Any) -> tuple[int, int]:
    """``(index, count)`` from a tuple or list of two integers with ``0 <= index < count``; else an error naming it."""
    if isinstance(value, (tuple, list)) and len(value) == 2:
        index, count = value
        if all(isinstance(v, int) and not isinstance(v, bool) for v in (index, count)):
            if count < 1:
                problem = f"count must be 1 or more, not {count}"
            elif not 0 <= index < count:
                problem = f"index must be from 0 to {count - 1} (count {count}), not {index}"
            else:
                return int(index), int(count)
            raise MtaValidationError(f"partition: {problem}", field="partition")
    raise MtaValidationError(
        f"partition: expected (index, count), two integers with 0 <= index < count, e.g. (0, 8); got {value!r}",
        field="partition",
    )
