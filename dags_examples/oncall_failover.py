"""On-call paging that survives an SMS vendor's outage.

The failure callback pages through MTA; when MTA cannot text now (down, timing out, out of credits, a
rotated key) the same page goes through the Telnyx connection, then the Bird one, at once. A vendor that
just failed is skipped by the next pages of the same worker for two minutes, so fifty failing tasks do
not each wait for MTA's timeouts. During an incident, pages to the same phone within five minutes of a
text fold into one digest ("Airflow: 12 more pages since 14:02Z in etl_*: ...") sent when the five
minutes are up; the first page is never held back.

Needs: the connections ``mta_default``, ``telnyx_oncall`` and ``bird_oncall`` (any of the three types
works in any position) and the Variable ``mta_oncall_phone`` (E.164, e.g. +13175550199).
"""

from __future__ import annotations

import datetime as dt

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_mta.notifications.mta import MtaNotifier

ONCALL = MtaNotifier(
    subscribers=["{{ var.value.get('mta_oncall_phone', '+13175550199') }}"],
    sms_conn_id="mta_default",
    fallback_conn_ids=["telnyx_oncall", "bird_oncall"],
    cooldown=dt.timedelta(minutes=5),
)

with DAG(
    "oncall_failover",
    schedule="@hourly",
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    default_args={"on_failure_callback": ONCALL, "retries": 0},
    tags=["mta", "telnyx", "bird", "example"],
):

    @task
    def check_warehouse_fresh() -> None:
        # Stand-in for a real check: it fails, so on-call is paged.
        raise ValueError("the warehouse load is 7 h old (limit 2 h)")

    check_warehouse_fresh()
