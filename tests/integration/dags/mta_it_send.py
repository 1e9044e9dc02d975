"""Integration DAG: SendSmsOperator mixing Jinja and Liquid, its XCom read downstream, a failing task paging on-call."""

from __future__ import annotations

import json
import os

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_mta.notifications.mta import MtaNotifier
from airflow_provider_mta.operators.send import SendSmsOperator

OUT = os.environ.get("MTA_IT_OUT", "/dev/null")

with DAG(
    "mta_it_send",
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    params={"shop": "Acme"},
    catchup=False,
) as dag:
    send = SendSmsOperator(
        task_id="send",
        subscribers=["(317) 555-1111", "+1 317 555 2222"],
        message="Hi {{ first_name }}, {{ params.shop }} report for {{ ds }} is ready",
        properties={"(317) 555-1111": {"first_name": "Ann"}, "+1 317 555 2222": {"first_name": "Bob"}},
        tags={"run": "{{ run_id }}"},
    )

    @task
    def record(result: dict) -> None:
        with open(OUT, "w") as fh:
            json.dump(result, fh)

    @task(on_failure_callback=MtaNotifier(subscribers=["+13175559999"]))
    def boom() -> None:
        raise ValueError("the nightly load failed")

    record(send.output) >> boom()
