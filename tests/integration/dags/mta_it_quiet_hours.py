"""Integration DAG: a batch to New York and Los Angeles whose quiet-hours window is open in one zone only.

The window is built from the real clock when the DAG is parsed: it opened an hour ago in New York and
opens in Los Angeles (three hours behind) about two hours from now.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from zoneinfo import ZoneInfo

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_mta.operators.batch import BatchPersonalizedSmsOperator

NEW_YORK_NOW = dt.datetime.now(ZoneInfo("America/New_York"))
WINDOW = (
    (NEW_YORK_NOW - dt.timedelta(hours=1)).strftime("%H:%M"),
    (NEW_YORK_NOW + dt.timedelta(hours=1)).strftime("%H:%M"),
)


@task
def record(result: dict) -> None:
    with open(os.environ["MTA_IT_OUT"], "w") as fh:
        json.dump({**result, "window": WINDOW}, fh)


with DAG("mta_it_quiet_hours", schedule=None, start_date=pendulum.datetime(2025, 1, 1, tz="UTC"), catchup=False):
    customers = [{"phone": f"212555{1000 + i}", "first_name": f"NY{i}"} for i in range(3)]
    customers += [{"phone": f"310555{1000 + i}", "first_name": f"LA{i}"} for i in range(3)]
    batch = BatchPersonalizedSmsOperator(
        task_id="batch",
        rows=customers,
        message="Hi {{ first_name }}, your order shipped",
        quiet_hours=WINDOW,
        quiet_hours_action="defer",
        chunk_size=2,
    )
    record(batch.output)
