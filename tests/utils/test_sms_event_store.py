"""utils/sms_event_store.py on SQLite and PostgreSQL: each event stored once, no full number, latest status."""

from __future__ import annotations

import pytest

from airflow_provider_mta.core.sms_event import SmsEvent
from airflow_provider_mta.utils.sms_event_store import SmsEventStore, number_key

NUMBER = "+13175551234"


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path, monkeypatch):
    if request.param == "sqlite":
        return SmsEventStore(path=str(tmp_path / "events.sqlite"))
    uri = request.getfixturevalue("postgres_uri")  # skips without PostgreSQL; under CI=true it fails instead
    monkeypatch.setenv("AIRFLOW_CONN_EVENTS_PG", uri)
    pg = SmsEventStore(conn_id="events_pg").connect()
    pg._execute("DELETE FROM mta_sms_events", ())
    return pg


def delivery(outbound_id: str, status: str, outcome: str, at: float, event_id: str | None = None) -> SmsEvent:
    return SmsEvent(
        provider="mta", kind="delivery", event_id=event_id or f"{outbound_id}-{status}", number=NUMBER,
        occurred_at=at, outbound_id=outbound_id, status=status, outcome=outcome,
    )  # fmt: skip


def test_each_event_is_stored_once_and_the_latest_status_wins(store):
    sent, delivered = delivery("7", "SENT", "pending", 10.0), delivery("7", "DELIVERED", "delivered", 20.0)
    assert store.record(conn_id="mta_default", events=[delivered, sent], now=100.0) == [delivered, sent]
    assert store.record(conn_id="mta_default", events=[sent], now=101.0) == []  # a replay
    latest = store.latest_deliveries(conn_id="mta_default", outbound_ids=["7", "8"])
    assert list(latest) == ["7"] and latest["7"].status == "DELIVERED" and latest["7"].outcome == "delivered"
    assert store.latest_deliveries(conn_id="other", outbound_ids=["7"]) == {}


def test_replies_since_a_time_from_given_numbers_and_no_full_number_stored(store):
    reply = SmsEvent(provider="mta", kind="reply", event_id="r1", number=NUMBER, text="YES")
    stop = SmsEvent(provider="mta", kind="opt_out", event_id="r1", number=NUMBER, text="STOP")
    store.record(conn_id="c", events=[reply, stop], now=50.0)
    got = store.events_since(conn_id="c", kinds=["reply"], since=40.0, number_keys=[number_key(NUMBER)])
    assert [(e.kind, e.text, e.masked) for e in got] == [("reply", "YES", "***1234")]
    assert store.events_since(conn_id="c", kinds=["reply"], since=50.0) == []
    assert store.events_since(conn_id="c", kinds=["reply"], since=0.0, number_keys=[]) == []
    assert len(store.events_since(conn_id="c", kinds=["reply", "opt_out"], since=0.0)) == 2
    rows = store._query("SELECT * FROM mta_sms_events", ())
    assert NUMBER not in repr(rows) and "3175551234" not in repr(rows)


def test_old_events_are_purged(store):
    store.record(conn_id="c", events=[delivery("1", "SENT", "pending", 1.0)], now=1.0)
    store._last_purge = 0.0
    store.record(conn_id="c", events=[delivery("2", "SENT", "pending", 2.0)], now=store.retention_s + 700.0)
    assert list(store.latest_deliveries(conn_id="c", outbound_ids=["1", "2"])) == ["2"]


def test_many_outbound_ids_are_looked_up_in_batches(store):
    events = [delivery(str(i), "DELIVERED", "delivered", float(i)) for i in range(1200)]
    store.record(conn_id="c", events=events, now=10.0)
    assert len(store.latest_deliveries(conn_id="c", outbound_ids=[str(i) for i in range(1300)])) == 1200
