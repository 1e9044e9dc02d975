"""Delivery-sensor requests to the SMS API per check for a 100,000-recipient batch, with and without webhooks.

The sandbox runs as its own process without a send limit and with a delivery delay (``--delay``, long
enough that every text is still pending when the sensor first reads the batch). The batch is sent in
chunks of 500 (one ``POST /v3/send`` each). Then ``MtaDeliverySensor.check()`` runs until the sensor
succeeds, at the default budget (10 requests a check), counting each check's requests to MTA:

1. checks until the sensor has read every chunk once (every text pending);
2. a wait until the sandbox's statuses are final;
3. checks until the sensor succeeds.

"with webhooks": the connection has a ``webhook_secret``, and before step 3 the final statuses are
written into the webhook event store as the receiver (``POST /sms-webhooks/<conn_id>``) stores them.
They are written straight from the sandbox's ledger because pushing 200,000 webhook requests through
an API server is not what this measures (the receiver's path is tested end to end in
``tests/integration/test_sms_webhooks.py``). "polling only": the same connection without the secret.

    .venv/bin/python bench/sensor_webhooks.py --recipients 100000
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(1, os.path.dirname(os.path.abspath(__file__)))

from sensor_requests import API_KEY, send_chunks


def run_checks(sensor: Any, counted: list[int], *, until_round_read: bool) -> list[int]:
    """Checks until the round is read (step 1) or the sensor decides (step 3); requests of each check."""
    per_check = []
    while True:
        before = counted[0]
        summary = sensor.check()
        per_check.append(counted[0] - before)
        if until_round_read and sensor.tracker.round_complete:
            return per_check
        if not until_round_read and summary["state"] != "pending":
            return per_check
        if len(per_check) > 1000:
            raise RuntimeError("the sensor did not decide in 1,000 checks")


def store_final_statuses(sandbox: Any, conn_id: str) -> int:
    """What the receiver would have stored from MTA's delivery webhooks: each text's final status."""
    from airflow_provider_mta.backends.mta.deliveries import classify
    from airflow_provider_mta.core.sms_event import SmsEvent
    from airflow_provider_mta.utils.sms_event_store import SmsEventStore

    events = []
    for m in sandbox.messages():
        status = classify(m["status"])
        events.append(
            SmsEvent(
                provider="mta", kind="delivery", event_id=f"{m['outboundId']}:{status.name}", number=m["to"],
                outbound_id=str(m["outboundId"]), status=status.name, outcome=status.outcome.value,
            )
        )  # fmt: skip
    store = SmsEventStore()
    try:
        return len(store.record(conn_id=conn_id, events=events))
    finally:
        store.close()


def measure(sandbox: Any, *, recipients: int, chunk_size: int, delay: float, webhooks: bool) -> dict[str, Any]:
    from airflow_provider_mta.sensors.delivery import MtaDeliverySensor

    sandbox.reset()
    message_ids = send_chunks(sandbox, recipients=recipients, chunk_size=chunk_size)
    sent_at = time.monotonic()  # the last chunk's send: every text is final ``delay`` after it
    extra: dict[str, Any] = {"general_rate_limit": "0", "max_retries": 0}
    if webhooks:
        extra["webhook_secret"] = "bench-webhook-secret"
    conn_id = "mta_bench_hooks" if webhooks else "mta_bench_poll"
    os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(
        {"conn_type": "mta", "host": sandbox.base_url, "password": API_KEY, "extra": extra}
    )
    result = {"message_ids": message_ids, "outbound_ids": None, "sent": recipients, "total_sent": recipients}
    sensor = MtaDeliverySensor(task_id="bench", send_result=result, sms_conn_id=conn_id, fail_on="never")
    counted = [0]
    hook = sensor.hook
    for name in ("list_deliveries", "get_delivery_report"):
        method = getattr(hook, name)

        def counting(*args: Any, _method: Any = method, **kwargs: Any) -> Any:
            counted[0] += 1
            return _method(*args, **kwargs)

        setattr(hook, name, counting)
    first = run_checks(sensor, counted, until_round_read=True)
    pending = sensor.tracker.summary(sensor.rule)["pending"]
    time.sleep(max(delay - (time.monotonic() - sent_at), 0) + 1.0)
    stored = store_final_statuses(sandbox, conn_id) if webhooks else 0
    then = run_checks(sensor, counted, until_round_read=False)
    summary = sensor.tracker.summary(sensor.rule)
    return {
        "mode": "with webhooks" if webhooks else "polling only",
        "message_ids": len(message_ids),
        "first_round": first,
        "pending_after_first_round": pending,
        "events_stored": stored,
        "after": then,
        "total": counted[0],
        "decided": f"{summary['state']}: {summary['delivered']:,} delivered, {summary['failed']:,} failed",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--chunk-size", type=int, default=500)
    parser.add_argument("--delay", type=float, default=90.0, help="the sandbox's delivery delay, seconds")
    args = parser.parse_args()
    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="bench-af-"))
    os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "ERROR"
    import logging

    logging.getLogger("airflow_provider_mta").setLevel(logging.ERROR)
    from _common import load, machine

    from airflow_provider_mta.sandbox.testing import SandboxProcess

    print(f"Machine: {machine()}\n")
    flags = ("--send-rate-limit", "0", "--general-rate-limit", "0", "--delivery-delay-s", str(args.delay))
    sandbox = SandboxProcess(api_keys=(API_KEY,), args=(*flags, "--log-level", "warning")).start()
    rows = []
    try:
        for webhooks in (False, True):
            rows.append(
                measure(
                    sandbox, recipients=args.recipients, chunk_size=args.chunk_size, delay=args.delay,
                    webhooks=webhooks,
                )
            )  # fmt: skip
            print(f"  {rows[-1]}", flush=True)
    finally:
        sandbox.stop()
    print(f"\n{args.recipients:,} recipients, chunks of {args.chunk_size}; {load()}\n")
    print(
        "| mode | message ids | checks to read every chunk once (all pending) | requests per check then "
        "| checks after the statuses were final | requests per check then | requests in all | result |"
    )
    print("|---|--:|--:|--:|--:|--:|--:|---|")
    for r in rows:
        first, after = r["first_round"], r["after"]
        print(
            f"| {r['mode']} | {r['message_ids']:,} | {len(first)} | {min(first)}-{max(first)} | {len(after)} "
            f"| {', '.join(str(n) for n in after)} | {r['total']:,} | {r['decided']} |"
        )


if __name__ == "__main__":
    main()
