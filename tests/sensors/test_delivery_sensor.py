"""MtaDeliverySensor: poke mode against the delayed sandbox, deferral, execute_complete, soft_fail, import cost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

import pytest

try:
    from airflow.sdk.exceptions import TaskDeferred
except ImportError:  # Airflow 3.1
    from airflow.exceptions import TaskDeferred

from airflow_provider_mta.core.errors import MtaValidationError
from airflow_provider_mta.hooks.mta import MtaHook
from airflow_provider_mta.sensors.delivery import (
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
    AirflowSkipException,
    MtaDeliverySensor,
)
from airflow_provider_mta.triggers.delivery import MtaDeliveryTrigger

pytestmark = pytest.mark.integration

GOOD = ["+13175551111", "+13175552222", "+13175553333"]
FAILING = ["+13175550010", "+13175550012"]


def send_result(numbers: list[str]) -> dict[str, Any]:
    """What SendSmsOperator pushes to XCom."""
    r = MtaHook().send_message(subscribers=numbers, message="your order shipped")
    return {
        "message_id": r.message_id,
        "outbound_ids": r.outbound_ids,
        "total_sent": r.total_sent,
        "credits": r.total_sent,
        "request_id": r.request_id,
        "already_sent": r.already_sent,
    }


def sensor(**kwargs: Any) -> MtaDeliverySensor:
    return MtaDeliverySensor(**{"task_id": "wait", "poll_interval": 0.3, "deferrable": False, **kwargs})


def test_poke_mode_waits_until_delivered(slow, calls):
    result = send_result(GOOD)
    started = time.monotonic()
    summary = sensor(send_result=result).execute({})
    assert time.monotonic() - started >= 1.9  # the sandbox delivers after 2 s
    assert summary["state"] == "success" and summary["delivered"] == 3 and summary["failures"] == []
    assert all(path == "/deliveries" for _, path, _ in calls.gets())
    assert len(calls.gets()) >= 5  # poked several times, once per 0.3 s


def test_poke_mode_batch_result_without_outbound_ids(slow):
    first, second = send_result(GOOD[:2]), send_result(GOOD[2:])
    batch = {"sent": 3, "chunks": 2, "outbound_ids": None, "message_ids": [first["message_id"], second["message_id"]]}
    summary = sensor(send_result=batch).execute({})
    assert (summary["state"], summary["total"], summary["delivered"]) == ("success", 3, 3)


def test_failing_numbers_fail_with_reasons(slow, capsys):
    result = send_result(GOOD + FAILING)
    with pytest.raises(AirflowFailException) as info:  # not retried by Airflow: the statuses are final
        sensor(send_result=result).execute({})
    assert "***0010 INVALID_NUMBER (10)" in str(info.value) and "***0012 LANDLINE (12)" in str(info.value)
    assert "fail_on='any' allows no failure" in str(info.value)
    logged = capsys.readouterr().out
    assert "Failed deliveries: ***0010 INVALID_NUMBER (10), ***0012 LANDLINE (12)" in logged
    assert "+13175550010" not in logged


def test_min_delivered_succeeds_and_reports_the_failures(slow):
    result = send_result(GOOD + FAILING)
    summary = sensor(send_result=result, min_delivered=3).execute({})
    assert (summary["state"], summary["delivered"], summary["failed"]) == ("success", 3, 2)
    assert summary["statuses"] == {"DELIVERED": 3, "INVALID_NUMBER": 1, "LANDLINE": 1}
    assert [f["recipient"] for f in summary["failures"]] == ["***0010", "***0012"]


def test_soft_fail_skips_on_failures_and_timeouts(slow):
    result = send_result(FAILING)
    with pytest.raises(AirflowSkipException):
        sensor(send_result=result, soft_fail=True).execute({})
    pending = send_result(GOOD)
    with pytest.raises(AirflowSensorTimeout):
        sensor(send_result=pending, timeout=0.5).execute({})
    with pytest.raises(AirflowSkipException):
        sensor(send_result=send_result(GOOD), timeout=0.5, soft_fail=True).execute({})


def test_dry_run_succeeds_at_once_without_a_request(slow, calls, capsys):
    dry = {"dry_run": True, "recipients": 2, "credits": 2, "previews": []}
    summary = sensor(send_result=dry).execute({})
    assert summary["state"] == "success" and summary["total"] == 0 and "nothing was sent" in summary["reason"]
    assert calls.seen == []
    assert "Nothing was sent (dry run)" in capsys.readouterr().out


def test_templated_text_and_explicit_ids(slow):
    result = send_result(GOOD[:1])
    op = sensor(send_result=json.dumps(result))  # e.g. a Jinja-rendered XCom
    assert op.target.outbound_ids == tuple(result["outbound_ids"])
    assert sensor(outbound_ids=result["outbound_ids"]).execute({})["delivered"] == 1
    assert sensor(message_ids=[result["message_id"]]).execute({})["delivered"] == 1


def test_parse_time_checks():
    with pytest.raises(ValueError, match="give send_result"):
        MtaDeliverySensor(task_id="w")
    with pytest.raises(MtaValidationError, match="min_delivered"):
        MtaDeliverySensor(task_id="w", outbound_ids=[1], min_delivered=1.5)
    with pytest.raises(MtaValidationError, match="fail_on"):
        MtaDeliverySensor(task_id="w", outbound_ids=[1], fail_on="sometimes")
    with pytest.raises(ValueError, match="page_size"):
        MtaDeliverySensor(task_id="w", outbound_ids=[1], page_size=5000)
    assert "send_result" in MtaDeliverySensor.template_fields


def test_deferrable_checks_once_then_defers_with_json_safe_kwargs(slow, calls):
    result = send_result(GOOD)
    op = sensor(send_result=result, deferrable=True, timeout=120, min_delivered=0.5)
    with pytest.raises(TaskDeferred) as info:
        op.execute({})
    assert len(calls.gets()) == 1  # one check before deferring
    deferred = info.value
    assert deferred.method_name == "execute_complete" and deferred.timeout.total_seconds() == 120
    assert isinstance(deferred.trigger, MtaDeliveryTrigger)
    _, kwargs = deferred.trigger.serialize()
    assert json.loads(json.dumps(kwargs)) == kwargs
    assert kwargs["outbound_ids"] == result["outbound_ids"] and kwargs["message_ids"] == [result["message_id"]]
    assert (kwargs["min_delivered"], kwargs["fail_on"], kwargs["poll_interval"]) == (0.5, "any", 0.3)
    assert time.time() + 110 < kwargs["deadline"] <= time.time() + 120


def test_deferrable_returns_at_once_when_already_delivered(slow):
    result = send_result(GOOD)
    time.sleep(2.1)
    summary = sensor(send_result=result, deferrable=True).execute({})
    assert summary["state"] == "success"


def test_deferrable_fails_at_once_and_soft_fail_skips(slow):
    result = send_result(FAILING)
    time.sleep(2.1)
    with pytest.raises(AirflowFailException, match="INVALID_NUMBER"):
        sensor(send_result=result, deferrable=True).execute({})
    with pytest.raises(AirflowSkipException):
        sensor(send_result=result, deferrable=True, soft_fail=True).execute({})


SUMMARY = {
    "state": "failed",
    "reason": "1 of 2 delivered, 1 failed, 0 pending: fail_on='any' allows no failure",
    "total": 2,
    "delivered": 1,
    "failed": 1,
    "pending": 0,
    "statuses": {"DELIVERED": 1, "LANDLINE": 1},
    "failures": [{"recipient": "***0012", "outbound_id": 2, "status": 12, "reason": "LANDLINE"}],
    "failures_not_shown": 0,
}


@pytest.mark.parametrize(
    ("event", "error"),
    [
        ({"status": "failed", "summary": SUMMARY, "message": "x"}, AirflowFailException),
        ({"status": "timeout", "summary": None, "message": "Sensor has timed out"}, AirflowSensorTimeout),
        ({"status": "error", "summary": None, "message": "MTA answered HTTP 401"}, AirflowException),
        ({"status": "???"}, AirflowException),
    ],
)
def test_execute_complete_raises_like_airflow_sensors(event, error):
    op = sensor(outbound_ids=[1, 2], deferrable=True)
    with pytest.raises(error):
        op.resume_execution("execute_complete", {"event": event}, {})
    soft = sensor(outbound_ids=[1, 2], deferrable=True, soft_fail=True)
    with pytest.raises(AirflowSkipException):  # BaseSensorOperator.resume_execution applies soft_fail
        soft.resume_execution("execute_complete", {"event": event}, {})


def test_execute_complete_returns_the_summary():
    ok = {**SUMMARY, "state": "success"}
    assert sensor(outbound_ids=[1, 2]).execute_complete({}, {"status": "success", "summary": ok}) == ok
    with pytest.raises(AirflowFailException, match=r"\*\*\*0012 LANDLINE \(12\)"):
        sensor(outbound_ids=[1, 2]).execute_complete({}, {"status": "failed", "summary": SUMMARY})


def test_importing_the_sensor_stays_cheap(airflow_home):
    """A DAG file importing the sensor does not pull in the trigger, the HTTP client or the wire models."""
    probe = (
        "import sys, airflow.sdk\n"
        "before = set(sys.modules)\n"
        "from airflow_provider_mta.sensors.delivery import MtaDeliverySensor\n"
        "print(sorted(set(sys.modules) - before))\n"
    )
    env = {**os.environ, "AIRFLOW_HOME": str(airflow_home)}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True)
    new = out.stdout.strip().splitlines()[-1]
    for heavy in (
        "airflow_provider_mta.triggers.delivery",
        "airflow.triggers.base",
        "airflow_provider_mta.backends.mta.client",
        "airflow_provider_mta.backends.mta.models",
        "'httpx'",
        "'pydantic'",
        "'tenacity'",
        "phonenumbers",
    ):
        assert heavy not in new, heavy
    assert "airflow_provider_mta.sensors.delivery" in new  # the probe did import it
