"""MtaDeliveryTrigger: one event, paced polling, one request per page, backoff, restart, deadline."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from typing import Any

import httpx
import pytest
import respx

from airflow_provider_mta.hooks.mta import MtaHook
from airflow_provider_mta.triggers.delivery import MtaDeliveryTrigger
from tests.conftest import mta_conn_json
from tests.delivery_sandbox import DELIVERY_DELAY_S

pytestmark = pytest.mark.integration

GOOD = ["+13175551111", "+13175552222", "+13175553333"]
FAILING = ["+13175550010", "+13175550012"]  # end in 10 INVALID_NUMBER and 12 LANDLINE


async def all_events(trigger: MtaDeliveryTrigger) -> list[Any]:
    """Every event the trigger yields until its generator ends (the triggerer would stop at the first)."""
    return [event async for event in trigger.run()]


def send(numbers: list[str]) -> Any:
    return MtaHook().send_message(subscribers=numbers, message="your order shipped")


def trigger_for(result: Any, **kwargs: Any) -> MtaDeliveryTrigger:
    defaults: dict[str, Any] = {
        "outbound_ids": result.outbound_ids,
        "message_ids": [result.message_id],
        "expected": result.total_sent,
        "poll_interval": 0.4,
    }
    return MtaDeliveryTrigger(**{**defaults, **kwargs})


async def test_one_event_after_paced_checks(slow, calls):
    result = send(GOOD)
    started = time.monotonic()
    events = await all_events(trigger_for(result))
    assert len(events) == 1
    event = events[0].payload
    assert event["status"] == "success"
    assert event["summary"]["delivered"] == 3 and event["summary"]["statuses"] == {"DELIVERED": 3}
    json.dumps(event)  # JSON-safe: nothing pickled
    gets = calls.gets()
    assert all(path == "/deliveries" for _, path, _ in gets)
    assert gets[0][0] - started >= 0.4  # the sensor has just checked: the first check waits an interval
    assert min(calls.gaps()) >= 0.38  # paced: never closer than poll_interval
    # the messages need 2 s, one check every 0.4 s: about 5 checks, not a busy loop
    assert DELIVERY_DELAY_S / 0.4 - 1 <= len(gets) <= DELIVERY_DELAY_S / 0.4 + 2


async def test_many_outbound_ids_cost_one_request_per_page(slow, calls):
    result = send([f"+1317555{4000 + i}" for i in range(25)])
    events = await all_events(trigger_for(result, page_size=10))
    assert [e.payload["status"] for e in events] == ["success"]
    pages = [params["page"] for _, _, params in calls.gets()]
    assert pages == [1, 2, 3] * (len(pages) // 3) and len(pages) >= 6  # 3 requests per check for 25 ids
    assert {params["filters[messageId]"] for _, _, params in calls.gets()} == {result.message_id}


async def test_batch_result_without_outbound_ids_pages_each_chunk(slow, calls):
    chunks = [send(GOOD[:2]), send([GOOD[2]])]
    trigger = MtaDeliveryTrigger(
        outbound_ids=None, message_ids=[c.message_id for c in chunks], expected=3, poll_interval=0.5
    )
    (event,) = await all_events(trigger)
    assert event.payload["status"] == "success" and event.payload["summary"]["total"] == 3
    per_check = [params["filters[messageId]"] for _, _, params in calls.gets()]
    assert per_check[:2] == [chunks[0].message_id, chunks[1].message_id]


async def test_failing_numbers_fail_with_reasons_or_pass_min_delivered(slow):
    result = send(GOOD + FAILING)
    (failed,) = await all_events(trigger_for(result))
    assert failed.payload["status"] == "failed"
    assert "***0010 INVALID_NUMBER (10)" in failed.payload["message"]
    assert "***0012 LANDLINE (12)" in failed.payload["message"]
    assert "+1317555" not in json.dumps(failed.payload)  # numbers are masked
    (ok,) = await all_events(trigger_for(result, min_delivered=0.6))
    assert ok.payload["status"] == "success"
    assert {f["reason"] for f in ok.payload["summary"]["failures"]} == {"INVALID_NUMBER", "LANDLINE"}


async def test_outbound_ids_only_ask_delivery_reports(slow, calls):
    result = send(GOOD[:2])
    trigger = MtaDeliveryTrigger(outbound_ids=result.outbound_ids, poll_interval=0.5)
    (event,) = await all_events(trigger)
    assert event.payload["status"] == "success"
    paths = [path for _, path, _ in calls.gets()]
    assert set(paths) == {f"/sent-messages/{i}/delivery-report" for i in result.outbound_ids}


async def test_restart_from_serialize_resumes(slow, calls):
    result = send(GOOD)
    first = trigger_for(result, deadline=time.time() + 60)
    classpath, kwargs = first.serialize()
    assert classpath == "airflow_provider_mta.triggers.delivery.MtaDeliveryTrigger"
    assert json.loads(json.dumps(kwargs)) == kwargs  # only JSON-safe kwargs
    task = asyncio.ensure_future(all_events(first))
    while not calls.gets():  # the first check happened: now the triggerer "restarts"
        await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    before = len(calls.gets())
    events = await all_events(MtaDeliveryTrigger(**json.loads(json.dumps(kwargs))))
    assert [e.payload["status"] for e in events] == ["success"]
    assert len(calls.gets()) > before


async def test_deadline_gives_one_timeout_event(slow):
    result = send(GOOD)
    started = time.monotonic()
    (event,) = await all_events(trigger_for(result, deadline=time.time() + 0.9))
    assert event.payload["status"] == "timeout"
    assert event.payload["summary"]["pending"] == 3  # the last check's summary
    assert "Sensor has timed out" in event.payload["message"]
    assert 0.85 <= time.monotonic() - started < DELIVERY_DELAY_S


async def test_missing_connection_is_an_error_event(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_MTA_NOPE", raising=False)
    (event,) = await all_events(MtaDeliveryTrigger(outbound_ids=[1], mta_conn_id="mta_nope", poll_interval=0.01))
    assert event.payload["status"] == "error" and "mta_nope" in event.payload["message"]


# -- edge cases with a mocked MTA (respx; nothing leaves the process) ---------------------------

BASE = "http://127.0.0.1:9/v3"
DELIVERED_PAGE = {"data": {"rows": [{"outboundId": 1, "messageId": "m", "status": 4}], "total": 1}}


@pytest.fixture
def mocked(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_MTA_MOCK", mta_conn_json(BASE, api_key="secret-key-123", max_retries=5))
    with respx.mock(assert_all_called=False) as router:
        yield router


def stamps(route: respx.Route, answers: list[httpx.Response]) -> list[float]:
    times: list[float] = []

    def side_effect(request: httpx.Request) -> httpx.Response:
        times.append(time.monotonic())
        return answers[min(len(times) - 1, len(answers) - 1)]

    route.side_effect = side_effect
    return times


def mock_trigger(**kwargs: Any) -> MtaDeliveryTrigger:
    args: dict[str, Any] = {"outbound_ids": [1], "message_ids": ["m"], "mta_conn_id": "mta_mock"}
    return MtaDeliveryTrigger(**{**args, "poll_interval": 0.1, **kwargs})


async def test_5xx_and_network_errors_back_off_exponentially_then_succeed(mocked):
    route = mocked.get(f"{BASE}/deliveries")
    error = httpx.Response(500, json={"httpCode": 500, "message": "boom"})
    times = stamps(
        route,
        [error, httpx.Response(502, text="<html>bad gateway</html>"), error, httpx.Response(200, json=DELIVERED_PAGE)],
    )
    (event,) = await all_events(mock_trigger())
    assert event.payload["status"] == "success"
    assert len(times) == 4  # one attempt per check: the client's own retries are off in the trigger
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps[0] >= 0.2 and gaps[1] >= 0.4 and gaps[2] >= 0.8  # 0.1 * 2, * 4, * 8
    assert gaps[2] < 1.5  # bounded


async def test_429_waits_for_retry_after(mocked):
    route = mocked.get(f"{BASE}/deliveries")
    limited = httpx.Response(429, headers={"Retry-After": "1"}, json={"httpCode": 429, "message": "slow down"})
    times = stamps(route, [limited, httpx.Response(200, json=DELIVERED_PAGE)])
    (event,) = await all_events(mock_trigger())
    assert event.payload["status"] == "success" and times[1] - times[0] >= 0.95


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409])
async def test_other_4xx_end_at_once_without_retry(mocked, status):
    route = mocked.get(f"{BASE}/deliveries")
    times = stamps(route, [httpx.Response(status, json={"httpCode": status, "message": "no"})])
    (event,) = await all_events(mock_trigger())
    assert event.payload["status"] == "error" and f"HTTP {status}" in event.payload["message"]
    assert len(times) == 1
    assert "secret-key-123" not in json.dumps(event.payload)


async def test_gives_up_after_max_errors(mocked):
    route = mocked.get(f"{BASE}/deliveries")
    times = stamps(route, [httpx.Response(503, json={"httpCode": 503, "message": "down"})])
    (event,) = await all_events(mock_trigger(poll_interval=0.01, max_errors=3))
    assert event.payload["status"] == "error" and "gave up after 4 failed checks" in event.payload["message"]
    assert len(times) == 4


async def test_unknown_statuses_keep_waiting_and_odd_shapes_are_read(mocked):
    route = mocked.get(f"{BASE}/deliveries")
    odd = {"data": [{"outbound_id": "1", "messageId": "m", "status": "carrier-limbo"}]}
    final = {"data": {"items": [{"sentMessageId": 1, "statusName": "Landline", "to": "+13175550012"}]}}
    stamps(route, [httpx.Response(200, json=odd), httpx.Response(200, json=final)])
    (event,) = await all_events(mock_trigger(fail_on="never"))
    assert event.payload["status"] == "success"
    assert event.payload["summary"]["failures"] == [
        {"recipient": "***0012", "outbound_id": 1, "status": 12, "reason": "LANDLINE"}
    ]


async def test_a_429_mid_check_is_waited_out_keeping_what_the_check_learned(mocked):
    """Issue 20: an interrupted check kept nothing and counted as failed; after 6 the trigger gave up."""
    asked: list[str] = []
    limited = httpx.Response(429, headers={"Retry-After": "0.05"}, json={"httpCode": 429, "message": "slow down"})

    def answer(request: httpx.Request) -> httpx.Response:
        mid = request.url.params["filters[messageId]"]
        asked.append(mid)
        if mid == "m-2" and asked.count("m-2") <= 8:  # more 429s in a row than max_errors allows checks
            return limited
        row = {"outboundId": int(mid[-1]), "messageId": mid, "status": 4}
        return httpx.Response(200, json={"data": {"rows": [row], "total": 1}})

    mocked.get(f"{BASE}/deliveries").side_effect = answer
    trigger = mock_trigger(outbound_ids=None, message_ids=["m-1", "m-2", "m-3"], expected=3, max_errors=2)
    (event,) = await all_events(trigger)
    assert event.payload["status"] == "success", event.payload
    assert asked == ["m-1"] + ["m-2"] * 9 + ["m-3"]  # m-1 was not asked again


async def test_a_budget_spreads_a_round_over_checks(mocked):
    asked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        mid = request.url.params["filters[messageId]"]
        asked.append(mid)
        status = 4 if asked.count(mid) > 1 else 3  # SENT at first, DELIVERED when asked again
        row = {"outboundId": int(mid.split("-")[1]), "messageId": mid, "status": status}
        return httpx.Response(200, json={"data": {"rows": [row], "total": 1}})

    mocked.get(f"{BASE}/deliveries").side_effect = answer
    mids = [f"m-{i}" for i in range(7)]
    trigger = mock_trigger(outbound_ids=None, message_ids=mids, expected=7, max_requests_per_check=3)
    assert trigger.serialize()[1]["max_requests_per_check"] == 3
    (event,) = await all_events(trigger)
    assert event.payload["status"] == "success"
    assert asked == mids + mids  # two rounds, each id once a round, 3 + 3 + 1 then 3 + 3 + 1 requests
