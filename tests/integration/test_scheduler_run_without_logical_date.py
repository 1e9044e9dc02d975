"""A run without a logical date under a real scheduler: `airflow dags trigger` (Airflow 3 gives such a run
no logical date, so ``{{ ds }}`` is absent), run by ``airflow scheduler`` with the LocalExecutor.

A throwaway AIRFLOW_HOME with its own SQLite database; ``airflow api-server`` (the tasks' Execution API),
``airflow dag-processor`` and ``airflow scheduler`` on loopback, each in its own process group, killed at
the end. The DAG's text carries ``{{ (dag_run.logical_date or dag_run.run_after) | ds }}``, the template
the README and the examples use; the sandbox must receive it with the run's date rendered.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import AIRFLOW, mta_conn_json
from tests.integration.test_connection_form_ui import free_port, stop_process_group, wait_for

pytestmark = pytest.mark.integration

DAG_ID = "mta_it_triggered_without_logical_date"
PHONE = "+13175550177"
DAG_FILE = textwrap.dedent(
    f'''
    """Triggered from the CLI: no logical date."""
    import pendulum
    from airflow.sdk import DAG

    from airflow_provider_mta.operators.send import SendSmsOperator

    with DAG("{DAG_ID}", schedule=None, start_date=pendulum.datetime(2025, 1, 1, tz="UTC"), catchup=False):
        SendSmsOperator(
            task_id="send",
            subscribers=["{PHONE}"],
            message="Report for {{{{ (dag_run.logical_date or dag_run.run_after) | ds }}}} is in",
        )
    '''
)


def _clean_environ() -> dict[str, str]:
    """The test process's environment without its AIRFLOW_* settings (this test has its own home)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_", "AIRFLOW__"))}


@pytest.fixture
def airflow_env(tmp_path: Path, sandbox: Any) -> dict[str, str]:
    home, dags = tmp_path / "home", tmp_path / "dags"
    home.mkdir()
    dags.mkdir()
    (dags / f"{DAG_ID}.py").write_text(DAG_FILE)
    port = free_port()
    env = {
        **_clean_environ(),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "2",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),  # the scheduler signs, the API server checks
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__MTA__QUIET_HOURS": "off",
        "AIRFLOW_CONN_MTA_DEFAULT": mta_conn_json(sandbox.base_url, api_key=sandbox.api_key, send_rate_limit="0"),
    }
    migrate = subprocess.run([AIRFLOW, "db", "migrate"], env=env, capture_output=True, text=True, timeout=300)
    assert migrate.returncode == 0, migrate.stdout[-3000:] + migrate.stderr[-3000:]
    return env


@pytest.fixture
def airflow_components(airflow_env: dict[str, str], tmp_path: Path) -> Iterator[dict[str, Path]]:
    """api-server, dag-processor and scheduler, each in its own process group; their logs by name."""
    port = airflow_env["AIRFLOW__API__PORT"]
    commands = {
        "api-server": [AIRFLOW, "api-server", "--host", "127.0.0.1", "--port", port, "--workers", "1"],
        "dag-processor": [AIRFLOW, "dag-processor"],
        "scheduler": [AIRFLOW, "scheduler"],
    }
    procs: list[subprocess.Popen[bytes]] = []
    logs = {name: tmp_path / f"{name}.log" for name in commands}
    try:
        for name, command in commands.items():
            with logs[name].open("wb") as log:
                procs.append(
                    subprocess.Popen(
                        command,
                        env=airflow_env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL,
                        start_new_session=True,
                    )
                )
        yield logs
    finally:
        for proc in reversed(procs):
            stop_process_group(proc)


def _tails(logs: dict[str, Path]) -> str:
    return "\n".join(f"--- {name}\n{path.read_text(errors='replace')[-2500:]}" for name, path in logs.items())


def test_a_run_triggered_from_the_cli_renders_its_date_under_the_scheduler(airflow_env, airflow_components, sandbox):
    db = Path(airflow_env["AIRFLOW_HOME"]) / "airflow.db"

    def query(sql: str) -> list[tuple[Any, ...]]:
        with sqlite3.connect(db, timeout=30) as conn:
            return conn.execute(sql, (DAG_ID,)).fetchall()

    def parsed() -> bool:
        try:
            return bool(query("SELECT 1 FROM serialized_dag WHERE dag_id = ?"))
        except sqlite3.OperationalError:  # locked by a writer: ask again
            return False

    try:
        wait_for("the dag-processor to store the DAG", parsed, timeout=90)
        trigger = subprocess.run(
            [AIRFLOW, "dags", "trigger", DAG_ID], env=airflow_env, capture_output=True, text=True, timeout=120
        )
        assert trigger.returncode == 0, trigger.stdout[-3000:] + trigger.stderr[-3000:]

        def finished() -> tuple[Any, ...] | None:
            try:
                rows = query("SELECT state, logical_date, run_after FROM dag_run WHERE dag_id = ?")
            except sqlite3.OperationalError:
                return None
            return rows[0] if rows and rows[0][0] in ("success", "failed") else None

        state, logical_date, run_after = wait_for("the triggered run to finish", finished, timeout=120, interval=1)
    except BaseException:
        print(_tails(airflow_components))
        raise
    assert (state, logical_date) == ("success", None), _tails(airflow_components)
    texts = [m["text"] for m in sandbox.messages() if m["to"] == PHONE]
    assert texts == [f"Report for {str(run_after)[:10]} is in"], texts
