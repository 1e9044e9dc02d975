"""Integration DAGs: BatchPersonalizedSmsOperator from XCom rows and from SQL (SQLite or PostgreSQL)."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_mta.operators.batch import BatchPersonalizedSmsOperator

START = pendulum.datetime(2025, 1, 1, tz="UTC")


@task
def record(result: dict) -> None:
    with open(os.environ["MTA_IT_OUT"], "w") as fh:
        json.dump(result, fh)


def write_pid(context) -> None:
    """Lets a test find (and SIGKILL) the process that runs the task."""
    if os.environ.get("MTA_IT_PID"):
        Path(os.environ["MTA_IT_PID"]).write_text(str(os.getpid()))


with DAG("mta_it_batch_xcom", schedule=None, start_date=START, params={"shop": "Acme"}, catchup=False):

    @task
    def customers() -> list[dict]:
        rows = [{"phone": f"317555{3000 + i}", "first_name": f"Cust{i}", "points": i * 10} for i in range(25)]
        rows += [{"phone": "not-a-number", "first_name": "Bad"}, {"phone": "+1 317 555 3000", "first_name": "Again"}]
        return rows

    batch = BatchPersonalizedSmsOperator(
        task_id="batch",
        rows=customers(),
        message="Hi {{ first_name }}, {{ params.shop }} points on {{ ds }}: {{ points }}",
        defaults={"points": 0},
        chunk_size=10,
        on_invalid="skip",
    )
    record(batch.output)


with DAG(
    "mta_it_batch_sql",
    schedule=None,
    start_date=START,
    catchup=False,
    params={"table": "mta_it_customers", "min_points": 0},
    template_searchpath=[str(Path(__file__).parent / "sql")],
):
    batch = BatchPersonalizedSmsOperator(
        task_id="batch",
        sql="mta_it_customers.sql",
        conn_id=os.environ.get("MTA_IT_SQL_CONN", "customers_db"),
        message="Hi {{ first_name }}, you have {{ points }} points",
        chunk_size=int(os.environ.get("MTA_IT_CHUNK", "500")),
        on_invalid="skip",
        retries=2,
        retry_delay=timedelta(seconds=1),
        on_execute_callback=write_pid,
    )
    record(batch.output)
