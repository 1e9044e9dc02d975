"""Import cost of the provider's Airflow-facing modules next to the Slack provider's, in one run.

Each measurement is a fresh interpreter (bytecode cached, as in a deployment) that first imports
``airflow.sdk`` (every DAG file pays that), then times the extra import of the target. Prints a
table of medians over ``--runs`` runs.

    .venv/bin/python bench/import_cost.py --runs 7
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

from _common import child_env

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
    "airflow_provider_mta.operators.batch (BatchPersonalizedSmsOperator)": (
        "from airflow_provider_mta.operators.batch import BatchPersonalizedSmsOperator"
    ),
    "airflow_provider_mta.sensors.delivery (MtaDeliverySensor)": (
        "from airflow_provider_mta.sensors.delivery import MtaDeliverySensor"
    ),
    "airflow_provider_mta.notifications.mta (MtaNotifier)": (
        "from airflow_provider_mta.notifications.mta import MtaNotifier"
    ),
    "all four MTA classes together": (
        "from airflow_provider_mta.operators.send import SendSmsOperator; "
        "from airflow_provider_mta.operators.batch import BatchPersonalizedSmsOperator; "
        "from airflow_provider_mta.sensors.delivery import MtaDeliverySensor; "
        "from airflow_provider_mta.notifications.mta import MtaNotifier"
    ),
    "airflow.providers.slack.operators.slack (SlackAPIPostOperator)": (
        "from airflow.providers.slack.operators.slack import SlackAPIPostOperator"
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


def print_table(runs: int, env: dict[str, str], *, optional: bool = True, warm_up: bool = True) -> None:
    """Print the import-cost table (markdown); ``optional=False`` measures only the hook and SlackNotifier."""
    targets = dict(TARGETS)
    for name, stmt in OPTIONAL.items() if optional else ():
        modules = [part.split()[1] for part in stmt.split(";")]
        probe = f"import importlib.util as u; exit(any(u.find_spec(m) is None for m in {modules!r}))"
        if subprocess.run([sys.executable, "-c", probe], env=env).returncode == 0:
            targets[name] = stmt
    if warm_up:
        measure("pass", 1, env)  # fill the bytecode cache
        for stmt in targets.values():
            measure(stmt, 1, env)
    print(f"| import (after airflow.sdk), median of {runs} | ms | new modules |")
    print("|---|---:|---:|")
    for name, stmt in targets.items():
        ms, mods = measure(stmt, runs, env)
        print(f"| {name} | {ms:.1f} | {mods} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    print_table(args.runs, child_env())


if __name__ == "__main__":
    main()
