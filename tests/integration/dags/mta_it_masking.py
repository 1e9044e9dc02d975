"""Integration DAG: recipients from XCom (rows, subscribers, properties, suppress lists, a mapped send) for the
phone-number sweep of tests/integration/test_masking_dags.py.

The numbers are built at run time, so only the XCom of the tasks that produce them holds them in full (the DAG's data);
the DAG's source and its serialized form never do.
"""

from __future__ import annotations

import json
import os

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_mta.operators.batch import BatchPersonalizedSmsOperator
from airflow_provider_mta.operators.send import SendSmsOperator

PREFIX = "+1503555"


def number(last4: int, style: str = "e164") -> str:
    n = f"{PREFIX}{last4:04d}"
    return n if style == "e164" else f"({n[2:5]}) {n[5:8]}-{n[8:]}"


with DAG("mta_it_masking", schedule=None, start_date=pendulum.datetime(2025, 1, 1, tz="UTC"), catchup=False):

    @task(multiple_outputs=True, show_return_value_in_logs=False)  # the DAG's own data: its XCom is not ours
    def numbers() -> dict:
        return {
            "rows": [
                {"phone": number(601), "first_name": "Ann", "note": f"call {number(602)}"},
                {"phone": number(602, "us"), "first_name": "Bob", "note": "-"},
                {"phone": number(603), "first_name": "Cy", "note": "-"},
                {"phone": number(604), "first_name": "Di", "note": "-"},
            ],
            "batch_suppress": [number(604, "us")],
            "subscribers": [number(611, "us"), number(612)],
            "properties": {number(611, "us"): {"first_name": "Ed"}, number(612): {"first_name": "Flo"}},
            "send_suppress": [{"phone": number(613)}],
        }

    @task(show_return_value_in_logs=False)
    def mapped_numbers() -> list:
        return [[number(621)], [number(622, "us")]]

    data = numbers()
    batch = BatchPersonalizedSmsOperator(
        task_id="batch",
        rows=data["rows"],
        suppress=data["batch_suppress"],
        message="Hi {{ first_name }}",
        chunk_size=2,
        quiet_hours=None,
    )
    send = SendSmsOperator(
        task_id="send",
        subscribers=data["subscribers"],
        properties=data["properties"],
        suppress=data["send_suppress"],
        message="Hello {{ first_name }}",
    )
    mapped = SendSmsOperator.partial(task_id="mapped", message="Hi").expand(subscribers=mapped_numbers())

    @task
    def record(batch: dict, send: dict, mapped: list) -> None:
        with open(os.environ["MTA_IT_OUT"], "w") as fh:
            json.dump({"batch": batch, "send": send, "mapped": list(mapped)}, fh)

    record(batch=batch.output, send=send.output, mapped=mapped.output)
