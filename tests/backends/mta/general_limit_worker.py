"""What a spawned process runs against MTA's general limit: delivery lookups through MtaHook (its connection
and the Redis connection come from the environment the parent set)."""

from __future__ import annotations

import time


def lookups(conn_id: str, outbound_id: int, count: int) -> tuple[float, float]:
    """``count`` delivery reports of ``outbound_id`` (no retries: a 429 raises); the monotonic clock (one per
    machine) before the first and after the last."""
    from airflow_provider_mta.hooks.mta import MtaHook

    hook = MtaHook(conn_id, max_retries=0)
    first = time.monotonic()
    for _ in range(count):
        hook.get_delivery_report(outbound_id)
    return first, time.monotonic()
