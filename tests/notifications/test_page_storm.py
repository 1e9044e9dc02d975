"""Storm control: the first page goes at once, the rest of the window folds into one digest; shared state."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import time
from types import SimpleNamespace

import pytest

from airflow_provider_mta.notifications.mta import MtaNotifier
from airflow_provider_mta.notifications.page_storm import digest_text, fit_list, join_digests
from airflow_provider_mta.utils.page_storm_store import Folded, PageStormStore, recipient_key
from tests.conftest import mta_conn_json
from tests.notifications.storm_worker import lead_once

ONCALL = "+13175559999"
SECOND = "+13175558888"


def ti(task_id: str, dag_id: str = "etl_orders", **kw):
    base = {"dag_id": dag_id, "task_id": task_id, "run_id": "r1", "map_index": -1, "try_number": 1}
    return SimpleNamespace(**{**base, "state": "failed", "log_url": None, **kw})


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    return tmp_path


# -- the store ------------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgres"])
def store_args(request, tmp_path, monkeypatch):
    if request.param == "sqlite":
        return ("path", str(tmp_path / "storm.sqlite"))
    uri = request.getfixturevalue("postgres_uri")  # skips without PostgreSQL; under CI=true it fails instead
    monkeypatch.setenv("AIRFLOW_CONN_STORM_PG", uri)
    store = PageStormStore(conn_id="storm_pg").connect()
    for table in ("mta_page_storm", "mta_page_storm_events"):
        store._execute(f"DELETE FROM {table}", ())
    store.close()
    return ("conn", "storm_pg")


def test_only_one_of_many_processes_leads_a_window(store_args):
    kind, where = store_args
    now = time.time()
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        leads = pool.map(lead_once, [(kind, where, now)] * 8, chunksize=1)
    assert leads.count(True) == 1


def test_store_steps(store_args):
    kind, where = store_args
    store = PageStormStore(conn_id=where) if kind == "conn" else PageStormStore(path=where)
    key = recipient_key(ONCALL)
    assert store.lead(key, now=100.0, cooldown_s=60)
    assert not store.lead(key, now=130.0, cooldown_s=60)
    assert store.record(key, event_id="e1", now=130.0, summary="etl.a", claimed_by=None)
    assert not store.record(key, event_id="e1", now=131.0, summary="etl.a", claimed_by=None)  # fired twice
    assert store.own_digest(key, owner="o1") and not store.own_digest(key, owner="o2")
    assert store.window_end(key, cooldown_s=60) == 160.0
    assert store.start_digest(key, owner="o1", now=161.0) and not store.start_digest(key, owner="o1", now=162.0)
    assert store.take_folded(key, claimer="o1") == [Folded(130.0, "etl.a")]
    assert store.take_folded(key, claimer="o3") == []  # a folded page is in exactly one digest
    store.give_back(key, claimer="o1")
    assert store.take_folded(key, claimer="o4") == [Folded(130.0, "etl.a")]
    store.unlead(key, now=161.0)
    assert store.lead(key, now=162.0, cooldown_s=60)  # given back: the next page leads
    store.close()


def test_the_store_keeps_no_phone_number(home):
    store = PageStormStore().connect()
    key = recipient_key(ONCALL)
    store.lead(key, now=1.0, cooldown_s=5)
    store.record(key, event_id="e", now=1.0, summary="etl.a", claimed_by="lead")
    store.close()
    raw = (home / "mta_page_storm.sqlite").read_bytes()
    assert ONCALL.encode() not in raw and b"3175559999" not in raw and key.encode() in raw


def test_digest_text_fits_one_sms():
    folded = [Folded(1_700_000_000.0 + i, f"etl_{i % 3}.load_{i}") for i in range(40)]
    text = digest_text(folded)
    assert len(text) <= 160 and text.startswith("Airflow: 40 more pages since 22:13Z in etl_*: etl_0.load_0")
    assert text.endswith(")") and "(+" in text
    assert digest_text([Folded(1_700_000_000.0, "etl.a")]) == "Airflow: 1 more page since 22:13Z: etl.a"
    assert fit_list(["a", "b", "c"], 6) == "a (+2)" and fit_list(["a", "b", "c"], 4) == "(+3)"


# -- the notifier against the sandbox ---------------------------------------------------------------


def test_ten_pages_in_a_window_send_the_first_and_one_digest(sandbox, home):
    notifiers = [MtaNotifier(subscribers=[ONCALL, SECOND], cooldown=dt.timedelta(seconds=3)) for _ in range(10)]
    for n, notifier in enumerate(notifiers):
        notifier.notify({"ti": ti(f"load_{n}", dag_id=f"etl_{'ab'[n % 2]}")})
    first = sandbox.messages()
    assert sorted(m["to"] for m in first) == [SECOND, ONCALL]  # the first page, at once, to both
    assert [n.last_result["folded"] for n in notifiers[1:]] == [2] * 9
    join_digests(timeout=30)
    texts = sandbox.messages()
    assert len(texts) == 4
    digests = [m for m in texts if m["text"].startswith("Airflow: 9 more pages since ")]
    assert sorted(m["to"] for m in digests) == [SECOND, ONCALL]
    assert " in etl_*: " in digests[0]["text"] and "etl_b.load_1" in digests[0]["text"]


def test_a_page_after_the_window_leads_again_and_a_repeat_is_ignored(sandbox, home):
    notifier = MtaNotifier(subscribers=[ONCALL], cooldown=dt.timedelta(seconds=1))
    notifier.notify({"ti": ti("a")})
    notifier.notify({"ti": ti("a")})  # the same callback fired twice: neither texted nor folded
    assert notifier.last_result["folded"] == 0 and len(sandbox.messages()) == 1
    time.sleep(1.1)
    notifier.notify({"ti": ti("b")})
    join_digests(timeout=10)
    assert [m["text"].split(":")[0] for m in sandbox.messages()] == ["Airflow FAILED", "Airflow FAILED"]


def test_a_first_page_no_vendor_could_send_gives_the_window_back(sandbox, home, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_MTA_DEFAULT", mta_conn_json(sandbox.base_url, api_key="rotated", max_retries=0))
    MtaNotifier(subscribers=[ONCALL], cooldown=dt.timedelta(minutes=5)).notify({"ti": ti("a")})
    assert sandbox.messages() == []
    monkeypatch.setenv("AIRFLOW_CONN_MTA_DEFAULT", mta_conn_json(sandbox.base_url, api_key=sandbox.api_key))
    notifier = MtaNotifier(subscribers=[ONCALL], cooldown=dt.timedelta(minutes=5))
    notifier.notify({"ti": ti("b")})  # leads (never folded behind a page nobody got)
    assert notifier.last_result["paged"] and [m["to"] for m in sandbox.messages()] == [ONCALL]


def test_storm_control_off_texts_every_page(sandbox, home):
    for n in range(3):
        MtaNotifier(subscribers=[ONCALL]).notify({"ti": ti(f"t{n}")})
    assert len(sandbox.messages()) == 3


def test_unusable_storm_storage_pages_without_it(sandbox, home, capsys):
    notifier = MtaNotifier(subscribers=[ONCALL], cooldown=dt.timedelta(minutes=5), state_conn_id="no_such_db")
    notifier.notify({"ti": ti("a")})
    assert [m["to"] for m in sandbox.messages()] == [ONCALL]
    assert "Storm control unavailable" in capsys.readouterr().out


def test_cooldown_must_be_a_timedelta():
    from airflow_provider_mta.core.errors import MtaConfigError

    with pytest.raises(MtaConfigError, match=r"cooldown must be a positive datetime\.timedelta"):
        MtaNotifier(subscribers=[ONCALL], cooldown=300)  # type: ignore[arg-type]
