"""Integration DAG: mapped operators (``.partial().expand()``) with Liquid, as docs/batch-operator.md shows them.

Airflow renders a mapped task's fields through ``_do_render_template_fields``, not the operator's
``render_template_fields``; the Liquid in ``message`` must survive that path too.
"""

from __future__ import annotations

import json
import os

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_mta.operators.batch import BatchPersonalizedSmsOperator
from airflow_provider_mta.operators.send import SendSmsOperator

with DAG("mta_it_mapped", schedule=None, start_date=pendulum.datetime(2025, 1, 1, tz="UTC"), catchup=False):

    @task
    def partitions(n: int = 3) -> list[tuple[int, int]]:
        return [(i, n) for i in range(n)]  # lists of two after XCom

    # The docs' partition example, on the SQLite connection customers_db: every task reads the table and keeps
    # the recipients whose number hashes to its partition (here from an upstream task's XCom).
    by_partition = BatchPersonalizedSmsOperator.partial(
        task_id="text_customers",
        conn_id="customers_db",
        sql="SELECT phone, first_name FROM mta_it_customers ORDER BY id",
        message="Hi {{ first_name }}, see you on {{ ds }}",
        on_invalid="skip",
        max_active_tis_per_dag=2,
    ).expand(partition=partitions())

    from_xcom = BatchPersonalizedSmsOperator.partial(task_id="batch_rows", message="Hi {{ first_name }}").expand(
        rows=[[{"phone": "+13175550101", "first_name": "Ann"}], [{"phone": "+13175550102", "first_name": "Bo"}]]
    )

    single = SendSmsOperator.partial(task_id="send", message="Hi {{ name }}").expand_kwargs(
        [
            {"subscribers": ["+13175550103"], "properties": {"+13175550103": {"name": "Cy"}}},
            {"subscribers": ["+13175550104"], "properties": {"+13175550104": {"name": "Di"}}},
        ]
    )

    @task
    def record(a: list, b: list, c: list) -> None:
        with open(os.environ["MTA_IT_OUT"], "w") as fh:
            json.dump({"partitions": list(a), "rows": list(b), "send": list(c)}, fh)

    record(by_partition.output, from_xcom.output, single.output)
