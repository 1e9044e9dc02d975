"""Peak memory of BatchPersonalizedSmsOperator reading N PostgreSQL rows (dry run), next to a fetch-all baseline.

Each case runs in a fresh interpreter: it imports everything, notes its RSS (the baseline), then
runs the operator's dry run over ``SELECT ... FROM bench_mta_customers_N`` through a real ``postgres``
connection, and reports the growth of peak RSS (``ru_maxrss``) over that baseline. The fetch-all
case does what a naive operator would: ``hook.get_records(sql)`` and then the same validation.
The table (one per row count, or ``--table``) is created first unless it already holds N rows.
PostgreSQL: ``$MTA_BENCH_PG``, else ``postgresql://postgres@127.0.0.1:5432/test``.

    .venv/bin/python bench/batch_memory.py --rows 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from _common import MESSAGE, child_env, load, machine

PG_URI = os.environ.get("MTA_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
TABLE = "bench_mta_customers_{rows}"  # one table per size, so a small run never replaces the big one
GOAL_MB = 100

CHILD = r"""
import json, os, resource, sys, time
from types import SimpleNamespace

mode, sql, message = sys.argv[1], sys.argv[2], sys.argv[3]

def rss_mb():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024

def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

from airflow_provider_mta.operators.batch import BatchPersonalizedSmsOperator
from airflow_provider_mta.core.batch_plan import plan_batch
from airflow_provider_mta.core.rows import ColumnMapping
from airflow_provider_mta.utils.sql_rows import get_db_hook
import phonenumbers, liquid, psycopg2  # noqa: F401  (imported before the baseline)

op = BatchPersonalizedSmsOperator(task_id="bench", sql=sql, conn_id="bench_pg", message=message, dry_run=True)
ctx = {"ti": SimpleNamespace(dag_id="bench", task_id="bench", run_id="r", map_index=-1, try_number=1)}
op.render_template_fields(ctx)
op.hook.region  # read the connection before the baseline
baseline = rss_mb()
start = time.perf_counter()
if mode == "stream":
    out = op.execute(ctx)
    rows, recipients = out["rows"], out["recipients"]
else:  # fetch-all: the whole result in memory first
    records = get_db_hook("bench_pg").get_records(sql)
    dicts = [dict(zip(("phone", "first_name", "points"), r)) for r in records]
    plan = plan_batch(dicts, mapping=ColumnMapping(), message=op.message, region="US")
    rows, recipients = plan.rows, plan.recipients
    plan.close()
print(json.dumps({"baseline": baseline, "peak": peak_mb(), "seconds": time.perf_counter() - start,
                  "rows": rows, "recipients": recipients}))
"""


def sql_for(table: str) -> str:
    return f"SELECT phone, first_name, points FROM {table} ORDER BY id"


def prepare(rows: int, table: str) -> None:
    import psycopg2

    conn = psycopg2.connect(PG_URI)
    with conn, conn.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM pg_tables WHERE tablename = '{table}'")
        if cur.fetchone()[0]:
            cur.execute(f"SELECT count(*) FROM {table}")
            if cur.fetchone()[0] == rows:
                return
            cur.execute(f"DROP TABLE {table}")
        cur.execute(f"CREATE TABLE {table} (id serial PRIMARY KEY, phone text, first_name text, points int)")
        cur.execute(
            f"INSERT INTO {table} (phone, first_name, points) "
            "SELECT '+1317' || lpad((5550000 + g %% 4450000)::text, 7, '0'), 'Name' || g, g "
            "FROM generate_series(0, %s) g",
            (rows - 1,),
        )
    conn.close()


def run(mode: str, table: str) -> dict[str, float]:
    env = child_env(
        AIRFLOW_CONN_BENCH_PG=PG_URI.replace("postgresql://", "postgres://"),
        AIRFLOW_CONN_MTA_DEFAULT=json.dumps({"conn_type": "mta", "host": "http://127.0.0.1:9/v3", "password": "k"}),
        AIRFLOW__LOGGING__LOGGING_LEVEL="WARNING",
    )
    out = subprocess.run(
        [sys.executable, "-c", CHILD, mode, sql_for(table), MESSAGE],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode:
        raise SystemExit(f"{mode} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--table", default=None, help="table to (re)create with --rows rows (default: per size)")
    parser.add_argument("--skip-baseline", action="store_true", help="only the streaming case")
    args = parser.parse_args()
    args.table = args.table or TABLE.format(rows=args.rows)
    print(f"Machine: {machine()}")
    started = time.perf_counter()
    prepare(args.rows, args.table)
    print(f"table {args.table}: {args.rows:,} rows ready in {time.perf_counter() - started:.1f} s")
    modes = ["stream"] if args.skip_baseline else ["stream", "fetch-all"]
    print(f"\n| case ({args.rows:,} PostgreSQL rows, dry run) | baseline RSS MB | peak RSS MB | growth MB | seconds |")
    print("|---|---:|---:|---:|---:|")
    growths = {}
    for mode in modes:
        r = run(mode, args.table)
        label = "operator (server-side cursor + spool)" if mode == "stream" else "fetch-all baseline (get_records)"
        growth = growths[mode] = r["peak"] - r["baseline"]
        assert r["rows"] == r["recipients"] == args.rows, r
        print(f"| {label} | {r['baseline']:.0f} | {r['peak']:.0f} | {growth:.0f} | {r['seconds']:.1f} |", flush=True)
    verdict = "met" if growths["stream"] <= GOAL_MB else "missed"
    print(
        f"\nOperator peak RSS growth {growths['stream']:.0f} MB (goal <= {GOAL_MB} MB): {verdict}; {load()} at the end"
    )


if __name__ == "__main__":
    main()
