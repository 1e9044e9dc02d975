"""The example DAGs that put a date in the text work in a run without a logical date (Airflow 3: triggered
manually, from the CLI or the REST API), where ``ds`` and ``logical_date`` are absent from the context."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import mta_conn_json

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[2] / "dags_examples"

RUN = textwrap.dedent(
    """
    import json, sys
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 3.1
        from airflow.models.dagbag import DagBag

    dag_id, skip = sys.argv[1], sys.argv[2]
    dag = DagBag(dag_folder=sys.argv[3]).dags[dag_id]
    run = dag.test(logical_date=None, mark_success_pattern=skip or None)
    print("RESULT " + json.dumps({"state": str(run.state), "logical_date": str(run.logical_date)}))
    """
)


@pytest.mark.parametrize(
    ("dag_id", "skip", "phone", "text"),
    [  # skip: tasks marked successful without running (the delivery sensor)
        ("send_and_wait_for_delivery", "wait_for_delivery", "+13175550101", "Planned maintenance tonight"),
        ("hook_in_a_task", "", "+13175550111", "3 data-quality check(s) failed on orders"),
    ],
)
def test_the_example_sends_in_a_run_without_a_logical_date(airflow_db, sandbox, dag_id, skip, phone, text):
    env = {
        **os.environ,
        "AIRFLOW__CORE__DAGS_FOLDER": str(EXAMPLES),
        "AIRFLOW_CONN_MTA_DEFAULT": mta_conn_json(sandbox.base_url, api_key=sandbox.api_key, send_rate_limit="0"),
    }
    proc = subprocess.run(
        [sys.executable, "-c", RUN, dag_id, skip, str(EXAMPLES)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    out = proc.stdout + proc.stderr
    result = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert result, out[-4000:]
    assert json.loads(result[-1][len("RESULT ") :]) == {"state": "success", "logical_date": "None"}, out[-4000:]
    texts = [m["text"] for m in sandbox.messages() if m["to"] == phone]
    assert len(texts) == 1 and texts[0].startswith(text), texts
    assert "(20" in texts[0]  # the run's date, e.g. (2025-03-07)
