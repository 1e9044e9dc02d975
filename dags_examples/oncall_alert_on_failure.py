"""On-call gets a text when a task fails.

Every task of this DAG carries ``on_failure_callback=MtaNotifier(...)``. When the freshness check
fails, on-call receives one SMS such as
``Airflow FAILED: oncall_alert_on_failure.check_orders_fresh try 1 run scheduled__... <log link>``.
The task's own error still fails the run; a notification that cannot be sent is logged, never raised.

Needs: the ``mta_default`` connection and the Variable ``mta_oncall_phone`` (E.164, e.g. +13175550199).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_mta.notifications.mta import MtaNotifier

ONCALL = MtaNotifier(subscribers=["{{ var.value.get('mta_oncall_phone', '+13175550199') }}"])

with DAG(
    "oncall_alert_on_failure",
    schedule="@hourly",
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    default_args={"on_failure_callback": ONCALL, "retries": 0},
    params={"max_age_hours": 2},
    tags=["mta", "example"],
):

    @task
    def load_orders() -> dict:
        # Stand-in for your load: report when the newest order was written.
        return {"rows": 1280, "newest_age_hours": 7}

    @task
    def check_orders_fresh(stats: dict, params: dict | None = None) -> None:
        max_age = (params or {}).get("max_age_hours", 2)
        if stats["newest_age_hours"] > max_age:
            raise ValueError(f"orders are {stats['newest_age_hours']} h old (limit {max_age} h)")

    check_orders_fresh(load_orders())
