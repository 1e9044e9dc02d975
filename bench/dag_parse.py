"""DAG-parse cost: a DAG with one of each MTA operator, sensor and notifier next to the same DAG with EmptyOperators.

Each measurement is a fresh interpreter that first imports what Airflow's DAG processor has loaded
before it parses a file (``airflow.sdk``, the DagBag and the serializer), then times what the
processor does per file: ``DagBag(file)`` (run the file: its imports and the DAG's construction)
and ``DagSerialization.to_dict`` of its DAG (the first call in a process includes the serializer's
one-time set-up, so it is timed a second time too). Medians over ``--runs`` runs; the files are
``bench/dags/mta_parse.py`` and ``bench/dags/empty_parse.py``. Then the import cost of each
provider module next to the Slack provider's (``bench/import_cost.py``).

    .venv/bin/python bench/dag_parse.py --runs 7
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import import_cost
from _common import child_env, load, machine

DAGS = Path(__file__).parent / "dags"
CASES = {
    "SendSmsOperator + BatchPersonalizedSmsOperator + MtaDeliverySensor + MtaNotifier": DAGS / "mta_parse.py",
    "baseline: 3 x EmptyOperator + a plain callback": DAGS / "empty_parse.py",
}
PROBE = r"""
import json, sys, time
import airflow.sdk
try:
    from airflow.dag_processing.dagbag import DagBag
except ImportError:  # Airflow 3.1
    from airflow.models.dagbag import DagBag
try:
    from airflow.serialization.serialized_objects import DagSerialization as Serializer
except ImportError:  # Airflow 3.1
    from airflow.serialization.serialized_objects import SerializedDAG as Serializer

path = sys.argv[1]
before = set(sys.modules)
t0 = time.perf_counter()
bag = DagBag(dag_folder=path, safe_mode=False, load_op_links=False)
t1 = time.perf_counter()
if bag.import_errors or len(bag.dags) != 1:
    raise SystemExit(f"{path}: {bag.import_errors or bag.dags}")
(dag,) = bag.dags.values()
Serializer.to_dict(dag)
t2 = time.perf_counter()
Serializer.to_dict(dag)  # again: without the serializer's one-time set-up, the same in both files
t3 = time.perf_counter()
print(json.dumps({"parse": (t1 - t0) * 1000, "serialize": (t2 - t1) * 1000, "again": (t3 - t2) * 1000,
                  "modules": len(set(sys.modules) - before), "tasks": len(dag.tasks)}))
"""


def measure(path: Path, runs: int, env: dict[str, str]) -> dict[str, float]:
    samples = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", PROBE, str(path)], capture_output=True, text=True, env=env)
        if out.returncode:
            raise SystemExit(f"parsing {path} failed:\n{out.stderr[-3000:]}")
        samples.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {key: statistics.median(s[key] for s in samples) for key in samples[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--no-warm-up", action="store_true", help="skip the run that fills the bytecode cache")
    parser.add_argument("--imports", choices=("all", "hook", "none"), default="all", help="which import table rows")
    args = parser.parse_args()
    env = child_env(AIRFLOW__CORE__LOAD_EXAMPLES="False", AIRFLOW__LOGGING__LOGGING_LEVEL="WARNING")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(Path(__file__).parent.parent), env.get("PYTHONPATH")) if p)
    print(f"Machine: {machine()}\n")
    for path in CASES.values() if not args.no_warm_up else ():
        measure(path, 1, env)  # fill the bytecode cache
    results = {label: measure(path, args.runs, env) for label, path in CASES.items()}
    head = "parse ms | serialize ms (first) | serialize ms (again) | new modules | tasks"
    print(f"| DAG file (median of {args.runs}) | {head} |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, r in results.items():
        cells = [f"{r[k]:.1f}" for k in ("parse", "serialize", "again")] + [f"{r['modules']:.0f}", f"{r['tasks']:.0f}"]
        print(f"| {label} | {' | '.join(cells)} |")
    mta, empty = results.values()
    print(
        f"\nParse: {mta['parse']:.1f} ms vs {empty['parse']:.1f} ms ({mta['parse'] - empty['parse']:+.1f} ms, "
        f"{mta['parse'] / empty['parse']:.1f}x); serialization once warm: {mta['again'] - empty['again']:+.1f} ms.\n"
    )
    if args.imports != "none":
        import_cost.print_table(args.runs, env, optional=args.imports == "all", warm_up=not args.no_warm_up)
    print(f"\n({load()} at the end)")


if __name__ == "__main__":
    main()
