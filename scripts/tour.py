"""`make tour-env` / `make tour-stop`: the README tour's sandbox-backed Airflow, in ``.tour/`` of the clone.

``env`` starts the sandbox in the background on 127.0.0.1 (``TOUR_PORT``, default 8787; a sandbox already
answering there, e.g. ``make sandbox`` in another terminal, is used as is), seeds ``.tour/customers.db``
(a SQLite ``customers`` table), migrates a SQLite metadata database in ``.tour/airflow/`` and writes
``.tour/airflow.env``: the shell settings to ``source`` (PATH with ``.venv/bin``, AIRFLOW_HOME, the DAGs
folder ``.tour/dags/``, no example DAGs, connection testing on, and the ``mta_default`` and ``customers_db``
connections). ``stop`` stops the sandbox ``env`` started. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
TOUR = ROOT / ".tour"
VENV_BIN = Path(sys.executable).parent
API_KEY = "sandbox-key"
CUSTOMERS = [
    # phone, first_name, points, opted_in
    ("+13175550121", "Ann", 120, 1),
    ("(317) 555-0122", "Bob", 80, 1),
    ("317.555.0123", "Cy", 45, 1),
    ("+13175550125", "Eve", 99, 0),  # not opted in: not selected
]


def seed_customers(path: Path) -> None:
    db = sqlite3.connect(path)
    with db:
        db.execute("DROP TABLE IF EXISTS customers")
        db.execute("CREATE TABLE customers (phone TEXT, first_name TEXT, points INT, opted_in INT)")
        db.executemany("INSERT INTO customers VALUES (?, ?, ?, ?)", CUSTOMERS)
    db.close()


def sandbox_answers(url: str) -> bool:
    try:
        answer = httpx.get(f"{url}/_sandbox/messages", timeout=2, trust_env=False)
    except httpx.TransportError:
        return False
    return answer.status_code == 200


def start_sandbox(port: int) -> str:
    url = f"http://127.0.0.1:{port}"
    if sandbox_answers(url):
        print(f"A sandbox already answers on {url}: the tour uses it.")
        return url
    log = TOUR / "sandbox.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                *("-m", "airflow_provider_mta.sandbox", "--host", "127.0.0.1", "--port", str(port)),
                *("--db", str(TOUR / "sandbox.db")),  # the inbox survives a restart
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # keeps running after make returns; `make tour-stop` ends it
        )
    (TOUR / "sandbox.pid").write_text(str(proc.pid))
    deadline = time.monotonic() + 30
    while not sandbox_answers(url):
        if proc.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"The sandbox did not start on {url}; see {log}:\n{log.read_text()[-2000:]}")
        time.sleep(0.2)
    print(f"Sandbox started in the background on {url} (log {log.relative_to(ROOT)}).")
    return url


def environment(sandbox_url: str) -> dict[str, str]:
    return {
        "PATH": f"{VENV_BIN}:$PATH",
        "AIRFLOW_HOME": str(TOUR / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(TOUR / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
        # Batches hold back texts that would arrive outside 08:00-21:00 at the customer's location
        # ([mta] quiet_hours, docs/compliance.md); off here so the tour texts at any hour.
        "AIRFLOW__MTA__QUIET_HOURS": "off",
        "AIRFLOW_CONN_MTA_DEFAULT": json.dumps({"conn_type": "mta", "host": f"{sandbox_url}/v3", "password": API_KEY}),
        "AIRFLOW_CONN_CUSTOMERS_DB": json.dumps({"conn_type": "sqlite", "host": str(TOUR / "customers.db")}),
    }


def write_env_file(env: dict[str, str]) -> Path:
    lines = ["# Written by `make tour-env`: `source .tour/airflow.env` in every shell you use for the tour."]
    for name, value in env.items():
        quoted = f'"{value}"' if name == "PATH" else shlex.quote(value)  # PATH expands $PATH when sourced
        lines.append(f"export {name}={quoted}")
    path = TOUR / "airflow.env"
    path.write_text("\n".join(lines) + "\n")
    return path


def cmd_env(port: int) -> int:
    for sub in ("airflow", "dags"):
        (TOUR / sub).mkdir(parents=True, exist_ok=True)
    url = start_sandbox(port)
    seed_customers(TOUR / "customers.db")
    print(f"Seeded {len(CUSTOMERS)} customers in .tour/customers.db (connection customers_db).")
    env = environment(url)
    env_file = write_env_file(env)
    run_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")},
        **env,
        "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}",
    }
    print("airflow db migrate (a SQLite metadata database in .tour/airflow/) ...", flush=True)
    migrate = subprocess.run(
        [str(VENV_BIN / "airflow"), "db", "migrate"], env=run_env, capture_output=True, text=True, check=False
    )
    if migrate.returncode:
        print(migrate.stdout[-3000:], migrate.stderr[-3000:])
        return 1
    print(f"Ready. Now: source {env_file.relative_to(ROOT)}")
    return 0


def cmd_stop() -> int:
    pid_file = TOUR / "sandbox.pid"
    if not pid_file.exists():
        print("No tour sandbox to stop (`make tour-env` starts one).")
        return 0
    pid = int(pid_file.read_text())
    try:
        os.killpg(pid, signal.SIGTERM)
        for _ in range(50):
            os.killpg(pid, 0)
            time.sleep(0.1)
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    pid_file.unlink()
    print("Tour sandbox stopped (`make tour-env` starts it again; `rm -rf .tour` removes everything).")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/tour.py", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("command", choices=["env", "stop"])
    parser.add_argument("--port", type=int, default=int(os.environ.get("TOUR_PORT") or 8787))
    args = parser.parse_args(argv)
    return cmd_env(args.port) if args.command == "env" else cmd_stop()


if __name__ == "__main__":
    sys.exit(main())
