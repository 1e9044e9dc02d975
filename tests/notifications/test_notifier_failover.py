"""MtaNotifier failover against the sandbox: MTA down pages through Telnyx, exactly once; refusals stop."""

from __future__ import annotations

import asyncio
import datetime as dt
from types import SimpleNamespace

import pytest

from airflow_provider_mta.core.errors import MtaConfigError
from airflow_provider_mta.notifications.mta import MtaNotifier, will_retry
from tests.conftest import mta_conn_json, telnyx_conn_json

ONCALL = "+13175559999"


def ti(**kw):
    base = {"dag_id": "etl_orders", "task_id": "load", "run_id": "r1", "map_index": -1, "try_number": 1}
    return SimpleNamespace(**{**base, "state": "failed", "log_url": None, **kw})


@pytest.fixture
def vendors(sandbox, monkeypatch, tmp_path):
    """mta_default with one quick retry (so faults fail fast) and telnyx_oncall on the sandbox's /v2."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_MTA_DEFAULT",
        mta_conn_json(sandbox.base_url, api_key=sandbox.api_key, send_rate_limit="0", max_retries=1, timeout=1),
    )
    monkeypatch.setenv("AIRFLOW_CONN_TELNYX_ONCALL", telnyx_conn_json(sandbox.telnyx_base_url, api_key=sandbox.api_key))
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))  # the breaker's shared state: this test's own
    return sandbox


def pager(**kw) -> MtaNotifier:
    kw.setdefault("circuit_breaker", dt.timedelta(seconds=30))  # its own breaker: tests do not share state
    return MtaNotifier(subscribers=[ONCALL], fallback_conn_ids=["telnyx_oncall"], **kw)


def texts(sandbox, provider):
    return [m["to"] for m in sandbox.messages(provider=provider)]


def logged(capsys) -> str:
    return capsys.readouterr().out


def test_healthy_primary_pages_once_and_fallback_stays_silent(vendors, capsys):
    notifier = pager()
    notifier.notify({"ti": ti()})
    assert texts(vendors, "mta") == [ONCALL] and texts(vendors, "telnyx") == []
    assert notifier.last_result["providers"] == ["mta"] and notifier.last_result["paged"]
    assert "Page sent via mta_default (mta) to 1 recipient(s)" in logged(capsys)


@pytest.mark.parametrize(
    ("fault", "status", "outcome"),
    [("status", 503, "ambiguous"), ("timeout", None, "ambiguous"), ("status", 402, "down")],
)
def test_primary_down_pages_exactly_once_through_the_fallback(vendors, capsys, fault, status, outcome):
    vendors.fault(fault, count=10, status=status)
    notifier = pager()
    notifier.notify({"ti": ti()})
    assert texts(vendors, "mta") == [] and texts(vendors, "telnyx") == [ONCALL]
    result = notifier.last_result
    assert result["providers"] == ["telnyx"] and result["conn_ids"] == ["telnyx_oncall"]
    assert result["attempts"][0].startswith(f"mta_default (mta): {outcome}: ")
    out = logged(capsys)
    assert "Page sent via telnyx_oncall (telnyx) to 1 recipient(s) after: mta_default (mta): " in out


def test_wrong_key_is_unambiguous_exactly_one_vendor_texts(vendors, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_MTA_DEFAULT", mta_conn_json(vendors.base_url, api_key="rotated", max_retries=0))
    notifier = pager()
    notifier.notify({"ti": ti()})
    assert texts(vendors, "mta") == [] and texts(vendors, "telnyx") == [ONCALL]
    assert notifier.last_result["attempts"][0].startswith("mta_default (mta): down: MTA answered HTTP 401")


def test_ambiguous_primary_pages_again_through_the_fallback(vendors):
    """MTA recorded the send, then the answer was lost: the page goes through Telnyx too (twice beats never)."""
    vendors.fault("drop_after_commit", count=5)
    notifier = pager()
    notifier.notify({"ti": ti()})
    assert texts(vendors, "mta") == [ONCALL] and texts(vendors, "telnyx") == [ONCALL]
    assert notifier.last_result["attempts"][0].startswith("mta_default (mta): ambiguous: ")


def test_refused_request_is_not_failed_over(vendors, capsys):
    notifier = MtaNotifier(subscribers=["12"], fallback_conn_ids=["telnyx_oncall"])
    notifier.notify({"ti": ti()})
    assert vendors.messages() == []
    attempts = notifier.last_result["attempts"]
    assert len(attempts) == 1 and attempts[0].startswith("mta_default (mta): refused: subscribers[0]: ***12")
    assert "SMS page not sent by any vendor: mta_default (mta): refused: subscribers[0]" in logged(capsys)


def test_all_vendors_down_logs_every_reason_at_error_and_never_raises(vendors, monkeypatch, capsys):
    monkeypatch.setenv("AIRFLOW_CONN_MTA_DEFAULT", mta_conn_json(vendors.base_url, api_key="rotated", max_retries=0))
    monkeypatch.setenv(
        "AIRFLOW_CONN_TELNYX_ONCALL", telnyx_conn_json(vendors.telnyx_base_url, api_key="revoked", max_retries=0)
    )
    notifier = MtaNotifier(subscribers=[ONCALL], fallback_conn_ids=["telnyx_oncall", "nope_missing"])
    notifier.notify({"ti": ti()})  # never raises
    assert vendors.messages() == []
    errors = [line for line in logged(capsys).splitlines() if "[error" in line]
    assert len(errors) == 1, errors
    line = errors[0]
    assert "SMS page not sent by any vendor: " in line
    assert "mta_default (mta): down: MTA answered HTTP 401" in line
    assert "telnyx_oncall (telnyx): down: Telnyx answered HTTP 401" in line
    assert "nope_missing: unusable: SMS connection 'nope_missing' cannot be used" in line
    assert "rotated" not in line and "revoked" not in line


def test_circuit_breaker_skips_the_vendor_that_just_failed(vendors):
    vendors.fault("timeout", count=50)
    notifier = pager()
    for n in range(3):
        notifier.notify({"ti": ti(task_id=f"load_{n}")})
    assert texts(vendors, "telnyx") == [ONCALL] * 3
    attempts = notifier.last_result["attempts"]
    assert attempts[0] == "telnyx_oncall (telnyx): sent"
    assert attempts[-1].startswith("mta_default (mta): skipped: ")
    # only the first page waited for MTA: one try and one retry, both timed out
    assert vendors.stats()["sendRequests"] == 2


def test_fallback_conn_ids_are_checked_at_parse_time():
    with pytest.raises(MtaConfigError, match="repeats a connection or names the primary"):
        MtaNotifier(subscribers=[ONCALL], fallback_conn_ids=["mta_default"])
    with pytest.raises(MtaConfigError, match="repeats a connection"):
        MtaNotifier(subscribers=[ONCALL], fallback_conn_ids=["a", "a"])
    with pytest.raises(MtaConfigError, match="must be a list of SMS connection ids"):
        MtaNotifier(subscribers=[ONCALL], fallback_conn_ids=[3])  # type: ignore[list-item]


def test_a_fallback_that_is_no_sms_connection_is_named(vendors, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", '{"conn_type": "postgres", "host": "127.0.0.1"}')
    vendors.fault("status", count=10, status=503)
    notifier = MtaNotifier(subscribers=[ONCALL], fallback_conn_ids=["warehouse", "telnyx_oncall"])
    notifier.notify({"ti": ti()})
    assert texts(vendors, "telnyx") == [ONCALL]
    assert any("warehouse: unusable: " in a and "no SMS API" in a for a in notifier.last_result["attempts"])


def test_async_notify_fails_over_too(vendors):
    """Deadline alerts call async_notify in the triggerer: the same failover."""
    vendors.fault("status", count=10, status=503)
    notifier = pager()
    asyncio.run(notifier.async_notify({"dag_run": SimpleNamespace(dag_id="etl", run_id="r", state="running")}))
    assert texts(vendors, "mta") == [] and texts(vendors, "telnyx") == [ONCALL]
    assert notifier.last_result["providers"] == ["telnyx"]


def test_a_repeated_callback_is_deduplicated_per_vendor(vendors):
    vendors.fault("status", count=20, status=503)
    notifier = pager()
    notifier.notify({"ti": ti()})
    notifier.notify({"ti": ti()})  # the same event again (apache/airflow#29461)
    assert texts(vendors, "telnyx") == [ONCALL]


@pytest.mark.parametrize(
    ("state", "try_number", "max_tries", "retries"),
    [("running", 1, 2, True), ("up_for_retry", 1, 2, True), ("failed", 1, 2, False), ("running", 3, 2, False)],
)
def test_will_retry(state, try_number, max_tries, retries):
    assert will_retry({"ti": ti(state=state, try_number=try_number, max_tries=max_tries)}) is retries


def test_only_final_failure(vendors, capsys):
    notifier = pager()
    notifier.notify({"ti": ti(state="running", try_number=1, max_tries=2)})
    assert vendors.messages() == [] and "the task will still be retried" in logged(capsys)
    MtaNotifier(subscribers=[ONCALL], only_final_failure=False).notify(
        {"ti": ti(state="running", try_number=1, max_tries=2)}
    )
    assert texts(vendors, "mta") == [ONCALL]


def test_a_retry_callback_still_pages_on_retry(vendors):
    notifier = MtaNotifier(subscribers=[ONCALL])
    task = SimpleNamespace(on_retry_callback=[notifier], on_failure_callback=None)
    notifier.notify({"ti": ti(state="up_for_retry", max_tries=2), "task": task})
    assert texts(vendors, "mta") == [ONCALL]


def test_deadline_alert_callback_trigger_pages_through_the_fallback(vendors):
    """A DeadlineAlert's AsyncCallback(MtaNotifier, kwargs=...) runs in the triggerer as Airflow's CallbackTrigger."""
    why = "this Airflow has no airflow.triggers.callback (CallbackTrigger came after 3.1)"
    callback = pytest.importorskip("airflow.triggers.callback", reason=why)
    vendors.fault("status", count=10, status=503)
    trigger = callback.CallbackTrigger(
        callback_path="airflow_provider_mta.notifications.mta.MtaNotifier",
        callback_kwargs={
            "subscribers": [ONCALL],
            "fallback_conn_ids": ["telnyx_oncall"],
            "message": "Deadline missed: {{ dag_run.dag_id }}",
            "context": {"dag_run": {"dag_id": "etl_orders", "run_id": "r9"}},
        },
    )

    async def events() -> list[dict]:
        return [event.payload async for event in trigger.run()]

    payloads = asyncio.run(events())
    assert [p["state"] for p in payloads][-1] == "success", payloads
    assert texts(vendors, "mta") == [] and texts(vendors, "telnyx") == [ONCALL]
    assert [m["text"] for m in vendors.messages()] == ["Deadline missed: etl_orders"]


def test_a_per_recipient_refusal_is_reported_not_failed_over(vendors, capsys):
    """Telnyx refuses a number that texted STOP (40300): a refusal, so Bird/MTA are not tried."""
    vendors.opt_out(ONCALL)
    notifier = MtaNotifier(subscribers=[ONCALL], sms_conn_id="telnyx_oncall", fallback_conn_ids=["mta_default"])
    notifier.notify({"ti": ti()})
    assert vendors.messages() == []
    assert notifier.last_result["attempts"] == ["telnyx_oncall (telnyx): refused: ***9999: opted out (STOP)"]
    assert "SMS page not sent by any vendor: telnyx_oncall (telnyx): refused: ***9999: opted out" in logged(capsys)


BREAKER_CHILD = """
import sys
from types import SimpleNamespace
from airflow_provider_mta.notifications.mta import MtaNotifier
notifier = MtaNotifier(subscribers=["+13175559999"], fallback_conn_ids=["telnyx_oncall"])
notifier.notify({"ti": SimpleNamespace(dag_id="etl", task_id=sys.argv[1], run_id="r", map_index=-1,
                                       try_number=1, state="failed", log_url=None)})
print(notifier.last_result["attempts"])
"""


def test_the_breaker_holds_across_task_processes(vendors):
    """Airflow runs each failure callback in the task's own process: a trip must reach the next one."""
    import os
    import subprocess
    import sys

    vendors.fault("timeout", count=50)
    outs = [
        subprocess.run(
            [sys.executable, "-c", BREAKER_CHILD, f"task_{n}"], env=dict(os.environ), capture_output=True, text=True
        )
        for n in range(2)
    ]
    assert [o.returncode for o in outs] == [0, 0], outs[0].stderr[-2000:]
    assert texts(vendors, "telnyx") == [ONCALL, ONCALL] and texts(vendors, "mta") == []
    assert "mta_default (mta): ambiguous: " in outs[0].stdout.splitlines()[-1]
    assert "mta_default (mta): skipped: " in outs[1].stdout.splitlines()[-1]
    assert vendors.stats()["sendRequests"] == 2  # only the first process waited for MTA (a try and a retry)
