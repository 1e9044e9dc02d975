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
import math
import multiprocessing
import time
from typing import Any

from _common import load
from _fleet import (
    REDIS_CONN_ID,
    add_fleet_arguments,
    collect,
    floor_seconds,
    fresh,
    ledger,
    mta_conn,
    services,
    spawn_fleet,
)

GOAL = 1.05
MODES = ("shared", "local", "divide")


def run_once(
    *, procs: int, mode: str, args: argparse.Namespace, sandbox: Any, per_window: int, window: float
) -> dict[str, Any]:
    extra: dict[str, Any] = {"send_rate_limit": f"{per_window}/{window:.3f}"}
    if mode == "shared":
        extra["rate_limit_conn_id"] = REDIS_CONN_ID
    elif mode == "divide":
        extra["send_rate_limit"] = f"{max(1, per_window // procs)}/{window:.3f}"
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(procs), ctx.Queue()
    workers = spawn_fleet(
        ctx,
        procs=procs,
        recipients=args.recipients,
        chunk_size=args.chunk_size,
        conn=mta_conn(sandbox.base_url, extra),
        barrier=barrier,
        out=out,
    )
    fleet = collect(workers, out, args.timeout)
    stats = sandbox.stats()
    duplicates, missing = ledger([m["to"] for m in sandbox.messages()], args.recipients)
    k = len(fleet["sends"])
    return {
        "P": procs,
        "mode": mode,
        "limit": extra["send_rate_limit"],
        "K": k,
        "floor": floor_seconds(k, per_window, window, args.latency_ms / 1000),
        "wall": fleet["wall"],
        "sending": fleet["sending"],
        "429": stats["rateLimited"],
        "duplicates": duplicates,
        "missing": missing,
        "failed": fleet["failed"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_fleet_arguments(parser, recipients=40_000, chunk_size=500, modes=MODES)
    parser.add_argument("--procs", default="1,2,4,8", help="comma-separated process counts")
    parser.add_argument("--per-window", type=int, default=10, help="N of the account's N/SECONDS limit")
    parser.add_argument("--target-seconds", type=float, default=20.0, help="the floor the window is scaled to")
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

    limit = f"{per_window}/{window:.3f}"
    with services(redis_url=args.redis_url, latency_ms=args.latency_ms, rate=limit) as (sandbox, redis):
        print(
            f"{args.recipients:,} recipients, chunks of {args.chunk_size}; sandbox latency {args.latency_ms} ms, "
            f"account limit {limit} (sandbox); P = {procs}; {load()}\n"
        )
        results = []
        for p in procs:
            for mode in modes:
                fresh(sandbox, redis)
                results.append(
                    run_once(procs=p, mode=mode, args=args, sandbox=sandbox, per_window=per_window, window=window)
                )
                r = results[-1]
                print(f"  P={p} {mode}: wall {r['wall']:.2f} s, floor {r['floor']:.2f} s, 429s {r['429']}", flush=True)
                time.sleep(window + 0.1)  # the last window passes before the next run

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
