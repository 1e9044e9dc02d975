"""MtaReplySensor and MtaReplyTrigger over the webhook event store (SQLite file of a tmp path here)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_mta.core.errors import MtaValidationError
from airflow_provider_mta.core.reply_rule import ReplyRule
from airflow_provider_mta.core.sms_event import SmsEvent
from airflow_provider_mta.sensors.reply import MtaReplySensor
from airflow_provider_mta.triggers.reply import MtaReplyTrigger
from airflow_provider_mta.utils.sms_event_store import SmsEventStore
from tests.conftest import mta_conn_json

try:
    from airflow.sdk.exceptions import AirflowFailException
except ImportError:  # Airflow 3.1
    from airflow.exceptions import AirflowFailException  # type: ignore[no-redef,attr-defined]

ONCALL, OTHER, STRANGER = "+13175551111", "+13175552222", "+13175559999"


@pytest.fixture
def store(tmp_path, monkeypatch) -> SmsEventStore:
    """The ``mta_hooks`` connection, its event store on a SQLite connection of its own."""
    path = tmp_path / "events.sqlite"
    monkeypatch.setenv("AIRFLOW_CONN_EVENTS_DB", json.dumps({"conn_type": "sqlite", "host": str(path)}))
    monkeypatch.setenv("AIRFLOW_CONN_MTA_HOOKS", mta_conn_json("http://127.0.0.1:9", webhook_store_conn_id="events_db"))
    return SmsEventStore(conn_id="events_db")


def reply(store: SmsEventStore, number: str, text: str, *, at: float, event_id: str | None = None) -> None:
    event = SmsEvent(
        provider="mta", kind="reply", event_id=event_id or f"{number}-{text}-{at}", number=number, text=text
    )
    store.record(conn_id="mta_hooks", events=[event], now=at)


def context(start: float) -> dict[str, Any]:
    dag_run = SimpleNamespace(start_date=dt.datetime.fromtimestamp(start, dt.timezone.utc))
    return {"dag_run": dag_run, "ti": SimpleNamespace(try_number=1)}


def sensor(**kwargs: Any) -> MtaReplySensor:
    args: dict[str, Any] = {
        "task_id": "wait_for_yes",
        "recipients": [ONCALL, "(317) 555-2222"],
        "sms_conn_id": "mta_hooks",
    }
    return MtaReplySensor(**{**args, "deferrable": False, **kwargs})


def test_rule_verdicts_and_decisions():
    rule = ReplyRule(reject_pattern="no|n")
    assert [rule.verdict(t) for t in ("YES", " yes! ", "Y", "approve.", "no", "yes please", None)] == [
        "approve", "approve", "approve", "approve", "reject", "other", "other",
    ]  # fmt: skip
    with pytest.raises(MtaValidationError, match="pattern"):
        ReplyRule(pattern="(")
    with pytest.raises(MtaValidationError, match="require"):
        ReplyRule(require="most")


def test_a_yes_after_the_run_started_releases_the_sensor(store):
    start = time.time()
    reply(store, ONCALL, "yes", at=start - 60)  # before this run: ignored
    reply(store, STRANGER, "YES", at=start + 1)  # not awaited: ignored
    op = sensor()
    assert not op.poke(context(start)).is_done
    reply(store, ONCALL, "Yes!", at=start + 2)
    done = op.poke(context(start))
    assert done.is_done
    summary = done.xcom_value
    assert summary["state"] == "success" and summary["approved_by"] == ["***1111"]
    assert [(r["recipient"], r["text"], r["verdict"]) for r in summary["replies"]] == [("***1111", "Yes!", "approve")]
    assert ONCALL not in json.dumps(summary)


def test_require_all_and_a_rejection(store):
    start = time.time()
    op = sensor(require="all", reject_pattern="no")
    reply(store, ONCALL, "yes", at=start + 1)
    assert not op.poke(context(start)).is_done  # one of two
    reply(store, OTHER, "NO", at=start + 2)
    with pytest.raises(AirflowFailException, match=r"\*\*\*2222 answered 'NO'"):
        op.poke(context(start))


def test_the_trigger_waits_and_serializes_no_number(store):
    start = time.time()
    op = sensor(poll_interval=0.05)
    trigger = op.build_trigger(context(start), deadline=time.time() + 10)
    kwargs = trigger.serialize()[1]
    assert ONCALL not in json.dumps(kwargs) and "3175551111" not in json.dumps(kwargs)
    restored = MtaReplyTrigger(**kwargs)

    async def run() -> dict[str, Any]:
        async def later() -> None:
            await asyncio.sleep(0.2)
            reply(store, OTHER, "approve", at=time.time())

        task = asyncio.create_task(later())
        events = [e async for e in restored.run()]
        await task
        return dict(events[0].payload)

    event = asyncio.run(run())
    assert event["status"] == "success" and event["summary"]["approved_by"] == ["***2222"]
    assert op.execute_complete(context(start), event)["state"] == "success"


def test_the_trigger_times_out_with_what_it_read(store):
    trigger = MtaReplyTrigger(
        sms_conn_id="mta_hooks", number_keys=["x"], since=0.0, store_conn_id="events_db", poll_interval=0.01,
        deadline=time.time() + 0.1,
    )  # fmt: skip
    (event,) = asyncio.run(_all(trigger))
    assert event.payload["status"] == "timeout" and "waiting for a reply" in event.payload["message"]


async def _all(trigger: MtaReplyTrigger) -> list[Any]:
    return [e async for e in trigger.run()]


def test_rendered_recipients_are_masked(store):
    op = sensor(recipients="{{ params.phone }}")
    op.render_template_fields({"params": {"phone": ONCALL}})
    assert op.recipients == "***1111" and op.unmasked("recipients") == ONCALL
