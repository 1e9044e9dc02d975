"""Four mapped partitions on two Celery workers share one account's send limit through Redis.

A real deployment in miniature: a throwaway AIRFLOW_HOME whose metadata database is a fresh PostgreSQL
database (``mta_celery_<random>``, dropped at the end), the CeleryExecutor with Redis as broker (a
dedicated db number, flushed before and after) and PostgreSQL as result backend; ``airflow api-server``,
``airflow dag-processor``, ``airflow scheduler`` and two ``airflow celery worker`` processes (concurrency
2 each, hostnames ``w1``/``w2``), each in its own process group, all on loopback.

The DAG maps ``BatchPersonalizedSmsOperator`` over ``partition=[(i, 4) for i in range(4)]``, every
task reading the same 2,000 PostgreSQL rows through ``sql=``/``conn_id=`` (some numbers repeated in
another format). The ``mta`` connection points at a sandbox that allows ``RATE`` sends per window and
says so in ``send_rate_limit``, with ``rate_limit_conn_id`` naming a ``redis`` connection. Without the
shared limit, four partitions sending at once would exceed the account's limit and meet 429s.

Each worker's task processes report their worker's name as their hostname (``[core] hostname_callable``
pointing at a tiny module that reads ``MTA_IT_WORKER``), so the ``task_instance.hostname`` column
tells which worker ran which partition.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import AIRFLOW, API_KEY, REDIS_HOST, REDIS_PORT
from tests.integration.api_server import free_port, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.postgres, pytest.mark.redis]

DAG_ID = "mta_it_celery_shared_limit"
ROWS = 2_000
DUPLICATES = 100  # rows repeating an earlier customer's number in another format
CHUNK_SIZE = 20  # ~100 sends in all: about 10 s at RATE, so the partitions overlap
RATE = "10/1"
PARTITIONS = 4
BROKER_DB = int(os.environ.get("MTA_IT_CELERY_BROKER_DB", "11"))
LIMIT_DB = BROKER_DB + 1
WORKERS = ("w1", "w2")

DAG_FILE = textwrap.dedent(
    f'''
    """Four partitions of one batch, mapped; run by the CeleryExecutor."""
    import pendulum
    from airflow.sdk import DAG

    from airflow_provider_mta.operators.batch import BatchPersonalizedSmsOperator

    with DAG("{DAG_ID}", schedule=None, start_date=pendulum.datetime(2025, 1, 1, tz="UTC"), catchup=False):
        BatchPersonalizedSmsOperator.partial(
            task_id="text_customers",
            conn_id="warehouse",
            sql="SELECT phone, first_name FROM customers ORDER BY customer_id",
            message="Hi {{{{ first_name }}}}",
            chunk_size={CHUNK_SIZE},
        ).expand(partition=[(i, {PARTITIONS}) for i in range({PARTITIONS})])
    '''
)

HOSTNAME_MODULE = textwrap.dedent(
    '''
    """[core] hostname_callable for the test's Celery workers: the worker's name, from the environment."""
    import os
    import socket


    def worker_name() -> str:
        return os.environ.get("MTA_IT_WORKER") or socket.getfqdn()
    '''
)


def _number(i: int) -> tuple[str, str]:
    """Customer ``i``'s number in E.164 and as typed in another format."""
    digits = f"{5550000 + i:07d}"
    return f"+1317{digits}", f"(317) {digits[:3]}-{digits[3:]}"


def customer_rows() -> list[tuple[int, str, str]]:
    """``ROWS`` customers: ``ROWS - DUPLICATES`` distinct numbers, then ``DUPLICATES`` repeats typed another way."""
    distinct = ROWS - DUPLICATES
    rows = [(i, _number(i)[0], f"C{i}") for i in range(distinct)]
    rows += [(distinct + j, _number(j * 7)[1], f"D{j}") for j in range(DUPLICATES)]
    return rows


@pytest.fixture
def database(postgres_uri: str) -> Iterator[str]:
    """A fresh PostgreSQL database for this run (metadata, result backend and the customers table)."""
    import psycopg2

    name = f"mta_celery_{secrets.token_hex(4)}"
    admin = psycopg2.connect(postgres_uri)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name}")
    uri = postgres_uri.rsplit("/", 1)[0] + f"/{name}"
    try:
        conn = psycopg2.connect(uri)
        with conn, conn.cursor() as cur:
            cur.execute("CREATE TABLE customers (customer_id int PRIMARY KEY, phone text, first_name text)")
            cur.executemany("INSERT INTO customers VALUES (%s, %s, %s)", customer_rows())
        conn.close()
        yield uri
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()


@pytest.fixture
def redis_dbs(redis_url: str) -> Iterator[None]:
    """The broker's and the limiter's Redis databases, empty before and after."""
    import redis

    clients = [redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=db) for db in (BROKER_DB, LIMIT_DB)]
    for client in clients:
        client.flushdb()
    try:
        yield
    finally:
        for client in clients:
            client.flushdb()
            client.close()


@pytest.fixture
def rate_limited_sandbox() -> Iterator[Any]:
    from airflow_provider_mta.sandbox.testing import SandboxServer

    with SandboxServer(api_keys=(API_KEY,), send_rate_limit=RATE) as server:
        yield server


def _clean_environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_", "AIRFLOW__"))}


@pytest.fixture
def airflow_env(tmp_path: Path, database: str, redis_dbs: None, rate_limited_sandbox: Any) -> dict[str, str]:
    import json

    home, dags, pylib = tmp_path / "home", tmp_path / "dags", tmp_path / "pylib"
    for folder in (home, dags, pylib):
        folder.mkdir()
    (dags / f"{DAG_ID}.py").write_text(DAG_FILE)
    (pylib / "mta_it_hostname.py").write_text(HOSTNAME_MODULE)
    port = free_port()
    bare = database.removeprefix("postgresql://")
    sandbox = rate_limited_sandbox
    mta = {
        "conn_type": "mta",
        "host": sandbox.base_url,
        "password": sandbox.api_key,
        "extra": {"send_rate_limit": RATE, "rate_limit_conn_id": "redis_limit"},
    }
    redis_conn = {"conn_type": "redis", "host": REDIS_HOST, "port": REDIS_PORT, "extra": {"db": LIMIT_DB}}
    env = {
        **_clean_environ(),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(pylib), os.environ.get("PYTHONPATH")])),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CORE__PARALLELISM": "8",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://{bare}",
        "AIRFLOW__CELERY__BROKER_URL": f"redis://{REDIS_HOST}:{REDIS_PORT}/{BROKER_DB}",
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql://{bare}",
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
        "AIRFLOW__CELERY__SYNC_PARALLELISM": "1",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__MTA__QUIET_HOURS": "off",
        "AIRFLOW_CONN_MTA_DEFAULT": json.dumps(mta),
        "AIRFLOW_CONN_REDIS_LIMIT": json.dumps(redis_conn),
        "AIRFLOW_CONN_WAREHOUSE": json.dumps({"conn_type": "postgres", "host": "127.0.0.1", **_pg_parts(database)}),
    }
    migrate = subprocess.run([AIRFLOW, "db", "migrate"], env=env, capture_output=True, text=True, timeout=300)
    assert migrate.returncode == 0, migrate.stdout[-3000:] + migrate.stderr[-3000:]
    return env


def _pg_parts(uri: str) -> dict[str, Any]:
    from urllib.parse import urlsplit

    parts = urlsplit(uri)
    return {"port": parts.port or 5432, "login": parts.username or "postgres", "schema": parts.path.lstrip("/")}


def _stop_all(procs: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM every process group at once, SIGKILL what is left after 20 s."""
    for sig, grace in ((signal.SIGTERM, 20.0), (signal.SIGKILL, 5.0)):
        alive = []
        for proc in procs:
            try:
                os.killpg(proc.pid, sig)
                alive.append(proc)
            except ProcessLookupError:
                continue
        deadline = time.monotonic() + grace
        for proc in alive:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
    for proc in procs:  # leaders gone: their children too
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture
def airflow_components(airflow_env: dict[str, str], tmp_path: Path) -> Iterator[dict[str, Path]]:
    port = airflow_env["AIRFLOW__API__PORT"]
    commands: dict[str, tuple[list[str], dict[str, str]]] = {
        "api-server": ([AIRFLOW, "api-server", "--host", "127.0.0.1", "--port", port, "--workers", "1"], {}),
        "dag-processor": ([AIRFLOW, "dag-processor"], {}),
        "scheduler": ([AIRFLOW, "scheduler"], {}),
    }
    for name in WORKERS:
        worker = [AIRFLOW, "celery", "worker", "--concurrency", "2", "--celery-hostname", f"{name}@%h"]
        commands[f"worker-{name}"] = (
            [*worker, "--pid", str(tmp_path / f"worker-{name}.pid"), "--skip-serve-logs", "--without-mingle"],
            {"MTA_IT_WORKER": name, "AIRFLOW__CORE__HOSTNAME_CALLABLE": "mta_it_hostname.worker_name"},
        )
    procs: list[subprocess.Popen[bytes]] = []
    logs = {name: tmp_path / f"{name}.log" for name in commands}
    try:
        for name, (command, extra_env) in commands.items():
            with logs[name].open("wb") as log:
                procs.append(
                    subprocess.Popen(
                        command,
                        env={**airflow_env, **extra_env},
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL,
                        start_new_session=True,
                    )
                )
        yield logs
    finally:
        _stop_all(procs)


def _tails(logs: dict[str, Path], home: Path) -> str:
    parts = [f"--- {name}\n{path.read_text(errors='replace')[-3000:]}" for name, path in logs.items()]
    for task_log in sorted((home / "logs").rglob("*.log"))[:8] if (home / "logs").exists() else ():
        parts.append(f"--- {task_log.relative_to(home)}\n{task_log.read_text(errors='replace')[-2000:]}")
    return "\n".join(parts)


def test_four_partitions_on_two_celery_workers_share_the_limit(
    airflow_env, airflow_components, rate_limited_sandbox, database
):
    import psycopg2

    sandbox = rate_limited_sandbox
    home = Path(airflow_env["AIRFLOW_HOME"])

    def query(sql: str) -> list[tuple[Any, ...]]:
        conn = psycopg2.connect(database)
        try:
            with conn, conn.cursor() as cur:
                cur.execute(sql, (DAG_ID,))
                return cur.fetchall()
        finally:
            conn.close()

    try:
        wait_for("the dag-processor to store the DAG", lambda: query(_SERIALIZED), timeout=90)
        trigger = subprocess.run(
            [AIRFLOW, "dags", "trigger", DAG_ID], env=airflow_env, capture_output=True, text=True, timeout=120
        )
        assert trigger.returncode == 0, trigger.stdout[-3000:] + trigger.stderr[-3000:]

        def finished() -> str | None:
            rows = query("SELECT state FROM dag_run WHERE dag_id = %s")
            return rows[0][0] if rows and rows[0][0] in ("success", "failed") else None

        state = wait_for("the triggered run to finish", finished, timeout=150, interval=1)
        tis = query("SELECT map_index, state, hostname FROM task_instance WHERE dag_id = %s ORDER BY map_index")
    except BaseException:
        print(_tails(airflow_components, home))
        raise

    report = f"task instances: {tis}\n{_tails(airflow_components, home)}"
    assert state == "success", report
    assert [(i, s) for i, s, _ in tis] == [(i, "success") for i in range(PARTITIONS)], report
    hosts = {host for *_, host in tis}
    assert hosts <= set(WORKERS) and len(hosts) >= 2, report  # both workers took partitions

    stats = sandbox.stats()
    assert stats["rateLimited"] == 0, stats  # the four partitions together kept to the account's limit
    texted = [m["to"] for m in sandbox.messages()]
    assert len(texted) == len(set(texted)) == ROWS - DUPLICATES, (len(texted), len(set(texted)))  # each once
    assert set(texted) == {_number(i)[0] for i in range(ROWS - DUPLICATES)}


_SERIALIZED = "SELECT 1 FROM serialized_dag WHERE dag_id = %s"
