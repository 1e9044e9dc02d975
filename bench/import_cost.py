"""Import cost of the provider's Airflow-facing modules next to the Slack provider's, in one run.

Each measurement is a fresh interpreter that first imports ``airflow.sdk`` (every DAG file pays that),
then times the extra import of the target. Prints a table of medians over ``--runs`` runs.

    .venv/bin/python bench/import_cost.py --runs 7
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

TARGETS = {
    "airflow_provider_mta.hooks.mta (MtaHook)": "from airflow_provider_mta.hooks.mta import MtaHook",
    "airflow.providers.slack.notifications.slack (SlackNotifier)": (
        "from airflow.providers.slack.notifications.slack import SlackNotifier"
    ),
}
OPTIONAL = {
    "airflow_provider_mta.operators.send (SendSmsOperator)": (
        "from airflow_provider_mta.operators.send import SendSmsOperator"
    ),
    "airflow_provider_mta.notifications.mta (MtaNotifier)": (
        "from airflow_provider_mta.notifications.mta import MtaNotifier"
    ),
}
PROBE = """
import time, sys
import airflow.sdk
before = set(sys.modules)
t0 = time.perf_counter()
{stmt}
dt = time.perf_counter() - t0
print(f"{{dt * 1000:.2f}} {{len(set(sys.modules) - before)}}")
"""


def measure(stmt: str, runs: int, env: dict[str, str]) -> tuple[float, int]:
    times, mods = [], 0
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", PROBE.format(stmt=stmt)], capture_output=True, text=True, env=env)
        if out.returncode:
            raise RuntimeError(out.stderr[-2000:])
        ms, n = out.stdout.split()[-2:]
        times.append(float(ms))
        mods = int(n)
    return statistics.median(times), mods


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    env = {**os.environ, "AIRFLOW_HOME": os.environ.get("AIRFLOW_HOME", tempfile.mkdtemp(prefix="bench-af-"))}
    targets = dict(TARGETS)
    for name, stmt in OPTIONAL.items():
        module = stmt.split()[1]
        if (
            subprocess.run(
                [sys.executable, "-c", f"import importlib.util as u; exit(u.find_spec('{module}') is None)"], env=env
            ).returncode
            == 0
        ):
            targets[name] = stmt
    measure("pass", 1, env)  # warm the bytecode caches
    for stmt in targets.values():
        measure(stmt, 1, env)
    print(f"| import (after airflow.sdk), median of {args.runs} | ms | new modules |")
    print("|---|---:|---:|")
    for name, stmt in targets.items():
        ms, mods = measure(stmt, args.runs, env)
        print(f"| {name} | {ms:.1f} | {mods} |")


if __name__ == "__main__":
    main()
