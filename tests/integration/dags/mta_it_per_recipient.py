"""Integration DAGs ``mta_it_telnyx`` and ``mta_it_bird``: a send, a batch from XCom (300 rows by default) and a
deferrable delivery sensor on a ``telnyx`` / ``bird`` connection.

The same operators as on MTA; only ``sms_conn_id`` names a connection of another type.
"""

from __future__ import annotations

import json
import os

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_mta.operators.batch import BatchPersonalizedSmsOperator
from airflow_provider_mta.operators.send import SendSmsOperator
from airflow_provider_mta.sensors.delivery import MtaDeliverySensor

ROWS = int(os.environ.get("MTA_IT_ROWS", "300"))

for api in ("telnyx", "bird"):
    with DAG(f"mta_it_{api}", schedule=None, start_date=pendulum.datetime(2025, 1, 1, tz="UTC"), catchup=False):
        send = SendSmsOperator(
            task_id="send",
            sms_conn_id=f"{api}_default",
            subscribers=["+13175550901", "+13175550902"],
            message="Run {{ run_id }} started",
        )

        @task
        def customers() -> list[dict]:
            return [{"phone": f"+1317556{1000 + i:04d}", "first_name": f"Cust{i}"} for i in range(ROWS)]

        batch = BatchPersonalizedSmsOperator(
            task_id="batch",
            sms_conn_id=f"{api}_default",
            rows=customers(),
            message="Hi {{ first_name }}, your code is ready",
            chunk_size=100,
        )
        wait = MtaDeliverySensor(
            task_id="wait",
            sms_conn_id=f"{api}_default",
            send_result=batch.output,
            deferrable=True,
            poll_interval=0.5,
            timeout=180,
        )

        @task
        def record(sent: dict, batched: dict, delivered: dict) -> None:
            with open(os.environ["MTA_IT_OUT"], "w") as fh:
                json.dump({"send": sent, "batch": batched, "wait": delivered}, fh)

        send >> batch
        record(send.output, batch.output, wait.output)
