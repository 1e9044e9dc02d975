"""MtaDeliverySensor under real Airflow (`airflow dags test` runs triggers in line), sandbox delivering after 5 s."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_mta.sandbox.testing import SandboxServer
from tests.conftest import API_KEY, use_sandbox

pytestmark = pytest.mark.integration
# Airflow 3.1 takes 2-3 s to start a task, and far longer on a loaded 2-core CI machine; each sensor
# must still find its messages pending (5 s was seen to be too short under load).
DELAY_S = 12.0


@pytest.fixture(scope="module")
def slow_sandbox_server() -> Iterator[SandboxServer]:
    with SandboxServer(api_keys=(API_KEY,), delivery_delay_s=DELAY_S) as server:
        yield server


@pytest.fixture
def sandbox(slow_sandbox_server: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Overrides the shared ``sandbox`` (used by ``run_dag``): messages take 5 s to reach their final status."""
    return use_sandbox(slow_sandbox_server, monkeypatch)


def task_log(log: str, task_id: str) -> str:
    """The part of the `dags test` output between a task's start and end lines."""
    match = re.search(
        rf"\[DAG TEST\] starting task_id={task_id} .*?\[DAG TEST\] end task task_id={task_id} ", log, re.DOTALL
    )
    assert match, f"no log for {task_id}"
    return match.group(0)


def test_delivery_sensor_deferrable_poke_and_failing_numbers(run_dag, sandbox):
    result = run_dag("mta_it_delivery")
    log = result.log
    # wait_failing fails on purpose; the run's state comes from its leaf (record), which succeeds
    assert result.succeeded, log[-4000:]
    assert API_KEY not in log
    assert not re.search(r"\+1317555\d{4}", log)  # phone numbers only masked

    out = result.out
    assert out is not None, log[-4000:]
    for name, total in (("deferred", 3), ("poke", 2), ("batch_shape", 1)):
        assert (out[name]["state"], out[name]["delivered"], out[name]["total"]) == ("success", total, total), name

    # every sensor really waited: it saw the messages pending before they were delivered
    deferred = task_log(log, "wait_deferred")
    assert "[DAG TEST] running trigger in line" in deferred and "0 of 3 delivered" in deferred
    poke = task_log(log, "wait_poke")
    assert "running trigger in line" not in poke and "0 of 2 delivered" in poke
    assert "running trigger in line" in task_log(log, "wait_batch_shape")

    # the failing numbers fail the sensor through the trigger, naming the reasons
    failing = task_log(log, "wait_failing")
    assert "running trigger in line" in failing and "0 of 5 delivered" in failing
    assert "AirflowFailException" in failing
    assert "MTA delivery failed: 3 of 5 delivered, 2 failed, 0 pending: fail_on='any' allows no failure" in failing
    assert "***0010 INVALID_NUMBER (10), ***0012 LANDLINE (12)" in failing
    assert "Skipping due to soft_fail" in task_log(log, "wait_soft")
    at_least = out["min_delivered"]
    assert (at_least["state"], at_least["delivered"], at_least["failed"]) == ("success", 3, 2)
    assert {f["reason"] for f in at_least["failures"]} == {"INVALID_NUMBER", "LANDLINE"}

    rows = sandbox.messages()
    assert len(rows) == 3 + 2 + 1 + 5
    assert {r["status"] for r in rows} == {"DELIVERED", "INVALID_NUMBER", "LANDLINE"}
