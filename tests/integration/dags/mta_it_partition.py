"""Integration DAG: ``partition=`` mapped over a literal list, as docs/batch-operator.md shows it.

The table (``mta_it_partition_customers`` on ``customers_db``, made by the test) has customers who share a
number written another way; each number must be texted once across the four mapped tasks.
"""

from __future__ import annotations

import json
import os

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_mta.operators.batch import BatchPersonalizedSmsOperator

PARTS = 4

with DAG("mta_it_partition", schedule=None, start_date=pendulum.datetime(2025, 1, 1, tz="UTC"), catchup=False):
    texts = BatchPersonalizedSmsOperator.partial(
        task_id="text_customers",
        conn_id="customers_db",
        sql="SELECT phone, first_name FROM mta_it_partition_customers ORDER BY customer_id",
        message="Hi {{ first_name }}",
        chunk_size=50,
        max_active_tis_per_dag=2,
    ).expand(partition=[(i, PARTS) for i in range(PARTS)])

    @task
    def record(results: list) -> None:
        with open(os.environ["MTA_IT_OUT"], "w") as fh:
            json.dump({"partitions": list(results)}, fh)

    record(texts.output)
