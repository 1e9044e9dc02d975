"""Every evening, text each opted-in customer their points, then wait until the phones have them.

``BatchPersonalizedSmsOperator`` reads the customers from SQL (any common.sql connection; here
``customers_db``), validates every row before sending (E.164 numbers, duplicates, every Liquid
variable), sends in chunks that a retry resumes without texting anyone twice, and hands its result
to ``MtaDeliverySensor``, which waits (deferred, in the triggerer) for the delivery reports.

Needs: ``mta_default`` and ``customers_db`` (e.g. SQLite: ``{"conn_type": "sqlite", "host": "/path/customers.db"}``).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import DAG

from airflow_provider_mta.notifications.mta import MtaNotifier
from airflow_provider_mta.operators.batch import BatchPersonalizedSmsOperator
from airflow_provider_mta.sensors.delivery import MtaDeliverySensor

with DAG(
    "nightly_personalized_batch",
    schedule="0 18 * * *",
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    params={"min_points": 1, "shop": "Acme Coffee"},
    template_searchpath=[str(Path(__file__).parent / "sql")],
    default_args={
        "retries": 2,
        "retry_delay": timedelta(minutes=1),
        "on_failure_callback": MtaNotifier(subscribers=["{{ var.value.get('mta_oncall_phone', '+13175550199') }}"]),
    },
    tags=["mta", "example"],
):
    batch = BatchPersonalizedSmsOperator(
        task_id="text_points",
        conn_id="customers_db",
        sql="customers_to_text.sql",
        message="Hi {{ first_name }}, you have {{ points }} points at {{ params.shop }}. Reply STOP to opt out",
        defaults={"first_name": "there"},
        on_invalid="skip",  # a bad number in the CRM should not stop everyone else's text
        chunk_size=500,
        max_credits=5_000,
        # Quiet hours: [mta] quiet_hours (08:00-21:00 at each customer's location) defers a text that would
        # arrive at night until their morning, with MTA's scheduledDate; quiet_hours=... overrides it here.
        quiet_hours_overrides={"US-FL": ("08:00", "20:00")},  # Florida's stricter window
    )
    MtaDeliverySensor(
        task_id="wait_for_delivery",
        send_result=batch.output,
        min_delivered=0.7,  # succeed once 70% are delivered ...
        fail_on="never",  # ... and report failures (masked, with reasons) in XCom instead of failing
        poll_interval=5,
        timeout=60 * 60,
        deferrable=True,
    )
