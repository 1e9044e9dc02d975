"""Throughput: N personalized recipients through BatchPersonalizedSmsOperator against the rate-limited sandbox.

The sandbox runs in its own process (``python -m airflow_provider_mta.sandbox``) with ``--latency-ms``
on every request and a fixed-window ``--send-rate-limit`` of ``--per-window`` sends per window; the
window is scaled so the batch needs about ``--target-seconds``. The connection's ``send_rate_limit``
extra is the same limit, so the hook paces itself. The operator runs in this process (as in
tests/operators/test_batch.py: a dict context and a stand-in task state store; the rows are handed
over as an XComArg would be, after template rendering), one ``POST /send`` per chunk.

Floor (the least time the rate limit allows, for any client): with K sends and N per window of W
seconds, the last send cannot start before ``(ceil(K / N) - 1) * W`` after the first one, and takes
at least the latency L, so ``floor = (ceil(K / N) - 1) * W + L``. Validation (every row read,
normalized and rendered before the first send, by design) is measured in the same run and reported
both inside and outside the floor.

Baseline: the naive loop, one ``MtaHook.send_message`` (one ``POST /send``) per recipient, paced by
the same hook under the same limit, over the first ``--baseline-recipients`` recipients, extrapolated.

    .venv/bin/python bench/throughput.py --recipients 100000
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from types import SimpleNamespace
from typing import Any

from _common import MESSAGE, load, machine, rows
from _fleet import API_KEY, floor_seconds, start_sandbox

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repository
from tests.reliability.helpers import StateStore

GOAL = 1.05


def scaled_rate(sends: int, per_window: int, target: float) -> str:
    windows = max(math.ceil(sends / per_window) - 1, 1)
    return f"{per_window}/{target / windows:.3f}"


def run_operator(data: list[dict[str, Any]], chunk_size: int) -> dict[str, Any]:
    """Execute the operator once; returns its XCom and the timings of validation and of each send."""
    from airflow_provider_mta.operators.batch import BatchPersonalizedSmsOperator

    ti = SimpleNamespace(dag_id="bench", task_id="batch", run_id="r1", map_index=-1, try_number=1)
    ctx: dict[str, Any] = {"ti": ti, "task_state_store": StateStore()}
    op = BatchPersonalizedSmsOperator(task_id="batch", rows=[], message=MESSAGE, chunk_size=chunk_size)
    op.render_template_fields(ctx)  # type: ignore[arg-type]
    op.rows = data  # resolved like an XComArg: the rows themselves are not Jinja-rendered

    marks: dict[str, Any] = {"send_starts": [], "send_ends": []}
    real_plan = op.plan

    def timed_plan(context: Any = None) -> Any:
        t0 = time.perf_counter()
        plan = real_plan(context)
        marks["validation"] = time.perf_counter() - t0
        return plan

    op.plan = timed_plan  # type: ignore[method-assign]
    client = op.hook.client  # reads the connection (before the clock starts, as a worker would)
    pacer = client.send_pacer
    assert pacer is not None, "the connection has no send_rate_limit"
    real_acquire = pacer.acquire

    def acquire() -> float:
        waited = real_acquire()
        marks["send_starts"].append(time.perf_counter())
        return waited

    pacer.acquire = acquire  # type: ignore[method-assign]
    real_send = client.send

    def send(request: Any, *, request_id: str | None = None) -> Any:
        result = real_send(request, request_id=request_id)
        marks["send_ends"].append(time.perf_counter())
        return result

    client.send = send  # type: ignore[method-assign]
    t0 = time.perf_counter()
    out = op.execute(ctx)  # type: ignore[arg-type]
    marks["wall"] = time.perf_counter() - t0
    marks["start"] = t0
    pacer.acquire = real_acquire  # type: ignore[method-assign]
    return {"xcom": out, **marks}


def run_naive(data: list[dict[str, Any]]) -> float:
    """One send_message per recipient through the same (paced) connection; returns the wall time."""
    from airflow_provider_mta.hooks.mta import MtaHook

    hook = MtaHook()
    hook.client  # noqa: B018 - read the connection before the clock starts
    t0 = time.perf_counter()
    for row in data:
        phone = row["phone"]
        hook.send_message(
            subscribers=[phone],
            message=MESSAGE,
            properties={phone: {"first_name": row["first_name"], "points": row["points"]}},
        )
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--chunk-size", type=int, default=500)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--per-window", type=int, default=10, help="N of the N/SECONDS rate limit")
    parser.add_argument("--target-seconds", type=float, default=60.0, help="the floor the window is scaled to")
    parser.add_argument("--rate", default=None, help="N/SECONDS; overrides --per-window/--target-seconds")
    parser.add_argument("--baseline-recipients", type=int, default=1_000)
    args = parser.parse_args()

    sends = math.ceil(args.recipients / args.chunk_size)
    rate = args.rate or scaled_rate(sends, args.per_window, args.target_seconds)
    per_window, window = int(rate.split("/")[0]), float(rate.split("/")[1])
    latency = args.latency_ms / 1000

    home = tempfile.mkdtemp(prefix="bench-af-")
    os.environ["AIRFLOW_HOME"] = home
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")  # the task log would bury the table

    print(f"Machine: {machine()}")
    data = rows(args.recipients)
    sandbox = start_sandbox(latency_ms=args.latency_ms, rate=rate)
    try:
        os.environ["AIRFLOW_CONN_MTA_DEFAULT"] = json.dumps(
            {
                "conn_type": "mta",
                "host": sandbox.base_url,
                "password": API_KEY,
                "extra": {"send_rate_limit": rate},
            }
        )
        print(
            f"{args.recipients:,} recipients, chunks of {args.chunk_size} = {sends} sends; sandbox latency "
            f"{args.latency_ms} ms, send rate limit {rate} (connection extra and sandbox); {load()}\n"
        )
        result = run_operator(data, args.chunk_size)
        stats = sandbox.stats()
        xcom = result["xcom"]
        assert xcom["sent"] == args.recipients == stats["recipientsAccepted"], (xcom, stats)
        op_429 = stats["rateLimited"]
        wall, validation = result["wall"], result["validation"]
        floor = floor_seconds(sends, per_window, window, latency)
        starts, ends = result["send_starts"], result["send_ends"]
        first_send = starts[0] - result["start"]
        spread = starts[-1] - starts[0]
        last = ends[-1] - starts[-1]
        after_validation = first_send - validation
        load_after_op = load()

        baseline_n = min(args.baseline_recipients, args.recipients)
        naive_wall = naive_429 = None
        if baseline_n:
            time.sleep(window + 0.1)  # let the operator's last window pass
            sandbox.reset()
            naive_wall = run_naive(data[:baseline_n])
            naive_429 = sandbox.stats()["rateLimited"]
        load_after_naive = load()
    finally:
        sandbox.stop()

    print(f"| {args.recipients:,} recipients, limit {rate}, latency {args.latency_ms} ms | value |")
    print("|---|---:|")
    print(f"| /send calls (K) | {sends} |")
    print(f"| rate-limit floor = (ceil(K/N) - 1) x W + L | {floor:.2f} s |")
    print(f"| (average-rate floor (K - 1) x W / N, for comparison) | {(sends - 1) * window / per_window:.2f} s |")
    print(f"| validation before the first send (V) | {validation:.2f} s |")
    print(f"| from validation done to the first send | {after_validation:.3f} s |")
    print(f"| first send start → last send start (floor part: {floor - latency:.2f} s) | {spread:.2f} s |")
    print(f"| last send (request + answer) | {last:.3f} s |")
    print(f"| wall time of execute() | {wall:.2f} s |")
    print(f"| 429s received (goal 0) | {op_429} |")
    print(f"| sending phase / floor = (wall - V) / floor | {(wall - validation) / floor:.3f} |")
    print(f"| wall / (V + floor) (validation counted in the floor) | {wall / (validation + floor):.3f} |")
    print(f"| wall / floor (validation counted as overhead) | {wall / floor:.3f} |")
    print(f"| load after the run | {load_after_op} |")
    if naive_wall is not None:
        naive_floor = floor_seconds(baseline_n, per_window, window, latency)
        extrapolated = naive_wall * args.recipients / baseline_n
        print(f"\n| baseline: one /send per recipient, first {baseline_n:,} | value |")
        print("|---|---:|")
        print(f"| wall time for {baseline_n:,} | {naive_wall:.1f} s (its floor {naive_floor:.1f} s) |")
        print(f"| 429s received | {naive_429} |")
        print(f"| extrapolated to {args.recipients:,} | {extrapolated:,.0f} s ({extrapolated / 3600:.1f} h) |")
        print(f"| operator is faster by | {extrapolated / wall:,.0f}x |")
        print(f"| load after the baseline | {load_after_naive} |")
    whole, sending = wall / floor, (wall - validation) / floor
    print(
        f"\nwall / floor = {whole:.3f} (goal ≤ {GOAL}): {'met' if whole <= GOAL else 'missed'}; "
        f"sending phase / floor = {sending:.3f}: {'met' if sending <= GOAL else 'missed'} "
        f"(validation, {validation:.2f} s, must end before the first send); "
        f"429s: {op_429} (goal 0): {'met' if op_429 == 0 else 'missed'}"
    )


if __name__ == "__main__":
    main()
