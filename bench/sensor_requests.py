"""Delivery-sensor requests per check for 1,000, 20,000 and 100,000 recipients, this code and another checkout's.

The sandbox runs as its own process without a send limit and with delivery delay 0; each size is sent
as chunks of ``--chunk-size`` (one ``POST /v3/send`` each, as the batch operator does), so the sensor
watches one message id per chunk. Then ``MtaDeliverySensor.check()`` runs in this process again and
again until it has read every chunk once (one round), counting the HTTP requests each check makes.
The connection's own pacing is off (``general_rate_limit=0``) so that the bench counts requests
rather than waiting; "minutes of the limit" is what a check costs of MTA's general limit of 30
requests a minute.

Two sandboxes: one that honours ``filters[messageId]`` (this sandbox's extension) and one started
with ``--ignore-message-id-filter``, as an MTA that does not know the filter would. ``--code-root``
imports the provider from another checkout (an older commit: the "before" rows)::

    git worktree add /tmp/mta-before <commit>
    .venv/bin/python bench/sensor_requests.py --code-root /tmp/mta-before --label before
    .venv/bin/python bench/sensor_requests.py --label after
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from typing import Any

API_KEY = "bench-key"
GENERAL_LIMIT_PER_MINUTE = 30


def send_chunks(sandbox: Any, *, recipients: int, chunk_size: int) -> list[str]:
    """Send ``recipients`` distinct numbers in chunks straight to the sandbox; returns the message ids."""
    client = sandbox.client()
    message_ids = []
    for start in range(0, recipients, chunk_size):
        numbers = [f"+1317{5550000 + i:07d}" for i in range(start, min(start + chunk_size, recipients))]
        answer = client.post("/v3/send", json={"subscribers": numbers, "message": "Your order shipped"}, timeout=120)
        answer.raise_for_status()
        message_ids.append(answer.json()["data"]["messageId"])
    return message_ids


def measure(*, base_url: str, message_ids: list[str], recipients: int, max_requests: int) -> dict[str, Any]:
    """Run checks until one round is read (or ``max_requests`` is passed); requests per check and more."""
    from airflow_provider_mta.sensors.delivery import MtaDeliverySensor

    extra = {"general_rate_limit": "0", "max_retries": 0}
    os.environ["AIRFLOW_CONN_MTA_BENCH"] = json.dumps(
        {"conn_type": "mta", "host": base_url, "password": API_KEY, "extra": extra}
    )
    result = {"message_ids": message_ids, "outbound_ids": None, "sent": recipients, "total_sent": recipients}
    sensor = MtaDeliverySensor(task_id="bench", send_result=result, mta_conn_id="mta_bench", fail_on="never")
    hook, counted = sensor.hook, [0]
    for name in ("list_deliveries", "get_delivery_report"):
        method = getattr(hook, name)

        def counting(*args: Any, _method: Any = method, **kwargs: Any) -> Any:
            counted[0] += 1
            if counted[0] > max_requests:
                raise RuntimeError("request cap")
            return _method(*args, **kwargs)

        setattr(hook, name, counting)
    per_check: list[int] = []
    started = time.perf_counter()
    summary: dict[str, Any] = {}
    capped = False
    while True:
        before = counted[0]
        try:
            summary = sensor.check()
        except RuntimeError:
            capped = True
            per_check.append(counted[0] - before)
            break
        per_check.append(counted[0] - before)
        tracker = sensor.tracker
        if getattr(tracker, "round_complete", True):  # older code: every check is a whole round
            break
    return {
        "first": per_check[0],
        "max": max(per_check),
        "checks": len(per_check),
        "round": sum(per_check),
        "seconds": time.perf_counter() - started,
        "state": "stopped at the cap" if capped else f"{summary.get('delivered', 0):,} delivered read",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,20000,100000")
    parser.add_argument("--chunk-size", type=int, default=500)
    parser.add_argument("--code-root", help="import airflow_provider_mta from this checkout")
    parser.add_argument("--label", default="this code")
    parser.add_argument("--max-requests", type=int, default=2000, help="stop a round after this many requests")
    args = parser.parse_args()
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path.insert(0, os.path.abspath(args.code_root) if args.code_root else here)
    sys.path.insert(1, os.path.join(here, "bench"))
    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="bench-af-"))
    os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "ERROR"
    import logging

    logging.getLogger("airflow_provider_mta").setLevel(logging.ERROR)
    from _common import load, machine

    import airflow_provider_mta
    from airflow_provider_mta.sandbox.testing import SandboxProcess

    print(f"Machine: {machine()}")
    print(f"Provider code: {os.path.dirname(airflow_provider_mta.__file__)} ({args.label})\n")
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    common = ("--send-rate-limit", "0", "--general-rate-limit", "0", "--delivery-delay-s", "0")
    for label, flags in (("honoured", ()), ("ignored", ("--ignore-message-id-filter",))):
        sandbox = SandboxProcess(api_keys=(API_KEY,), args=(*common, *flags, "--log-level", "warning")).start()
        try:
            for size in sizes:
                sandbox.reset()
                message_ids = send_chunks(sandbox, recipients=size, chunk_size=args.chunk_size)
                r = measure(
                    base_url=sandbox.base_url, message_ids=message_ids, recipients=size, max_requests=args.max_requests
                )
                rows.append((label, size, len(message_ids), r))
                print(f"  filter {label}, {size:,} recipients: {r}", flush=True)
        finally:
            sandbox.stop()
    print(f"\n{args.label}, {load()}\n")
    print(
        "| filters[messageId] | recipients | message ids | requests in check 1 | most in a check "
        "| checks to read all once | requests to read all once | minutes of the 30/min limit per check | result |"
    )
    print("|---|--:|--:|--:|--:|--:|--:|--:|---|")
    for label, size, mids, r in rows:
        minutes = r["max"] / GENERAL_LIMIT_PER_MINUTE
        print(
            f"| {label} | {size:,} | {mids:,} | {r['first']:,} | {r['max']:,} | {r['checks']:,} | {r['round']:,} "
            f"| {math.ceil(minutes * 10) / 10:.1f} | {r['state']} |"
        )


if __name__ == "__main__":
    main()
