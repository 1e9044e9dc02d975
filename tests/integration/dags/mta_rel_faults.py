"""Reliability DAG: a 10,000-recipient batch from XCom whose task Airflow retries after each fault."""

from __future__ import annotations

import json
import os
from datetime import timedelta

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_mta.operators.batch import BatchPersonalizedSmsOperator

with DAG("mta_rel_faults", schedule=None, start_date=pendulum.datetime(2025, 1, 1, tz="UTC"), catchup=False):

    @task
    def recipients() -> list[dict]:
        n = int(os.environ.get("MTA_REL_ROWS", "10000"))
        return [
            {"phone": f"+1317{5550000 + i:07d}", "first_name": f"R{i}", "code": f"{i * 7919 % 100_000:05d}"}
            for i in range(n)
        ]

    batch = BatchPersonalizedSmsOperator(
        task_id="batch",
        rows=recipients(),
        message="Hi {{ first_name }}, your code is {{ code }}",
        chunk_size=int(os.environ.get("MTA_REL_CHUNK", "500")),
        retries=int(os.environ.get("MTA_REL_RETRIES", "5")),
        retry_delay=timedelta(seconds=1),
    )

    @task
    def record(result: dict) -> None:
        with open(os.environ["MTA_IT_OUT"], "w") as fh:
            json.dump(result, fh)

    record(batch.output)
