"""Use ``MtaHook`` directly inside a ``@task``: text the owner of each failed data-quality check.

The hook validates and normalizes numbers, retries 429/5xx with backoff, paces itself under MTA's
rate limit and sends an ``X-Request-Id`` so a retried task does not text anyone twice.

Needs: the ``mta_default`` connection.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, task

with DAG(
    "hook_in_a_task",
    schedule="@daily",
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    tags=["mta", "example"],
):

    @task
    def failed_checks() -> list[dict]:
        # Stand-in for your data-quality results.
        return [
            {"table": "orders", "owner": "(317) 555-0111", "failed": 3},
            {"table": "refunds", "owner": "+1 317 555 0112", "failed": 1},
        ]

    @task
    def text_owners(checks: list[dict], **context) -> list[str]:
        from airflow_provider_mta.core.idempotency import derive_request_id
        from airflow_provider_mta.hooks.mta import MtaHook

        hook = MtaHook()  # mta_default
        ti, dag_run = context["ti"], context["dag_run"]
        # context["ds"] exists only in runs with a logical date (not in one triggered without it)
        day = (dag_run.logical_date or dag_run.run_after).strftime("%Y-%m-%d")
        message_ids = []
        for check in checks:
            result = hook.send_message(
                subscribers=[check["owner"]],
                message=f"{check['failed']} data-quality check(s) failed on {check['table']} ({day})",
                # the same id on a retry: MTA answers 409 instead of texting again
                request_id=derive_request_id(ti.dag_id, ti.task_id, ti.run_id, check["table"]),
            )
            message_ids.append(result.message_id)
        return message_ids

    text_owners(failed_checks())
