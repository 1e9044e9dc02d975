"""Integration DAG: MtaDeliverySensor deferrable and in poke mode, on both XCom shapes, with failing numbers.

Run with a sandbox whose delivery delay is a few seconds. The chain makes every sensor really wait:
each send happens after the previous sensor finished. ``wait_failing`` fails on purpose; the tasks
after it run with ``all_done`` (and the run succeeds, as its leaf ``record`` does).
"""

from __future__ import annotations

import json
import os

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_mta.operators.send import SendSmsOperator
from airflow_provider_mta.sensors.delivery import MtaDeliverySensor

OUT = os.environ.get("MTA_IT_OUT", "/dev/null")
GOOD = ["+13175551111", "+13175552222", "+13175553333"]
FAILING = ["+13175550010", "+13175550012"]  # end in 10 INVALID_NUMBER and 12 LANDLINE
WAIT = {"poll_interval": 0.5, "timeout": 120}

with DAG("mta_it_delivery", schedule=None, start_date=pendulum.datetime(2025, 1, 1, tz="UTC"), catchup=False) as dag:
    send_a = SendSmsOperator(task_id="send_a", subscribers=GOOD, message="Order {{ run_id }} shipped")
    wait_deferred = MtaDeliverySensor(task_id="wait_deferred", send_result=send_a.output, deferrable=True, **WAIT)

    send_b = SendSmsOperator(task_id="send_b", subscribers=GOOD[:2], message="Second notice")
    wait_poke = MtaDeliverySensor(task_id="wait_poke", send_result=send_b.output, deferrable=False, **WAIT)

    @task
    def send_batch_shaped() -> dict:
        """Send through the hook and return the XCom shape of a batch that keeps no outbound ids."""
        from airflow_provider_mta.hooks.mta import MtaHook

        result = MtaHook().send_message(subscribers=GOOD[2:], message="Third notice")
        return {"sent": result.total_sent, "chunks": 1, "outbound_ids": None, "message_ids": [result.message_id]}

    batch_shape = send_batch_shaped()
    wait_batch_shape = MtaDeliverySensor(task_id="wait_batch_shape", send_result=batch_shape, deferrable=True, **WAIT)

    send_fail = SendSmsOperator(task_id="send_fail", subscribers=GOOD + FAILING, message="Batch with bad numbers")
    wait_failing = MtaDeliverySensor(task_id="wait_failing", send_result=send_fail.output, deferrable=True, **WAIT)
    wait_soft = MtaDeliverySensor(
        task_id="wait_soft", send_result=send_fail.output, soft_fail=True, trigger_rule="all_done", **WAIT
    )
    wait_min = MtaDeliverySensor(
        task_id="wait_min",
        send_result=send_fail.output,
        min_delivered=0.6,
        deferrable=True,
        trigger_rule="all_done",
        **WAIT,
    )

    @task(trigger_rule="all_done")
    def record(deferred: dict, poked: dict, batch: dict, at_least: dict) -> None:
        with open(OUT, "w") as fh:
            json.dump({"deferred": deferred, "poke": poked, "batch_shape": batch, "min_delivered": at_least}, fh)

    wait_deferred >> send_b
    wait_poke >> batch_shape
    wait_batch_shape >> send_fail
    wait_failing >> wait_soft >> wait_min
    record(wait_deferred.output, wait_poke.output, wait_batch_shape.output, wait_min.output)
