"""`make demo`: the example DAGs end to end against the local sandbox, in a throwaway Airflow home.

Starts the sandbox (texts take 2 s to be "delivered"), seeds a small SQLite customer table, starts
``airflow api-server`` (the provider's webhook receiver lives there; the sandbox's phone answers the
approval example's question through it), runs every DAG in ``dags_examples/`` with ``airflow dags test``,
prints what each phone received and its delivery status, stops the sandbox, and exits non-zero if any
step did not go as expected.
Nothing leaves 127.0.0.1. With ``--keep`` (``make demo KEEP=1``) the sandbox and its inbox page stay up
at the end until Ctrl-C, and the Airflow home with the DAG logs is kept.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
API_KEY = "sandbox-key"
ONCALL = "+13175550199"
APPROVER = "+13175550198"
WEBHOOK_SECRET = "demo-webhook-secret"

# dag_id -> expected outcome of `airflow dags test` (the on-call example fails on purpose)
DAGS = {
    "oncall_alert_on_failure": "failed",
    "nightly_personalized_batch": "success",
    "send_and_wait_for_delivery": "success",
    "hook_in_a_task": "success",
    "telnyx_send": "success",
    "approve_by_text": "success",  # the sandbox's phone answers YES; the reply arrives by webhook
    "oncall_failover": "failed",  # fails on purpose too, while MTA is down: the page goes through Telnyx
}

CUSTOMERS = [
    # phone, first_name, points, opted_in
    ("(317) 555-0121", "Ann", 120, 1),
    ("+1 317 555 0122", "Bob", 80, 1),
    ("317.555.0123", None, 45, 1),  # no first name: the batch's default "there" fills it
    ("+13175550121", "Ann (again)", 120, 1),  # duplicate of Ann: the first row wins
    ("555-01", "Typo", 10, 1),  # not a phone number: skipped with on_invalid="skip", and reported
    ("+13175550010", "Dee", 30, 1),  # the sandbox never delivers ...0010 (INVALID_NUMBER)
    ("+13175550125", "Eve", 99, 0),  # not opted in: not selected
]


def seed_customers(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, phone TEXT, first_name TEXT, points INT, opted_in INT)")
    db.executemany("INSERT INTO customers (phone, first_name, points, opted_in) VALUES (?, ?, ?, ?)", CUSTOMERS)
    db.commit()
    db.close()


def step(title: str) -> None:
    print(f"\n==> {title}", flush=True)


def run_dag(dag_id: str, env: dict[str, str], logs: Path) -> str:
    started = time.monotonic()
    log = logs / f"{dag_id}.log"
    with log.open("w") as fh:
        proc = subprocess.run(
            [AIRFLOW, "dags", "test", dag_id], env=env, stdout=fh, stderr=subprocess.STDOUT, check=False
        )
    finished = re.search(r"DagRun Finished: .*?, state=(\w+)", log.read_text())
    state = finished.group(1) if finished else "unfinished"
    intended = " (intended: the task fails so that on-call is paged)" if DAGS.get(dag_id) == "failed" == state else ""
    print(f"    {dag_id}: run {state}{intended} (exit {proc.returncode}) in {time.monotonic() - started:.0f} s")
    return state


@contextlib.contextmanager
def api_server(env: dict[str, str], logs: Path) -> Iterator[str]:
    """``airflow api-server`` on a free loopback port for the demo's webhooks; stopped with its process group."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    url = f"http://127.0.0.1:{port}"
    with (logs / "api-server.log").open("wb") as out:
        proc = subprocess.Popen(
            [AIRFLOW, "api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"airflow api-server did not start; see {logs / 'api-server.log'}")
            try:
                if httpx.post(f"{url}/sms-webhooks/-", timeout=2, trust_env=False).status_code == 404:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def answer_when_asked(sandbox: Any, phone: str, text: str) -> threading.Thread:
    """The approver's phone: once a text reaches ``phone``, reply ``text`` (as a person would, a bit later)."""

    def answer() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if any(m["to"] == phone for m in sandbox.messages()):
                time.sleep(1.0)
                sandbox.client().post("/_sandbox/reply", json={"from": phone, "text": text}).raise_for_status()
                print(f"    the phone ***{phone[-4:]} answered {text!r}", flush=True)
                return
            time.sleep(0.5)

    thread = threading.Thread(target=answer, name="approver-phone", daemon=True)
    thread.start()
    return thread


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/demo.py", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the sandbox (and its inbox page) up at the end until Ctrl-C, and keep the Airflow home and logs",
    )
    return parser.parse_args(argv)


def wait_for_ctrl_c() -> None:
    while True:
        time.sleep(3600)


def hold(url: str, logs: Path, wait: Callable[[], None] = wait_for_ctrl_c) -> None:
    """``--keep``: say where the inbox and the logs are, then serve until Ctrl-C (``wait`` returns or raises)."""
    print(f"\nThe sandbox is still up: inbox page {url}/ (the texts as JSON: {url}/_sandbox/messages)")
    print(f"The DAG runs' logs are kept in {logs}")
    print("Press Ctrl-C to stop the sandbox.", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        wait()
    print(f"\nSandbox stopped; its inbox page is gone. The logs stay in {logs} (remove its parent when done).")


def farewell(ok: bool, logs: Path) -> str:
    """The last line without ``--keep``: the sandbox is stopped, so no inbox URL; a log path only if kept."""
    if ok:
        return "The sandbox is stopped and the logs removed (`make demo KEEP=1` keeps both up until Ctrl-C)."
    return f"The sandbox is stopped; logs kept in {logs}"


def main(argv: list[str] | None = None) -> int:
    from airflow_provider_mta.core.masking import mask_recipient
    from airflow_provider_mta.sandbox.testing import SandboxServer

    keep = parse_args(argv).keep
    home = Path(tempfile.mkdtemp(prefix="mta-demo-"))
    logs = home / "demo-logs"
    logs.mkdir()
    problems: list[str] = []
    with SandboxServer(api_keys=(API_KEY,), delivery_delay_s=2.0) as sandbox:
        if keep:
            step(f"Sandbox on {sandbox.url} (inbox page: {sandbox.url}/, kept up at the end); logs in {logs}")
        else:
            step(f"Sandbox on {sandbox.url}, until the demo ends (`make demo KEEP=1` keeps it and its inbox page up)")
        seed_customers(home / "customers.db")
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags_examples"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW_CONN_MTA_DEFAULT": json.dumps(
                {
                    "conn_type": "mta",
                    "host": sandbox.base_url,
                    "password": API_KEY,
                    "extra": {"webhook_secret": WEBHOOK_SECRET},
                }
            ),
            "AIRFLOW_CONN_TELNYX_DEFAULT": json.dumps(
                {
                    "conn_type": "telnyx",
                    "host": sandbox.telnyx_base_url,
                    "password": API_KEY,
                    "extra": {"from": "+13125550100"},
                }
            ),
            "AIRFLOW_CONN_TELNYX_ONCALL": json.dumps(
                {
                    "conn_type": "telnyx",
                    "host": sandbox.telnyx_base_url,
                    "password": API_KEY,
                    "extra": {"from": "+13125550100"},
                }
            ),
            "AIRFLOW_CONN_BIRD_ONCALL": json.dumps(
                {
                    "conn_type": "bird",
                    "host": sandbox.url,
                    "password": API_KEY,
                    "extra": {"workspace_id": sandbox.bird_workspace_id, "channel_id": sandbox.bird_channel_id},
                }
            ),
            "AIRFLOW_CONN_CUSTOMERS_DB": json.dumps({"conn_type": "sqlite", "host": str(home / "customers.db")}),
            "AIRFLOW_VAR_MTA_ONCALL_PHONE": ONCALL,
            "AIRFLOW_VAR_MTA_APPROVER_PHONE": APPROVER,
            # Batches hold back texts that would arrive outside 08:00-21:00 at each customer's location
            # ([mta] quiet_hours, docs/compliance.md); the demo turns that default off so it shows the same
            # texts at any hour of the day.
            "AIRFLOW__MTA__QUIET_HOURS": "off",
        }
        print("    quiet hours ([mta] quiet_hours) are off for the demo, so it runs the same at any hour")
        step("airflow db migrate")
        migrate = subprocess.run([AIRFLOW, "db", "migrate"], env=env, capture_output=True, text=True, check=False)
        if migrate.returncode:
            print(migrate.stdout[-2000:], migrate.stderr[-2000:])
            return 1
        step("Starting `airflow api-server` (it hosts the provider's webhook receiver, /sms-webhooks/<conn_id>)")
        with api_server(env, logs) as api:
            for event in ("message-reply", "number-opt-in"):
                hook = {"event": event, "url": f"{api}/sms-webhooks/mta_default", "secret": WEBHOOK_SECRET}
                sandbox.client().post("/v3/webhooks", json=hook).raise_for_status()
            print(f"    {api}; MTA's message-reply webhook points at {api}/sms-webhooks/mta_default")
            step("Running the example DAGs with `airflow dags test`")
            for dag_id, expected in DAGS.items():
                if dag_id == "oncall_failover":
                    sandbox.fault("status", count=20, status=503)
                    print("    MTA outage from here on: every POST /v3/send answers 503, so pages must fail over")
                phone = answer_when_asked(sandbox, APPROVER, "YES") if dag_id == "approve_by_text" else None
                state = run_dag(dag_id, env, logs)
                if phone is not None:
                    phone.join(timeout=5)
                if state != expected:
                    problems.append(f"{dag_id} ended {state}, expected {expected}")
        time.sleep(2.5)  # let the last texts reach their final status
        messages = sandbox.messages()
        step("What each phone received")
        print(f"{'phone':<10} {'via':<7} {'status':<15} text")
        for m in sorted(messages, key=lambda m: (m["to"], m["createdAt"])):
            print(f"{mask_recipient(m['to']):<10} {m.get('provider', 'mta'):<7} {m['status']:<15} {m['text']}")
        problems += check_ledger(messages)
        if problems:
            print("\nDEMO FAILED:\n  " + "\n  ".join(problems))
        else:
            print(f"\nDemo OK: {len(messages)} texts, {len({m['to'] for m in messages})} phones, all as expected.")
        if keep:
            hold(sandbox.url, logs)
            return 1 if problems else 0
    if not problems:
        shutil.rmtree(home, ignore_errors=True)
    print(farewell(not problems, logs))
    return 1 if problems else 0


def check_ledger(messages: list[dict]) -> list[str]:
    """The texts the example DAGs must have produced, exactly once each."""
    problems = []
    by_phone: dict[str, list[str]] = {}
    for m in messages:
        by_phone.setdefault(m["to"], []).append(m["text"])
    via = {(m["to"], m["text"]): m.get("provider", "mta") for m in messages}
    for phone, texts in by_phone.items():
        if len(texts) != len(set(texts)):
            problems.append(f"{phone[-4:]} got the same text twice")
    oncall = sorted(by_phone.get(ONCALL, []))
    if (
        len(oncall) != 2
        or not oncall[0].startswith("Airflow FAILED: oncall_alert_on_failure.check_orders_fresh")
        or not oncall[1].startswith("Airflow FAILED: oncall_failover.check_warehouse_fresh")
    ):
        problems.append(f"on-call should get exactly one text per failing example, got {oncall}")
    elif via[(ONCALL, oncall[0])] != "mta" or via[(ONCALL, oncall[1])] != "telnyx":
        problems.append("the failover page should come through Telnyx while MTA is down, the other through MTA")
    if not any(t.startswith("Hi Ann, you have 120 points") for t in by_phone.get("+13175550121", [])):
        problems.append("Ann did not get her points text")
    if not any(t.startswith("Hi there, you have 45 points") for t in by_phone.get("+13175550123", [])):
        problems.append("the default first name was not used")
    if "+13175550125" in by_phone:
        problems.append("a customer who did not opt in was texted")
    if not any("Planned maintenance" in t for t in by_phone.get("+13175550101", [])):
        problems.append("the maintenance notice was not sent")
    if not any("data-quality" in t for t in by_phone.get("+13175550111", [])):
        problems.append("the hook example did not text the orders owner")
    if not any(t == "Hi Kim, your order is ready at Main St." for t in by_phone.get("+13175550131", [])):
        problems.append("the Telnyx example did not text Kim her pickup notice")
    if not any("Reply YES to publish" in t for t in by_phone.get(APPROVER, [])):
        problems.append("the approval example did not ask the approver")
    return problems


if __name__ == "__main__":
    sys.exit(main())
