"""Integration DAGs: five failing tasks each, paging the same phone with storm control (cooldown from env)."""

from __future__ import annotations

import datetime as dt
import os

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_mta.notifications.mta import MtaNotifier

COOLDOWN = dt.timedelta(seconds=float(os.environ.get("MTA_IT_COOLDOWN_S", "300")))

for name in ("a", "b"):
    with DAG(
        f"mta_it_storm_{name}",
        schedule=None,
        start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
        catchup=False,
        default_args={
            "retries": 0,
            "on_failure_callback": MtaNotifier(
                subscribers=["+13175559999", "+13175558888"],
                cooldown=COOLDOWN,
                state_conn_id=os.environ.get("MTA_IT_STATE_CONN"),
            ),
        },
    ):
        for n in range(5):

            @task(task_id=f"load_{n}")
            def load() -> None:
                raise ValueError("the warehouse is down")

            load()
