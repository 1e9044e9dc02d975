"""The batch fleet of bench/scale_out.py and bench/page_latency.py: P spawned processes sending one batch.

Each process runs ``BatchPersonalizedSmsOperator`` in-process (as bench/throughput.py does: a dict
context, a stand-in task state store, the rows handed over as an XComArg would be) with
``partition=(i, P)`` over the same rows, against one sandbox process with a scaled-down send limit;
each imports, builds its operator and reads its connections (the shared limit's Redis one too) before
a barrier, so all start together. Also here: the sandbox, the connections and the ledger check.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

from _common import MESSAGE, machine, phone, rows

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
API_KEY = "bench-key"
REDIS_CONN_ID = "redis_limit"
LIMIT_KEYS = "airflow_provider_mta:*"  # the shared limiter's Redis keys, every budget (core/shared_pacing.py)


def add_fleet_arguments(
    parser: argparse.ArgumentParser, *, recipients: int, chunk_size: int, modes: tuple[str, ...]
) -> None:
    """The options every fleet benchmark has: rows, chunks, modes, the sandbox's latency, Redis, a timeout."""
    parser.add_argument("--recipients", type=int, default=recipients)
    parser.add_argument("--modes", default=",".join(modes), help=f"comma-separated, of {', '.join(modes)}")
    parser.add_argument("--chunk-size", type=int, default=chunk_size)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13", help="Redis for the shared limit")
    parser.add_argument("--timeout", type=float, default=600.0, help="per run")


def airflow_env() -> None:
    """A fresh ``$AIRFLOW_HOME``, no examples, quiet logs (not each worker's warnings), no quiet hours."""
    os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="bench-af-")
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "ERROR")
    os.environ["AIRFLOW__MTA__QUIET_HOURS"] = "off"


def start_sandbox(*, latency_ms: int, rate: str) -> Any:
    """The sandbox as its own process, warmed with one personalized ``POST /v3/send/cost`` (not rate
    limited), so the server's imports are done before the clock starts."""
    from airflow_provider_mta.sandbox.testing import SandboxProcess

    args = ("--latency-ms", str(latency_ms), "--send-rate-limit", rate, "--delivery-delay-s", "0")
    sandbox = SandboxProcess(api_keys=(API_KEY,), args=(*args, "--log-level", "warning")).start()
    body = {"subscribers": ["+13175550000"], "message": MESSAGE}
    body["properties"] = {"+13175550000": {"first_name": "Ann", "points": "1"}}
    sandbox.client().post("/v3/send/cost", json=body).raise_for_status()
    return sandbox


def redis_limit(url: str) -> Any:
    """Point ``AIRFLOW_CONN_REDIS_LIMIT`` (the ``redis`` connection of ``rate_limit_conn_id``) at ``url``;
    returns a redis client for it (to clear the limiter's keys between runs)."""
    import redis as redis_lib

    client = redis_lib.Redis.from_url(url)
    kw = client.connection_pool.connection_kwargs
    conn = {"conn_type": "redis", "host": kw["host"], "port": kw["port"], "extra": {"db": kw.get("db", 0)}}
    os.environ[f"AIRFLOW_CONN_{REDIS_CONN_ID.upper()}"] = json.dumps(conn)
    return client


def clear_limit(client: Any) -> None:
    """Delete every account's shared-limit keys (log, pause, page mark) from the bench's Redis db."""
    for key in client.scan_iter(LIMIT_KEYS):
        client.delete(key)


@contextlib.contextmanager
def services(*, redis_url: str, latency_ms: int, rate: str) -> Iterator[tuple[Any, Any]]:
    """Airflow's environment, the machine line, the shared limit's Redis and the sandbox (its send limit
    ``rate``); yields (sandbox, redis client) and stops the sandbox and clears the limiter's keys at the end."""
    airflow_env()
    redis = redis_limit(redis_url)
    print(f"Machine: {machine()}")
    sandbox = start_sandbox(latency_ms=latency_ms, rate=rate)
    try:
        yield sandbox, redis
    finally:
        sandbox.stop()
        clear_limit(redis)
        redis.close()


def fresh(sandbox: Any, redis: Any) -> None:
    """Before a run: the sandbox's ledger and counters reset, every shared-limit key deleted."""
    sandbox.reset()
    clear_limit(redis)


def mta_conn(base_url: str, extra: dict[str, Any]) -> str:
    """``AIRFLOW_CONN_MTA_DEFAULT`` JSON for the sandbox with these extras."""
    return json.dumps({"conn_type": "mta", "host": base_url, "password": API_KEY, "extra": extra})


def floor_seconds(sends: int, per_window: int, window: float, latency: float) -> float:
    """The least time K sends need under N per window of W seconds: ``(ceil(K / N) - 1) x W + L``."""
    return max(math.ceil(sends / per_window) - 1, 0) * window + latency


def batch_worker(
    index: int,
    count: int,
    recipients: int,
    chunk_size: int,
    conn: str,
    barrier: Any,
    out: Any,
    first_send: Any = None,
) -> None:
    """One partition, in its own process: ready, wait for the others, run, report the timings.

    ``first_send`` (a multiprocessing Event), if given, is set when this process starts its first send.
    """
    if REPO not in sys.path:
        sys.path.insert(0, REPO)
    from tests.reliability.helpers import StateStore

    os.environ["AIRFLOW_CONN_MTA_DEFAULT"] = conn
    from airflow_provider_mta.operators.batch import BatchPersonalizedSmsOperator

    data = rows(recipients)
    ti = SimpleNamespace(dag_id="bench", task_id="batch", run_id="r1", map_index=index, try_number=1)
    ctx: dict[str, Any] = {"ti": ti, "task_state_store": StateStore()}
    op = BatchPersonalizedSmsOperator(
        task_id="batch", rows=[], message=MESSAGE, chunk_size=chunk_size, partition=(index, count)
    )
    op.render_template_fields(ctx)  # type: ignore[arg-type]
    op.rows = data
    client = op.hook.client  # reads the connection before the clock starts, as a worker would
    connector = getattr(client.send_pacer, "connector", None)  # the shared limiter's Redis connection
    if connector is not None:
        connector.sync_client()  # likewise read (it is otherwise read at the first send, ~0.3 s here)
    sends: list[tuple[float, float]] = []
    real_send = client.send

    def send(request: Any, *, request_id: str | None = None) -> Any:
        t0 = time.monotonic()
        if first_send is not None and not sends:
            first_send.set()
        result = real_send(request, request_id=request_id)
        sends.append((t0, time.monotonic()))
        return result

    client.send = send  # type: ignore[method-assign]
    barrier.wait()
    start = time.monotonic()
    error = None
    try:
        op.execute(ctx)  # type: ignore[arg-type]
    except Exception as exc:  # a task that gives up (429s beyond the retry budget) is a result too
        error = f"{type(exc).__name__}: {str(exc)[:200]}"
    end = time.monotonic()
    out.put({"index": index, "start": start, "end": end, "sends": sends, "error": error})


def spawn_fleet(
    ctx: Any,
    *,
    procs: int,
    recipients: int,
    chunk_size: int,
    conn: str,
    barrier: Any,
    out: Any,
    first_send: Any = None,
) -> list[Any]:
    """Start ``procs`` :func:`batch_worker` processes (``ctx``: a spawn multiprocessing context)."""
    workers = [
        ctx.Process(
            target=batch_worker, args=(i, procs, recipients, chunk_size, conn, barrier, out, first_send), daemon=True
        )
        for i in range(procs)
    ]
    for p in workers:
        p.start()
    return workers


def collect(workers: list[Any], out: Any, timeout: float) -> dict[str, Any]:
    """Every worker's report, then the fleet's: barrier to the last end, every send, the tasks that failed."""
    results = [out.get(timeout=timeout) for _ in workers]
    for p in workers:
        p.join(timeout=30)
    sends = [s for r in results for s in r["sends"]]
    start = min(r["start"] for r in results)
    return {
        "start": start,
        "wall": max(r["end"] for r in results) - start,
        "sends": sends,
        "sending": max(e for _, e in sends) - min(s for s, _ in sends) if sends else 0.0,
        "failed": [r["error"] for r in results if r["error"]],
    }


def phone_e164(i: int) -> str:
    """``phone(i)`` (bench/_common.py, three formats) normalized to E.164."""
    digits = "".join(ch for ch in phone(i) if ch.isdigit())
    return "+" + (digits if digits.startswith("1") and len(digits) == 11 else "1" + digits)


def ledger(texted: list[str], recipients: int) -> tuple[int, int]:
    """Duplicates (texts beyond the first to a number) and missing (row numbers never texted) of a batch."""
    expected = {phone_e164(i) for i in range(recipients)}
    return len(texted) - len(set(texted)), len(expected - set(texted))
