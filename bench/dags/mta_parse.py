"""Parse-cost DAG: one of each of the provider's operators, its sensor and its notifier (bench/dag_parse.py)."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_mta.notifications.mta import MtaNotifier
from airflow_provider_mta.operators.batch import BatchPersonalizedSmsOperator
from airflow_provider_mta.operators.send import SendSmsOperator
from airflow_provider_mta.sensors.delivery import MtaDeliverySensor

with DAG(
    "bench_parse_mta",
    schedule="@daily",
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    default_args={"on_failure_callback": MtaNotifier(subscribers=["+13175559999"])},
):
    send = SendSmsOperator(task_id="send", subscribers=["+13175551111"], message="Report for {{ ds }} is ready")
    batch = BatchPersonalizedSmsOperator(
        task_id="batch",
        conn_id="warehouse",
        sql="SELECT phone, first_name FROM customers WHERE opted_in",
        message="Hi {{ first_name }}, your report for {{ ds }} is ready",
    )
    wait = MtaDeliverySensor(task_id="wait", send_result=batch.output, deferrable=True)
    send >> batch >> wait
