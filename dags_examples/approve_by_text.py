"""Ask a person by text, wait for the answer: "Reply YES to publish tonight's numbers".

The question goes out with ``SendSmsOperator``; ``MtaReplySensor`` waits (deferred, in the triggerer)
until the approver answers. YES (or Y, approve) publishes, NO fails the run, silence times out after
two hours. The answer comes through the connection's webhooks: the provider's receiver on the Airflow
API server (``POST /sms-webhooks/mta_default``) verifies and stores it; this DAG never polls MTA. A STOP
reply is honoured too: the number lands in the connection's opt-out table (docs/webhooks.md).

Needs: the connection ``mta_default`` with the extra ``webhook_secret`` (the secret MTA signs with) and
an MTA ``message-reply`` webhook pointing at ``https://<your airflow>/sms-webhooks/mta_default``
(``MtaHook().register_webhook(event="message-reply", url=..., secret=...)``), and the Variable
``mta_approver_phone`` (E.164, e.g. +13175550198).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_mta.operators.send import SendSmsOperator
from airflow_provider_mta.sensors.reply import MtaReplySensor

APPROVER = "{{ var.value.get('mta_approver_phone', '+13175550198') }}"

with DAG(
    "approve_by_text",
    schedule="0 19 * * *",
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    tags=["mta", "example", "webhooks"],
):
    ask = SendSmsOperator(
        task_id="ask",
        subscribers=[APPROVER],
        message="Nightly numbers are ready. Reply YES to publish them tonight, NO to hold them.",
    )
    answer = MtaReplySensor(
        task_id="wait_for_answer",
        recipients=[APPROVER],
        pattern=r"yes|y|approve",
        reject_pattern=r"no|n|hold",
        poll_interval=5,
        timeout=2 * 3600,
        deferrable=True,
    )

    @task
    def publish(summary: dict) -> str:
        print(f"Publishing: {summary['reason']}")
        return "published"

    ask >> answer
    publish(answer.output)
