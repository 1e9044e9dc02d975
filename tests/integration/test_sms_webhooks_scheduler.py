"""A DAG scheduled on the reply asset runs under a real scheduler when the sandbox's phone answers.

The whole path: the sandbox posts MTA's signed ``message-reply`` webhook to the provider's receiver on
``airflow api-server``; the receiver records the asset event; ``airflow scheduler`` (LocalExecutor) runs
the DAG scheduled on ``sms_event_asset("mta_sched", "reply")``; its task reads the triggering event.
"""

from __future__ import annotations

import json
import sqlite3
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import mta_conn_json
from tests.integration.airflow_stack import airflow_stack, stack_env, tails
from tests.integration.api_server import wait_for

pytestmark = pytest.mark.integration

DAG_ID = "mta_it_scheduled_on_reply"
SECRET = "scheduler-test-webhook-secret"
PHONE = "+13175550166"
DAG_FILE = textwrap.dedent(
    f'''
    """Runs on each verified reply to connection mta_sched."""
    import json
    import os

    import pendulum
    from airflow.sdk import DAG, task

    from airflow_provider_mta.webhooks.asset_events import sms_event_asset

    with DAG(
        "{DAG_ID}",
        schedule=[sms_event_asset("mta_sched", "reply")],
        start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
        catchup=False,
    ):

        @task
        def read_reply(*, triggering_asset_events=None):
            extras = [e.extra for events in (triggering_asset_events or {{}}).values() for e in events]
            with open(os.environ["MTA_IT_OUT"], "w") as out:
                json.dump(extras, out)

        read_reply()
    '''
)


def test_a_dag_scheduled_on_the_reply_asset_runs(tmp_path: Path, sandbox: Any) -> None:
    out = tmp_path / "extras.json"
    env = stack_env(
        tmp_path,
        {f"{DAG_ID}.py": DAG_FILE},
        AIRFLOW_CONN_MTA_SCHED=mta_conn_json(sandbox.base_url, api_key=sandbox.api_key, webhook_secret=SECRET),
        MTA_IT_OUT=str(out),
    )
    db = Path(env["AIRFLOW_HOME"]) / "airflow.db"
    base = env["AIRFLOW__API__BASE_URL"]

    def query(sql: str) -> list[tuple[Any, ...]]:
        try:
            with sqlite3.connect(db, timeout=30) as conn:
                return conn.execute(sql, (DAG_ID,)).fetchall()
        except sqlite3.OperationalError:  # locked by a writer: ask again
            return []

    def receiver_up() -> bool:
        try:
            return httpx.post(f"{base}/sms-webhooks/-", timeout=2).status_code == 404
        except httpx.TransportError:
            return False

    with airflow_stack(env, tmp_path) as logs:
        try:
            wait_for(
                "the dag-processor to store the DAG",
                lambda: query("SELECT 1 FROM serialized_dag WHERE dag_id = ?"),
                timeout=120,
            )
            wait_for("the webhook receiver on the API server", receiver_up, timeout=90)
            hook = {"event": "message-reply", "url": f"{base}/sms-webhooks/mta_sched", "secret": SECRET}
            sandbox.client().post("/v3/webhooks", json=hook).raise_for_status()
            sandbox.client().post("/_sandbox/reply", json={"from": PHONE, "text": "YES"}).raise_for_status()
            done = wait_for(
                "the asset-triggered run to finish",
                lambda: [
                    r
                    for r in query("SELECT state, run_type FROM dag_run WHERE dag_id = ?")
                    if r[0] in ("success", "failed")
                ],
                timeout=150,
                interval=1,
            )
        except BaseException:
            print(tails(logs))
            raise
    assert done == [("success", "asset_triggered")], tails(logs)
    (extra,) = json.loads(out.read_text())
    assert (extra["kind"], extra["number"], extra["text"], extra["provider"]) == ("reply", "***0166", "YES", "mta")
