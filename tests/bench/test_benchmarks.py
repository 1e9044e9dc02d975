"""A tiny run of each benchmark in bench/ (small sizes, seconds each), so `make bench` keeps working.

The numbers are not checked (the full runs are `make bench`, results in bench/RESULTS.md); each
script must finish and print its table.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

BENCH = Path(__file__).resolve().parents[2] / "bench"


def run(script: str, *args: str, env: dict[str, str] | None = None, timeout: float = 240) -> str:
    out = subprocess.run(
        [sys.executable, str(BENCH / script), *args],
        cwd=BENCH.parent,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def test_throughput_bench_runs():
    out = run(
        "throughput.py",
        *("--recipients", "300", "--chunk-size", "50", "--rate", "3/0.5", "--baseline-recipients", "4"),
    )
    assert "| /send calls (K) | 6 |" in out
    assert "| 429s received (goal 0) |" in out
    assert "extrapolated to 300" in out
    assert "wall / floor = " in out and "sending phase / floor = " in out


def test_cpu_bench_runs():
    out = run("cpu_per_message.py", "--rows", "300", "--chunk-size", "100", "--repeat", "1")
    assert "build the 3 /send payloads" in out
    assert "Total / json.dumps =" in out


@pytest.mark.postgres
def test_memory_bench_runs(postgres_uri):
    import psycopg2

    table = "bench_mta_smoke"
    try:
        out = run("batch_memory.py", "--rows", "2000", "--table", table, env={"MTA_BENCH_PG": postgres_uri})
        assert "| operator (server-side cursor + spool) |" in out
        assert "| fetch-all baseline (get_records) |" in out
    finally:
        conn = psycopg2.connect(postgres_uri)
        with conn, conn.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {table}")
        conn.close()


def test_dag_parse_bench_runs():
    out = run("dag_parse.py", "--runs", "1", "--no-warm-up", "--imports", "hook")
    assert "| baseline: 3 x EmptyOperator + a plain callback |" in out
    assert "| airflow.providers.slack.notifications.slack (SlackNotifier) |" in out


def test_page_failover_bench_runs():
    out = run("page_failover.py", "--quick", "--pages", "3")
    assert "| scenario | page 1 | page 2 | page 3 | median of pages 2..3 |" in out
    assert "| (c) no fallback (MTA only) |" in out and "| 0 of 3 |" in out
    assert "Ledger check: every page texted as expected, no duplicates" in out


@pytest.mark.redis
def test_scale_out_bench_runs(redis_url):
    out = run("scale_out.py", "--quick", "--redis-url", redis_url.rsplit("/", 1)[0] + "/13")
    assert "| P | mode | limit per process |" in out
    assert "| 2 | shared | " in out and "| 2 | local | " in out and "| 2 | divide | " in out
    assert "shared limiter: worst wall / floor = " in out


@pytest.mark.redis
def test_page_latency_bench_runs(redis_url):
    out = run("page_latency.py", "--quick", "--redis-url", redis_url.rsplit("/", 1)[0] + "/13")
    assert "| mode | pages sent | median page latency |" in out
    assert "| before | 3 / 3 | " in out and "| no-priority | 3 / 3 | " in out and "| after | 3 / 3 | " in out
    assert "after: | page | fired (s after the first batch send) |" in out


def test_sensor_requests_bench_runs():
    out = run("sensor_requests.py", "--sizes", "1000")
    assert "| honoured | 1,000 | 2 | 2 |" in out and "| ignored | 1,000 | 2 | 2 |" in out


def test_sensor_webhooks_bench_runs():
    out = run("sensor_webhooks.py", "--recipients", "1000", "--delay", "4")
    assert "| with webhooks | 2 | 1 | 2-2 | 1 | 0 | 2 |" in out
