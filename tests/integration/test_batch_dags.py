"""BatchPersonalizedSmsOperator under real Airflow (`airflow dags test`): XCom, SQLite and PostgreSQL sources,
a committed-but-dropped answer and a SIGKILLed task, each ending with exactly one text per valid recipient."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import API_KEY
from tests.reliability import fault_matrix

pytestmark = pytest.mark.integration

JWT_SECRET = "mta-integration-jwt-secret-0123456789"

PG_ROWS = 10_000
PG_INVALID = 7  # rows without a usable phone number
PG_DUPLICATES = 5  # rows repeating an earlier customer's number


def valid_pg_phone(i: int) -> str:
    return f"+1317{5550000 + i:07d}"


@pytest.fixture
def sqlite_customers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "customers.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE mta_it_customers (id INTEGER PRIMARY KEY, phone TEXT, first_name TEXT, points INT)")
    db.executemany(
        "INSERT INTO mta_it_customers (phone, first_name, points) VALUES (?, ?, ?)",
        [(f"(317) 555-{4000 + i}", f"Lite{i}", i) for i in range(30)] + [("555", "Short", 1)],
    )
    db.commit()
    db.close()
    monkeypatch.setenv("AIRFLOW_CONN_CUSTOMERS_DB", json.dumps({"conn_type": "sqlite", "host": str(path)}))
    return path


@pytest.fixture
def pg_customers(postgres_uri: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    import psycopg2

    conn = psycopg2.connect(postgres_uri)
    with conn, conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS mta_it_customers")
        cur.execute("CREATE TABLE mta_it_customers (id serial PRIMARY KEY, phone text, first_name text, points int)")
        cur.execute(
            "INSERT INTO mta_it_customers (phone, first_name, points) "
            "SELECT '+1317' || lpad((5550000 + g)::text, 7, '0'), 'Pg' || g, g FROM generate_series(0, %s) g",
            (PG_ROWS - PG_INVALID - PG_DUPLICATES - 1,),
        )
        cur.execute(
            "INSERT INTO mta_it_customers (phone, first_name, points) SELECT 'x' || g, 'Bad', 1 "
            "FROM generate_series(1, %s) g",
            (PG_INVALID,),
        )
        cur.execute(
            "INSERT INTO mta_it_customers (phone, first_name, points) SELECT phone, first_name, points "
            "FROM mta_it_customers WHERE id <= %s ORDER BY id",
            (PG_DUPLICATES,),
        )
        cur.execute("SELECT count(*) FROM mta_it_customers")
        assert cur.fetchone()[0] == PG_ROWS
    conn.close()
    monkeypatch.setenv("AIRFLOW_CONN_CUSTOMERS_PG", postgres_uri.replace("postgresql://", "postgres://"))
    yield
    conn = psycopg2.connect(postgres_uri)
    with conn, conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS mta_it_customers")
    conn.close()


def assert_exactly_once(sandbox: Any, expected: dict[str, str]) -> None:
    """The ledger holds exactly one text per valid recipient, rendered as expected, and nothing else."""
    ledger = sandbox.messages()
    counts = Counter(m["to"] for m in ledger)
    duplicated = {to: n for to, n in counts.items() if n > 1}
    assert not duplicated, f"{len(duplicated)} recipient(s) texted more than once"
    missing = set(expected) - set(counts)
    assert not missing, f"{len(missing)} recipient(s) never texted"
    assert set(counts) == set(expected)
    wrong = [m for m in ledger if m["text"] != expected[m["to"]]]
    assert not wrong, wrong[:3]


def test_batch_from_xcom_rows(run_dag: Any, sandbox: Any) -> None:
    result = run_dag("mta_it_batch_xcom")
    assert result.succeeded, result.log[-4000:]
    ds = result.out and sandbox.messages()[0]["text"].rsplit(" on ", 1)[1].split(":")[0]
    expected = {f"+1317555{3000 + i}": f"Hi Cust{i}, Acme points on {ds}: {i * 10}" for i in range(25)}
    assert_exactly_once(sandbox, expected)
    out = result.out
    assert out is not None
    assert (out["rows"], out["recipients"], out["sent"], out["invalid"], out["duplicates"], out["chunks"]) == (
        27,
        25,
        25,
        1,
        1,
        3,
    )
    assert len(out["outbound_ids"]) == 25 and len(out["message_ids"]) == 3


def test_batch_from_sqlite_with_a_templated_sql_file(run_dag: Any, sandbox: Any, sqlite_customers: Path) -> None:
    result = run_dag("mta_it_batch_sql", env={"MTA_IT_SQL_CONN": "customers_db", "MTA_IT_CHUNK": "8"})
    assert result.succeeded, result.log[-4000:]
    assert_exactly_once(sandbox, {f"+1317555{4000 + i}": f"Hi Lite{i}, you have {i} points" for i in range(30)})
    assert result.out is not None and result.out["chunks"] == 4 and result.out["invalid"] == 1
    assert "Skipped row 31: ***555 is not a valid phone number" in result.log


def pg_expected() -> dict[str, str]:
    count = PG_ROWS - PG_INVALID - PG_DUPLICATES
    return {valid_pg_phone(i): f"Hi Pg{i}, you have {i} points" for i in range(count)}


@pytest.mark.postgres
def test_batch_of_10k_postgres_rows_with_a_committed_but_dropped_answer(
    run_dag: Any, sandbox: Any, pg_customers: Any
) -> None:
    sandbox.fault("drop_after_commit", count=1)  # MTA records chunk 1, then the answer is lost
    started = time.monotonic()
    result = run_dag(
        "mta_it_batch_sql",
        conn_extra={"max_retries": 0},
        env={"MTA_IT_SQL_CONN": "customers_pg", "MTA_IT_CHUNK": "500"},
    )
    fault_matrix.record_run(
        sandbox,
        fault="committed, then the answer dropped, on chunk 1 (10,000 PostgreSQL rows)",
        recovery="Airflow retry (client max_retries=0): 409, not resent",
        expected=pg_expected(),
        chunks=20,
        tries=2,
        seconds=time.monotonic() - started,
        test="tests/integration/test_batch_dags.py::test_batch_of_10k_postgres_rows_with_a_committed_but_dropped_answer",
    )
    assert result.succeeded, result.log[-4000:]
    assert_exactly_once(sandbox, pg_expected())
    out = result.out
    assert out is not None
    assert (out["recipients"], out["sent"], out["invalid"], out["duplicates"], out["chunks"]) == (
        PG_ROWS - PG_INVALID - PG_DUPLICATES,
        PG_ROWS - PG_INVALID - PG_DUPLICATES,
        PG_INVALID,
        PG_DUPLICATES,
        20,
    )
    assert out["already_sent_chunks"] == 1  # try 2 got MTA's 409 for chunk 1 and did not resend it
    assert out["outbound_ids"] is None and len(out["message_ids"]) == 20


@pytest.fixture(scope="module")
def executor_env(airflow_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """An API server for the Execution API, so `dags test --use-executor` runs each task in its own
    supervised process (LocalExecutor), as a real worker does; yields the environment to run with."""
    from tests.integration.conftest import AIRFLOW

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__API_AUTH__JWT_SECRET": JWT_SECRET,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
    }
    log = (tmp_path_factory.mktemp("api") / "api-server.log").open("w")
    proc = subprocess.Popen(
        [AIRFLOW, "api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, "airflow api-server exited"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v2/version", timeout=2).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "airflow api-server did not start within 120 s"
            time.sleep(0.5)
        yield env
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        log.close()


@pytest.mark.postgres
def test_batch_task_killed_mid_batch_resumes_on_retry(
    run_dag: Any, sandbox: Any, pg_customers: Any, tmp_path: Path, executor_env: dict[str, str], airflow_home: Path
) -> None:
    pid_file = tmp_path / "task.pid"
    killed: dict[str, int] = {}

    def kill_mid_batch(proc: Any) -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            if pid_file.exists() and sandbox.stats()["messages"] >= 2_000:
                pid = int(pid_file.read_text())
                os.kill(pid, signal.SIGKILL)
                killed.update(pid=pid, at=sandbox.stats()["messages"])
                break
            time.sleep(0.1)
        # `dags test --use-executor` reports the run, then can wait on its LocalExecutor for good.
        log = tmp_path / "mta_it_batch_sql.log"
        while time.monotonic() < deadline and proc.poll() is None and "DagRun Finished" not in log.read_text():
            time.sleep(0.5)
        time.sleep(2)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)

    started = time.monotonic()
    result = run_dag(
        "mta_it_batch_sql",
        conn_extra={"send_rate_limit": "4/1"},  # 250-recipient chunks, 4 per second: about 10 s in all
        env={**executor_env, "MTA_IT_SQL_CONN": "customers_pg", "MTA_IT_CHUNK": "250", "MTA_IT_PID": str(pid_file)},
        while_running=kill_mid_batch,
        args=("--use-executor",),
    )
    fault_matrix.record_run(
        sandbox,
        fault=f"worker SIGKILLed mid-batch, after {killed.get('at', 0):,} texts (10,000 PostgreSQL rows)",
        recovery="Airflow retry in a new process (LocalExecutor), resume from checkpoint",
        expected=pg_expected(),
        chunks=40,
        tries=2,
        seconds=time.monotonic() - started,
        test="tests/integration/test_batch_dags.py::test_batch_task_killed_mid_batch_resumes_on_retry",
    )
    assert killed, "the batch finished before it could be killed"
    assert 2_000 <= killed["at"] < PG_ROWS - PG_INVALID - PG_DUPLICATES
    assert "DagRun Finished" in result.log and "state=success" in result.log, result.log[-4000:]
    assert int(pid_file.read_text()) != killed["pid"]  # a second try, in a new process
    run_id = re.search(r"DagRun Finished: dag_id=mta_it_batch_sql, .*?run_id=(\S+),", result.log).group(1)  # type: ignore[union-attr]
    task_logs = airflow_home / "logs" / "dag_id=mta_it_batch_sql" / f"run_id={run_id}" / "task_id=batch"
    assert sorted(p.name for p in task_logs.iterdir()) == ["attempt=1.log", "attempt=2.log"]
    assert "Resuming: an earlier try (try 1) had" in (task_logs / "attempt=2.log").read_text()
    for attempt in task_logs.iterdir():  # the task log files a real worker wrote: no key, numbers masked
        text = attempt.read_text()
        assert "***" in text and API_KEY not in text, attempt
        assert not re.search(r"\+1317555\d{4}|317555\d{4}", text), (attempt, re.findall(r"\S*317555\d{4}", text)[:3])
    assert_exactly_once(sandbox, pg_expected())
    out = result.out
    assert out is not None and out["sent"] == PG_ROWS - PG_INVALID - PG_DUPLICATES
    # Chunks go one at a time and each is checkpointed once its answer is read, so at most the chunk in
    # flight when the worker died is stored by the sandbox but unconfirmed: try 2 resends it with the same
    # X-Request-Id and gets 409 (counted in already_sent_chunks), never a second text.
    in_ledger_at_kill = killed["at"] // 250
    assert out["resumed_from_chunk"] >= in_ledger_at_kill - 1 >= 7, (out, killed)
    assert out["resumed_from_chunk"] + out["already_sent_chunks"] >= in_ledger_at_kill, (out, killed)
    assert out["already_sent_chunks"] <= 1, out


def test_quiet_hours_send_the_open_zone_now_and_schedule_the_closed_one(run_dag: Any, sandbox: Any) -> None:
    started = dt.datetime.now(dt.timezone.utc)
    result = run_dag("mta_it_quiet_hours")
    assert result.succeeded, result.log[-3000:]
    out = result.out
    assert out is not None and out["sent"] == 6 and out["deferred"] == 3
    ((until, count),) = out["deferred_until"].items()
    opens = dt.datetime.strptime(until, "%Y%m%dT%H%M%S%z")
    assert count == 3 and dt.timedelta(minutes=118) <= opens - started <= dt.timedelta(minutes=121)
    ledger = {m["to"]: m for m in sandbox.messages()}
    assert sorted(ledger) == sorted(
        [f"+1212555{1000 + i}" for i in range(3)] + [f"+1310555{1000 + i}" for i in range(3)]
    )
    for number, row in ledger.items():
        if number.startswith("+1212"):
            assert row["scheduledFor"] is None and row["status"] != "SCHEDULED"
        else:
            assert row["status"] == "SCHEDULED"
            assert dt.datetime.fromisoformat(row["scheduledFor"].replace("Z", "+00:00")) == opens
    assert "recipient(s) deferred with MTA's scheduledDate" in result.log


def test_mapped_operators_keep_liquid_and_send_once_each(run_dag: Any, sandbox: Any, sqlite_customers: Path) -> None:
    result = run_dag("mta_it_mapped")
    assert result.succeeded, result.log[-3000:]
    texts = {m["to"]: m["text"] for m in sandbox.messages()}
    assert len(sandbox.messages()) == len(texts) == 30 + 4  # every customer once, plus the four XCom recipients
    assert texts["+13175554000"].startswith("Hi Lite0, see you on ")
    assert {texts["+13175550101"], texts["+13175550102"]} == {"Hi Ann", "Hi Bo"}
    assert {texts["+13175550103"], texts["+13175550104"]} == {"Hi Cy", "Hi Di"}
    out = result.out
    assert out is not None and sum(p["sent"] for p in out["partitions"]) == 30
    assert sum(p["invalid"] for p in out["partitions"]) == 1  # the short number, in one partition


def test_mapped_partitions_text_each_distinct_number_once(
    run_dag: Any, sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """300 customers, 30 of whom repeat another's number in another format, over ``expand(partition=...)``."""
    path = tmp_path / "partition.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE mta_it_partition_customers (customer_id INTEGER PRIMARY KEY, phone TEXT, first_name TEXT)")
    rows = [(i + 1, f"+1317555{6000 + i}", f"P{i}") for i in range(270)]
    rows += [(271 + k, f"(317) 555-{6000 + 9 * k}", f"Again{k}") for k in range(30)]  # P0, P9, P18, ... again
    db.executemany("INSERT INTO mta_it_partition_customers VALUES (?, ?, ?)", rows)
    db.commit()
    db.close()
    monkeypatch.setenv("AIRFLOW_CONN_CUSTOMERS_DB", json.dumps({"conn_type": "sqlite", "host": str(path)}))

    result = run_dag("mta_it_partition")
    assert result.succeeded, result.log[-3000:]
    assert_exactly_once(sandbox, {f"+1317555{6000 + i}": f"Hi P{i}" for i in range(270)})
    out = result.out
    assert out is not None and len(out["partitions"]) == 4
    assert sum(p["sent"] for p in out["partitions"]) == 270
    assert sum(p["duplicates"] for p in out["partitions"]) == 30
    assert all(p["rows"] == 300 and 0 < p["recipients"] < 270 for p in out["partitions"])
