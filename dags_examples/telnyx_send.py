"""The same operators on Telnyx: a personalized text per person, and a wait until their phones have it.

Only the connection differs: ``sms_conn_id="telnyx_default"`` names a connection of type ``telnyx``
(API key, and a sender in its extra ``from`` or ``messaging_profile_id``). Telnyx takes one recipient
per request, so each text is rendered here; a send whose answer is lost is reported as ``unknown``,
never resent (docs/telnyx.md).

Needs: the ``telnyx_default`` connection.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_mta.operators.batch import BatchPersonalizedSmsOperator
from airflow_provider_mta.sensors.delivery import MtaDeliverySensor

with DAG(
    "telnyx_send",
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    tags=["mta", "telnyx", "example"],
):
    send = BatchPersonalizedSmsOperator(
        task_id="send_pickup_notices",
        sms_conn_id="telnyx_default",
        rows=[
            {"phone": "+13175550131", "first_name": "Kim", "store": "Main St"},
            {"phone": "+13175550132", "first_name": "Lee", "store": "Harbor"},
        ],
        message="Hi {{ first_name }}, your order is ready at {{ store }}.",
        quiet_hours=None,  # a pickup notice the customer is waiting for
    )
    MtaDeliverySensor(
        task_id="wait_for_delivery",
        sms_conn_id="telnyx_default",
        send_result=send.output,
        poll_interval=3,
        timeout=15 * 60,
        deferrable=True,
    )
