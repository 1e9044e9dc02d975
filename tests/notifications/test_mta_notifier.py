"""MtaNotifier: default text fits one SMS, sync and async sends, no double texts, never raises."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from airflow_provider_mta.core.segments import count_parts
from airflow_provider_mta.notifications.mta import MtaNotifier, default_text, send_mta_notification
from tests.conftest import mta_conn_json


def ti(**kw):
    base = {
        "dag_id": "nightly_load",
        "task_id": "load",
        "run_id": "scheduled__2025-03-06T00:00:00+00:00",
        "map_index": -1,
        "try_number": 2,
        "state": "failed",
        "log_url": None,
    }
    return SimpleNamespace(**{**base, **kw})


@pytest.mark.parametrize(
    "task",
    [
        ti(),
        ti(log_url="http://localhost:8080/dags/nightly_load/runs/scheduled__2025/tasks/load?try_number=2"),
        ti(dag_id="d" * 200, task_id="t" * 200, run_id="r" * 200, log_url="http://x/" + "y" * 300),
        ti(dag_id="données_ü", task_id="tâche€", map_index=3, state="up_for_retry"),
    ],
)
def test_default_text_fits_one_gsm_segment(task):
    text = default_text({"ti": task})
    encoding, units, parts = count_parts(text)
    assert (encoding, parts) == ("GSM-7", 1) and units <= 160
    assert text.startswith("Airflow ")


def test_default_text_content():
    url = "http://localhost:8080/dags/nightly_load/runs/r/tasks/load?try_number=2"
    assert (
        default_text({"ti": ti(log_url=url, run_id="r")}) == f"Airflow FAILED: nightly_load.load try 2 run r log: {url}"
    )
    long_run = "scheduled__2025-03-06T00:00:00.123456+00:00"
    text = default_text({"ti": ti(log_url="http://h/" + "x" * 90, run_id=long_run)})
    assert text.endswith("x" * 90) and "run " not in text  # the link wins over the run id when both do not fit
    dag_level = default_text({"dag_run": SimpleNamespace(dag_id="d", run_id="r", state="failed"), "reason": "x"})
    assert dag_level == "Airflow FAILED: d run r"


AIRFLOW_33_RUN = "scheduled__2025-03-06T00:00:00+00:00"


def airflow_log_url(monkeypatch, base_url: str, **kw) -> str:
    """``ti.log_url`` exactly as Airflow 3.3's task runner builds it (``[api] base_url``)."""
    from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

    monkeypatch.setenv("AIRFLOW__API__BASE_URL", base_url)
    fields = {"dag_id": "nightly_customer_load", "task_id": "load_orders", "run_id": AIRFLOW_33_RUN, "map_index": -1}
    return RuntimeTaskInstance.log_url.fget(SimpleNamespace(**{**fields, "try_number": 2, **kw}))


@pytest.mark.parametrize(
    ("base_url", "kw", "link"),
    [
        # a scheduled run behind a real host name: the log URL alone is 135 characters; the DAG's page fits
        ("https://airflow.example.com", {}, "https://airflow.example.com/dags/nightly_customer_load"),
        # a longer host: only the UI's address fits beside dag, task, try and run
        ("https://airflow-prod.data-platform.example.com/", {}, "https://airflow-prod.data-platform.example.com"),
        # short names: the log URL itself
        ("http://localhost:8080", {"dag_id": "etl", "task_id": "load", "run_id": "manual_1"},
         "http://localhost:8080/dags/etl/runs/manual_1/tasks/load?try_number=2"),
    ],
)  # fmt: skip
def test_default_text_says_where_to_look_with_an_airflow_3_log_url(monkeypatch, base_url, kw, link):
    log_url = airflow_log_url(monkeypatch, base_url, **kw)
    assert log_url.endswith("?try_number=2") and "/runs/" in log_url
    fields = {"dag_id": "nightly_customer_load", "task_id": "load_orders", "run_id": AIRFLOW_33_RUN, **kw}
    text = default_text({"ti": ti(**fields, log_url=log_url)})
    encoding, units, parts = count_parts(text)
    assert (encoding, parts) == ("GSM-7", 1) and units <= 160, text
    assert f"{fields['dag_id']}.{fields['task_id']} try 2" in text, text
    assert f"run {fields['run_id']}" in text or "/runs/" in text, text
    assert text.endswith(link), text
    if "/runs/" not in link:
        assert len(log_url) > 120, log_url  # the full log URL never fit: the text says where to look instead


def test_alias():
    assert send_mta_notification is MtaNotifier


def test_notify_sends_once_per_event(sandbox):
    notifier = MtaNotifier(subscribers=["+13175559999"])
    context = {"ti": ti()}
    notifier.notify(context)
    notifier.notify(context)  # the callback fired again for the same event
    MtaNotifier(subscribers=["+13175559999"]).notify({"ti": ti(try_number=3)})
    rows = sandbox.messages()
    assert [r["text"] for r in rows] == [
        "Airflow FAILED: nightly_load.load try 2 run scheduled__2025-03-06T00:00:00+00:00",
        "Airflow FAILED: nightly_load.load try 3 run scheduled__2025-03-06T00:00:00+00:00",
    ]


def test_templated_message_and_groups_validation(sandbox):
    notifier = MtaNotifier(subscribers=["+13175559999"], message="{{ ti.task_id }} broke on {{ ds }}")
    context = {"ti": ti(), "ds": "2025-03-06"}
    notifier.render_template_fields(context)
    notifier.notify(context)
    assert [r["text"] for r in sandbox.messages()] == ["load broke on 2025-03-06"]


def test_failures_are_logged_not_raised(sandbox, monkeypatch, capsys):
    monkeypatch.setenv("AIRFLOW_CONN_MTA_BAD", mta_conn_json(sandbox.base_url, api_key="bad-key-zz", max_retries=0))
    MtaNotifier(subscribers=["+13175559999"], mta_conn_id="mta_bad").notify({"ti": ti()})
    MtaNotifier(subscribers=["12"]).notify({"ti": ti()})
    assert sandbox.messages() == []
    logged = capsys.readouterr().out
    assert "SMS page not sent by any vendor: mta_bad (mta): down: MTA answered HTTP 401" in logged
    refused = "SMS page not sent by any vendor: mta_default (mta): refused: subscribers[0]: ***12 is not a valid phone"
    assert refused in logged
    assert "bad-key-zz" not in logged


async def test_async_notify(sandbox):
    await MtaNotifier(subscribers=["+13175559999"], message="deadline missed").async_notify({"ti": ti()})
    await MtaNotifier(subscribers=["+13175559999"], message="deadline missed").async_notify({"ti": ti()})
    assert [r["text"] for r in sandbox.messages()] == ["deadline missed"]


def test_a_long_user_text_is_cut_to_one_sms_with_a_marker_not_lost(sandbox, capsys):
    long_text = "Nightly load failed: " + "details " * 40
    MtaNotifier(subscribers=["+13175559999"], message=long_text).notify({"ti": ti()})
    (row,) = sandbox.messages()
    assert row["text"].endswith("...(cut)") and len(row["text"]) <= 160
    assert long_text.startswith(row["text"].removesuffix("...(cut)"))
    assert "sent cut to fit" in capsys.readouterr().out


def test_on_a_telnyx_connection_the_same_event_pages_once_sync_and_async(sandbox):
    import asyncio

    notifier = MtaNotifier(sms_conn_id="telnyx_default", subscribers=["+13175559998"])
    notifier.notify({"ti": ti()})
    notifier.notify({"ti": ti()})  # fired again: the same Idempotency-Key, Telnyx replays
    asyncio.run(
        MtaNotifier(sms_conn_id="telnyx_default", subscribers=["+13175559998"]).async_notify({"ti": ti(try_number=3)})
    )
    rows = sandbox.messages(provider="telnyx")
    assert [r["text"] for r in rows] == [
        "Airflow FAILED: nightly_load.load try 2 run scheduled__2025-03-06T00:00:00+00:00",
        "Airflow FAILED: nightly_load.load try 3 run scheduled__2025-03-06T00:00:00+00:00",
    ]
    assert sandbox.messages(provider="mta") == []
