"""Scale-out: P worker processes sending one batch for one account, with and without the shared limit.

For each P (``--procs``, default 1, 2, 4, 8) and each mode, P spawned processes each run
``BatchPersonalizedSmsOperator`` in-process (as bench/throughput.py does: a dict context, a stand-in
task state store, the rows handed over as an XComArg would be) with ``partition=(i, P)`` over the
same ``--recipients`` rows, against one sandbox process that allows N sends per window of W
seconds (the limit scaled down so the batch needs about ``--target-seconds``). Every process
imports, builds its operator and reads its connection first, then all start together (a barrier).

Modes (the connection's extras):

* ``shared``: ``send_rate_limit`` N/W and ``rate_limit_conn_id`` naming a ``redis`` connection: one
  account-wide budget in Redis (``--redis-db``; its keys for this account are deleted between runs).
* ``local``: ``send_rate_limit`` N/W only: each process paces itself, so P processes may together send
  up to P times the limit (the sandbox answers 429 and the client waits out Retry-After).
* ``divide``: ``send_rate_limit`` floor(N/P)/W per process, the usual workaround without a shared
  limit (at least 1 per window).

Per run: wall time (the barrier to the last process's end) over the floor the account's limit allows
for the K sends all processes made (``(ceil(K / N) - 1) x W + L``, as in bench/throughput.py), the
sending phase (first send start to last send end) over the same floor, the 429s the sandbox
answered, and the ledger checked against the rows: duplicates (a number texted more than once) and
missing (a row's number never texted).

    .venv/bin/python bench/scale_out.py --recipients 40000
    .venv/bin/python bench/scale_out.py --quick
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import sys
import tempfile
import time
from types import SimpleNamespace
from typing import Any

from _common import MESSAGE, load, machine, phone, rows

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

API_KEY = "bench-key"
GOAL = 1.05
MODES = ("shared", "local", "divide")


def worker(index: int, count: int, recipients: int, chunk_size: int, conn: str, barrier: Any, out: Any) -> None:
    """One partition, in its own process: ready, wait for the others, run, report the timings."""
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


def run_once(
    *, procs: int, mode: str, args: argparse.Namespace, sandbox: Any, per_window: int, window: float
) -> dict[str, Any]:
    extra: dict[str, Any] = {"send_rate_limit": f"{per_window}/{window:.3f}"}
    if mode == "shared":
        extra["rate_limit_conn_id"] = "redis_limit"
    elif mode == "divide":
        extra["send_rate_limit"] = f"{max(1, per_window // procs)}/{window:.3f}"
    conn = json.dumps({"conn_type": "mta", "host": sandbox.base_url, "password": API_KEY, "extra": extra})
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(procs), ctx.Queue()
    workers = [
        ctx.Process(target=worker, args=(i, procs, args.recipients, args.chunk_size, conn, barrier, out))
        for i in range(procs)
    ]
    for p in workers:
        p.start()
    results = [out.get(timeout=args.timeout) for _ in workers]
    for p in workers:
        p.join(timeout=30)
    stats = sandbox.stats()
    texted = [m["to"] for m in sandbox.messages()]
    expected = {phone_e164(i) for i in range(args.recipients)}
    sends = [s for r in results for s in r["sends"]]
    start = min(r["start"] for r in results)
    k = len(sends)
    floor = max(math.ceil(k / per_window) - 1, 0) * window + args.latency_ms / 1000
    return {
        "P": procs,
        "mode": mode,
        "limit": extra["send_rate_limit"],
        "K": k,
        "floor": floor,
        "wall": max(r["end"] for r in results) - start,
        "sending": max(e for _, e in sends) - min(s for s, _ in sends) if sends else 0.0,
        "429": stats["rateLimited"],
        "duplicates": len(texted) - len(set(texted)),
        "missing": len(expected - set(texted)),
        "failed": [r["error"] for r in results if r["error"]],
    }


def phone_e164(i: int) -> str:
    """``phone(i)`` (bench/_common.py, three formats) normalized to E.164."""
    digits = "".join(ch for ch in phone(i) if ch.isdigit())
    return "+" + (digits if digits.startswith("1") and len(digits) == 11 else "1" + digits)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=40_000)
    parser.add_argument("--procs", default="1,2,4,8", help="comma-separated process counts")
    parser.add_argument("--modes", default=",".join(MODES), help=f"comma-separated, of {', '.join(MODES)}")
    parser.add_argument("--chunk-size", type=int, default=500)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--per-window", type=int, default=10, help="N of the account's N/SECONDS limit")
    parser.add_argument("--target-seconds", type=float, default=20.0, help="the floor the window is scaled to")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13", help="Redis for the shared limit")
    parser.add_argument("--timeout", type=float, default=600.0, help="per run")
    parser.add_argument("--quick", action="store_true", help="a tiny run: 600 recipients, P = 1, 2, floor ~2 s")
    args = parser.parse_args()
    if args.quick:
        args.recipients, args.procs, args.chunk_size, args.target_seconds = 600, "1,2", 50, 2.0
    procs = [int(p) for p in args.procs.split(",")]
    modes = [m for m in args.modes.split(",") if m]
    assert set(modes) <= set(MODES), modes

    sends = math.ceil(args.recipients / args.chunk_size)
    windows = max(math.ceil(sends / args.per_window) - 1, 1)
    per_window, window = args.per_window, args.target_seconds / windows

    import redis as redis_lib

    from airflow_provider_mta.sandbox.testing import SandboxProcess

    os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="bench-af-")
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "ERROR")  # not each worker's warnings
    os.environ["AIRFLOW__MTA__QUIET_HOURS"] = "off"
    parsed = redis_lib.Redis.from_url(args.redis_url)
    kw = parsed.connection_pool.connection_kwargs
    redis_conn = {"conn_type": "redis", "host": kw["host"], "port": kw["port"], "extra": {"db": kw.get("db", 0)}}
    os.environ["AIRFLOW_CONN_REDIS_LIMIT"] = json.dumps(redis_conn)

    print(f"Machine: {machine()}")
    sandbox_args = ("--latency-ms", str(args.latency_ms), "--send-rate-limit", f"{per_window}/{window:.3f}")
    sandbox_args += ("--delivery-delay-s", "0", "--log-level", "warning")
    sandbox = SandboxProcess(api_keys=(API_KEY,), args=sandbox_args).start()
    print(
        f"{args.recipients:,} recipients, chunks of {args.chunk_size}; sandbox latency {args.latency_ms} ms, "
        f"account limit {per_window}/{window:.3f} (sandbox); P = {procs}; {load()}\n"
    )
    results = []
    try:
        for p in procs:
            for mode in modes:
                sandbox.reset()
                for key in parsed.scan_iter("airflow_provider_mta:send:*"):
                    parsed.delete(key)
                results.append(
                    run_once(procs=p, mode=mode, args=args, sandbox=sandbox, per_window=per_window, window=window)
                )
                r = results[-1]
                print(f"  P={p} {mode}: wall {r['wall']:.2f} s, floor {r['floor']:.2f} s, 429s {r['429']}", flush=True)
                time.sleep(window + 0.1)  # the last window passes before the next run
    finally:
        sandbox.stop()
        for key in parsed.scan_iter("airflow_provider_mta:send:*"):
            parsed.delete(key)
        parsed.close()

    print(
        "\n| P | mode | limit per process | /send calls (K) | floor | wall | wall / floor | sending / floor "
        "| 429s | duplicates | missing | tasks failed |"
    )
    print("|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['P']} | {r['mode']} | {r['limit']} | {r['K']} | {r['floor']:.2f} s | {r['wall']:.2f} s "
            f"| {r['wall'] / r['floor']:.3f} | {r['sending'] / r['floor']:.3f} | {r['429']} | {r['duplicates']} "
            f"| {r['missing']} | {len(r['failed'])} of {r['P']} |"
        )
    for r in results:
        for error in r["failed"]:
            print(f"P={r['P']} {r['mode']}: a task failed: {error}")
    shared = [r for r in results if r["mode"] == "shared"]
    if shared:
        worst = max(r["wall"] / r["floor"] for r in shared)
        errors = sum(r["429"] for r in shared)
        ledger = sum(r["duplicates"] + r["missing"] + len(r["failed"]) for r in shared)
        print(
            f"\nshared limiter: worst wall / floor = {worst:.3f} (goal ≤ {GOAL}): "
            f"{'met' if worst <= GOAL else 'missed'}; 429s: {errors} (goal 0): {'met' if errors == 0 else 'missed'}; "
            f"duplicates + missing + failed tasks: {ledger}; {load()}"
        )


if __name__ == "__main__":
    main()
