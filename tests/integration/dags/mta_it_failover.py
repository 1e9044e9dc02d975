"""Integration DAG: a failing task pages on-call through MTA, failing over to Telnyx then Bird (ids from env)."""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_mta.notifications.mta import MtaNotifier

FALLBACKS = [c for c in os.environ.get("MTA_IT_FALLBACKS", "telnyx_oncall").split(",") if c]

with DAG(
    "mta_it_failover",
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    default_args={"retries": 0},
) as dag:

    @task(
        on_failure_callback=MtaNotifier(
            subscribers=["+13175559999"],
            fallback_conn_ids=FALLBACKS,
            state_conn_id=os.environ.get("MTA_IT_STATE_CONN"),
        )
    )
    def load() -> None:
        raise ValueError("the nightly load failed")

    load()
