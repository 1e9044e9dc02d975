"""Send one text to a few people and wait until their phones really have it.

A 200 from ``POST /send`` only means "queued"; ``MtaDeliverySensor`` polls MTA's delivery reports
(deferrable: the worker slot is freed while it waits) and fails, naming the masked numbers and
reasons, if a text cannot be delivered.

Needs: the ``mta_default`` connection.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_mta.operators.send import SendSmsOperator
from airflow_provider_mta.sensors.delivery import MtaDeliverySensor

with DAG(
    "send_and_wait_for_delivery",
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    params={"recipients": ["+13175550101", "+13175550102"]},
    render_template_as_native_obj=True,  # so {{ params.recipients }} stays a list
    tags=["mta", "example"],
):
    send = SendSmsOperator(
        task_id="send_maintenance_notice",
        subscribers="{{ params.recipients }}",
        # dag_run.run_after: every run has it; {{ ds }} is absent in a run triggered without a logical date
        message="Planned maintenance tonight 22:00-23:00 UTC ({{ dag_run.run_after | ds }}). No action needed.",
        tags={"dag_run": "{{ run_id }}"},
    )
    MtaDeliverySensor(
        task_id="wait_for_delivery",
        send_result=send.output,
        poll_interval=3,
        timeout=15 * 60,
        deferrable=True,
    )
