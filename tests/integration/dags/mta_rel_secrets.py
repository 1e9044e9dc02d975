"""Reliability DAG: every component once, for the secrets scan of tests/reliability/test_secrets.py.

``mta_default`` holds a canary API key; ``mta_wrong`` a key the sandbox refuses; ``mta_echo`` points at a
careless server whose errors echo the request (API key and phone numbers) back.
"""

from __future__ import annotations

import json
import os

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_mta.hooks.mta import MtaHook
from airflow_provider_mta.notifications.mta import MtaNotifier
from airflow_provider_mta.operators.batch import BatchPersonalizedSmsOperator
from airflow_provider_mta.operators.send import SendSmsOperator
from airflow_provider_mta.sensors.delivery import MtaDeliverySensor

ON_CALL = ["+13175559999"]

with DAG(
    "mta_rel_secrets",
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    params={"shop": "Acme"},
):
    send = SendSmsOperator(
        task_id="send",
        subscribers=["(317) 555-1111", "+1 317 555 2222"],
        message="Hi {{ first_name }}, {{ params.shop }} report for {{ ds }}",
        properties={"(317) 555-1111": {"first_name": "Ann"}, "+1 317 555 2222": {"first_name": "Bob"}},
        tags={"run": "{{ run_id }}"},
    )

    @task(show_return_value_in_logs=False)  # else Airflow logs the rows (numbers in full): the DAG's choice
    def customers() -> list[dict]:
        return [
            {"phone": "+13175553333", "first_name": "Cy"},
            {"phone": "317-555-4444", "first_name": "Di"},
            {"phone": "not-a-number", "first_name": "X"},
        ]

    batch = BatchPersonalizedSmsOperator(
        task_id="batch", rows=customers(), message="Hi {{ first_name }}", chunk_size=1, on_invalid="skip"
    )
    wait_send = MtaDeliverySensor(
        task_id="wait_send", send_result=send.output, deferrable=True, poll_interval=0.5, timeout=120
    )
    wait_batch = MtaDeliverySensor(
        task_id="wait_batch", send_result=batch.output, deferrable=False, poll_interval=0.5, timeout=120
    )

    @task(
        on_failure_callback=[
            MtaNotifier(subscribers=ON_CALL),
            MtaNotifier(subscribers=ON_CALL, mta_conn_id="mta_wrong"),
        ]
    )
    def wrong_key() -> None:
        MtaHook(mta_conn_id="mta_wrong").verify_api_key()  # 401

    echo_send = SendSmsOperator(
        task_id="echo_send", mta_conn_id="mta_echo", subscribers=["+13175555555"], message="hello"
    )  # 400 echoing the key and the numbers

    @task
    def echo_hook() -> None:
        hook = MtaHook(mta_conn_id="mta_echo")
        ok, message = hook.test_connection()
        print(f"test_connection: {ok} {message}")
        hook.verify_api_key()  # 502 HTML page echoing the key

    @task(trigger_rule="all_done")
    def record(send: object, batch: object, wait_send: object, wait_batch: object) -> None:
        with open(os.environ["MTA_IT_OUT"], "w") as fh:
            json.dump({"send": send, "batch": batch, "wait_send": wait_send, "wait_batch": wait_batch}, fh)

    record(send=send.output, batch=batch.output, wait_send=wait_send.output, wait_batch=wait_batch.output)
    wrong_key()
    echo_hook()
    echo_send  # noqa: B018
