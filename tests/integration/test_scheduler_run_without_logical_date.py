"""A run without a logical date under a real scheduler: `airflow dags trigger` (Airflow 3 gives such a run
no logical date, so ``{{ ds }}`` is absent), run by ``airflow scheduler`` with the LocalExecutor.

A throwaway AIRFLOW_HOME with its own SQLite database; ``airflow api-server`` (the tasks' Execution API),
``airflow dag-processor`` and ``airflow scheduler`` on loopback, each in its own process group, killed at
the end. The DAG's text carries ``{{ (dag_run.logical_date or dag_run.run_after) | ds }}``, the template
the README and the examples use; the sandbox must receive it with the run's date rendered.
"""

from __future__ import annotations

import sqlite3
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import AIRFLOW, mta_conn_json
from tests.integration.airflow_stack import airflow_stack, stack_env, tails
from tests.integration.api_server import wait_for

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


@pytest.fixture
def airflow_env(tmp_path: Path, sandbox: Any) -> dict[str, str]:
    conn = mta_conn_json(sandbox.base_url, api_key=sandbox.api_key, send_rate_limit="0")
    return stack_env(tmp_path, {f"{DAG_ID}.py": DAG_FILE}, AIRFLOW_CONN_MTA_DEFAULT=conn)


@pytest.fixture
def airflow_components(airflow_env: dict[str, str], tmp_path: Path) -> Iterator[dict[str, Path]]:
    with airflow_stack(airflow_env, tmp_path) as logs:
        yield logs


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
        print(tails(airflow_components))
        raise
    assert (state, logical_date) == ("success", None), tails(airflow_components)
    texts = [m["text"] for m in sandbox.messages() if m["to"] == PHONE]
    assert texts == [f"Report for {str(run_after)[:10]} is in"], texts
