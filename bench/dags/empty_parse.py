"""Parse-cost baseline: the DAG of mta_parse.py with EmptyOperators and a plain callback (bench/dag_parse.py)."""

from __future__ import annotations

import pendulum
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG


def on_failure(context: dict) -> None:
    print("failed", context)


with DAG(
    "bench_parse_empty",
    schedule="@daily",
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    default_args={"on_failure_callback": on_failure},
):
    send = EmptyOperator(task_id="send")
    batch = EmptyOperator(task_id="batch")
    wait = EmptyOperator(task_id="wait")
    send >> batch >> wait
