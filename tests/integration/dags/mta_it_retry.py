"""Integration DAG: a send whose first answer is lost; the client makes no retry, Airflow retries the task."""

from __future__ import annotations

import json
import os
from datetime import timedelta

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_mta.notifications.mta import MtaNotifier
from airflow_provider_mta.operators.send import SendSmsOperator

with DAG("mta_it_retry", schedule=None, start_date=pendulum.datetime(2025, 1, 1, tz="UTC"), catchup=False) as dag:
    send = SendSmsOperator(
        task_id="send",
        subscribers=["+13175551111", "+13175552222", "+13175553333"],
        message="Your order shipped",
        retries=2,
        retry_delay=timedelta(seconds=1),
        on_retry_callback=MtaNotifier(subscribers=["+13175558888"]),
    )

    @task
    def record(result: dict) -> None:
        with open(os.environ["MTA_IT_OUT"], "w") as fh:
            json.dump(result, fh)

    record(send.output)
