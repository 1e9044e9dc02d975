"""On-call paging under `airflow dags test`: failover when MTA is down, and storm control across two processes."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import AIRFLOW, mta_conn_json, telnyx_conn_json

pytestmark = pytest.mark.integration
ONCALL = "+13175559999"


def pages(sandbox: Any) -> list[tuple[str, str]]:
    return [(m.get("provider", "mta"), m["to"]) for m in sandbox.messages()]


def failed_with_task_error(result: Any) -> bool:
    return result.returncode != 0 and "state=failed" in result.log and "the nightly load failed" in result.log


@pytest.fixture
def page_state(tmp_path: Path) -> dict[str, str]:
    """The pager's shared state (circuit breaker) in this test's own SQLite file."""
    return {
        "AIRFLOW_CONN_PAGE_STATE": json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "pages.sqlite")}),
        "MTA_IT_STATE_CONN": "page_state",
    }


def telnyx_env(sandbox: Any, **extra: Any) -> dict[str, str]:
    return {"AIRFLOW_CONN_TELNYX_ONCALL": telnyx_conn_json(sandbox.telnyx_base_url, api_key=sandbox.api_key, **extra)}


@pytest.mark.parametrize(("fault", "status"), [("status", 503), ("timeout", None)])
def test_mta_down_pages_once_through_telnyx(run_dag, sandbox, page_state, fault, status):
    sandbox.fault(fault, count=20, status=status)
    result = run_dag("mta_it_failover", conn_extra={"timeout": 2}, env={**telnyx_env(sandbox), **page_state})
    assert failed_with_task_error(result), result.log[-4000:]
    assert pages(sandbox) == [("telnyx", ONCALL)]
    assert re.search(
        r"Page sent via telnyx_oncall \(telnyx\) to 1 recipient\(s\) after: mta_default \(mta\)", result.log
    )


def test_mta_healthy_pages_once_through_mta(run_dag, sandbox, page_state):
    result = run_dag("mta_it_failover", env={**telnyx_env(sandbox), **page_state})
    assert failed_with_task_error(result), result.log[-4000:]
    assert pages(sandbox) == [("mta", ONCALL)]
    assert "Page sent via mta_default (mta) to 1 recipient(s)" in result.log


def test_all_vendors_down_logs_each_failure_and_the_task_error_fails_the_run(run_dag, sandbox, page_state):
    result = run_dag(
        "mta_it_failover",
        conn_extra={"max_retries": 0},
        env={
            "AIRFLOW_CONN_MTA_DEFAULT": mta_conn_json(sandbox.base_url, api_key="rotated-key"),
            **telnyx_env(sandbox),
            "AIRFLOW_CONN_TELNYX_ONCALL": telnyx_conn_json(sandbox.telnyx_base_url, api_key="revoked-key"),
            "MTA_IT_FALLBACKS": "telnyx_oncall,not_configured",
            **page_state,
        },
    )
    assert failed_with_task_error(result), result.log[-4000:]
    assert pages(sandbox) == []
    errors = [line for line in result.log.splitlines() if "SMS page not sent by any vendor" in line]
    assert len(errors) == 1 and "error" in errors[0].lower(), errors
    assert "mta_default (mta): down: MTA answered HTTP 401" in errors[0]
    assert "telnyx_oncall (telnyx): down: Telnyx answered HTTP 401" in errors[0]
    assert "not_configured: unusable: SMS connection 'not_configured' cannot be used" in errors[0]
    assert "ValueError: the nightly load failed" in result.log


def test_ten_failures_in_two_processes_text_each_phone_twice(airflow_db, sandbox, tmp_path):
    """Two `airflow dags test` processes fail five tasks each within the cooldown: the first page, then one
    digest per phone; the state is a SQLite file both processes share (state_conn_id)."""
    cooldown_s = 40
    env = {
        **os.environ,
        "AIRFLOW_CONN_MTA_DEFAULT": mta_conn_json(sandbox.base_url, api_key=sandbox.api_key, send_rate_limit="0"),
        "AIRFLOW_CONN_STORM_DB": json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "storm.sqlite")}),
        "MTA_IT_STATE_CONN": "storm_db",
        "MTA_IT_COOLDOWN_S": str(cooldown_s),
    }
    started = time.monotonic()
    procs, logs = [], []
    for name in ("a", "b"):
        log = Path(tmp_path / f"storm_{name}.log")
        logs.append(log)
        procs.append(
            subprocess.Popen(
                [AIRFLOW, "dags", "test", f"mta_it_storm_{name}"],
                env=env,
                stdout=log.open("w"),
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
    try:
        for proc in procs:
            proc.wait(timeout=300)
    finally:
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
    text = "\n".join(log.read_text() for log in logs)
    assert text.count("raise ValueError") >= 10 or text.count("the warehouse is down") >= 10, text[-3000:]
    messages = sandbox.messages()
    by_phone: dict[str, list[str]] = {}
    for m in messages:
        by_phone.setdefault(m["to"], []).append(m["text"])
    assert sorted(by_phone) == ["+13175558888", ONCALL], messages
    for phone, texts in by_phone.items():
        assert len(texts) == 2, (phone, texts)
        assert texts[0].startswith("Airflow FAILED: mta_it_storm_")
        assert texts[1].startswith("Airflow: 9 more pages since "), texts[1]
    assert time.monotonic() - started >= cooldown_s  # the digest waited for the window to close
    assert text.count("Not texted now (storm control)") == 9
