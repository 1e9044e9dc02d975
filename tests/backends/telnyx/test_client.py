"""Telnyx client wire rules (httpx.MockTransport), each run on the sync and the async client.

The rule under test: a send is retried only when Telnyx cannot have processed it (429, failure to connect);
anything ambiguous raises MtaAmbiguousSendError after exactly one request.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from airflow_provider_mta.backends.telnyx.client import AsyncTelnyxClient, TelnyxClient
from airflow_provider_mta.backends.telnyx.models import TelnyxBalance, TelnyxSent, message_payload
from airflow_provider_mta.core.delivery import Outcome
from airflow_provider_mta.core.errors import (
    MtaAmbiguousSendError,
    MtaApiError,
    MtaConfigError,
    MtaOptedOutError,
    MtaRateLimitError,
    MtaServerError,
    MtaTransportError,
    MtaUnauthorizedError,
    MtaValidationError,
)
from airflow_provider_mta.core.pacing import RateLimit
from airflow_provider_mta.core.retry import RetryPolicy, is_retryable
from tests.backends.scripted_http import CountingPacer, Script

KEY = "KEY0123456789abcdefSECRET"
NUMBER = "+13175551111"
IKEY = "8e03978e-40d5-43e8-bc93-6894a57f9326"
PAYLOAD = message_payload(to=NUMBER, text="hi", sender="+18445550001", messaging_profile_id=None)
MESSAGE_ID = "40385f64-5717-4562-b3fc-2c963f66afa6"
FAST = RetryPolicy(max_retries=3, backoff_initial=0.001, backoff_max=0.002)


def message(status: str = "queued", **extra: Any) -> dict[str, Any]:
    data = {
        "record_type": "message",
        "id": MESSAGE_ID,
        "to": [{"phone_number": NUMBER, "status": status, "carrier": "T-MOBILE USA, INC."}],
        "encoding": "GSM-7",
        "parts": 1,
        "cost": {"amount": "0.0051", "currency": "USD"},
        "unknown_field": {"kept": "out"},
        **extra,
    }
    return {"data": data}


def telnyx_error(status: int, code: str, title: str, detail: str = "", **headers: str) -> httpx.Response:
    return httpx.Response(status, json={"errors": [{"code": code, "title": title, "detail": detail}]}, headers=headers)


class Driver:
    """Runs one call on a fresh sync or async client over the script; ``sleeps`` records retry waits."""

    def __init__(self, kind: str, script: Script, **options: Any) -> None:
        self.kind, self.script, self.sleeps = kind, script, []
        self.options = {
            "api_key": KEY,
            "base_url": "http://telnyx.test/v2",
            "retry": FAST,
            "transport": httpx.MockTransport(script),
            **options,
        }

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        if self.kind == "sync":
            with TelnyxClient(sleep=self.sleeps.append, **self.options) as client:
                return getattr(client, method)(*args, **kwargs)

        async def asleep(seconds: float) -> None:
            self.sleeps.append(seconds)

        async def run() -> Any:
            async with AsyncTelnyxClient(sleep=asleep, **self.options) as client:
                return await getattr(client, method)(*args, **kwargs)

        return asyncio.run(run())

    def send(self, payload: dict[str, Any] = PAYLOAD, key: str = IKEY) -> TelnyxSent:
        return self.call("create_message", payload, idempotency_key=key)


@pytest.fixture(params=["sync", "async"])
def api(request: pytest.FixtureRequest) -> Callable[..., Driver]:
    return lambda *answers, **options: Driver(request.param, Script(*answers), **options)


# -- what is sent -----------------------------------------------------------------------------------


def test_send_posts_the_payload_with_bearer_and_idempotency_key(api):
    driver = api(httpx.Response(200, json=message()))
    sent = driver.send()
    (request,) = driver.script.requests
    assert (request.method, request.url.path) == ("POST", "/v2/messages")
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["idempotency-key"] == IKEY
    assert json.loads(request.content) == {"from": "+18445550001", "to": NUMBER, "text": "hi"}
    assert sent == TelnyxSent(
        id=MESSAGE_ID, status="queued", parts=1, cost=0.0051, currency="USD", encoding="GSM-7", replayed=False
    )


@pytest.mark.parametrize(("header", "replayed"), [("true", True), ("True", True), ("false", False)])
def test_the_replay_header_is_read(api, header, replayed):
    driver = api(httpx.Response(200, json=message(), headers={"Idempotent-Replayed": header}))
    assert driver.send().replayed is replayed


def test_a_bad_idempotency_key_is_refused_before_anything_is_sent(api):
    driver = api()
    for bad in ("", "has space", "x" * 256, "ключ"):
        with pytest.raises(MtaValidationError) as info:
            driver.send(key=bad)
        assert info.value.field == "idempotency_key"
    assert driver.script.requests == []


def test_the_send_pacer_is_taken_on_every_attempt(api):
    pacer = CountingPacer()
    driver = api(httpx.ConnectError("refused"), httpx.Response(200, json=message()), pacer=pacer)
    driver.send()
    assert pacer.acquired == 2


# -- ambiguous: never retried ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ReadTimeout("timed out"),
        httpx.WriteTimeout("timed out"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ReadError("connection reset by peer"),
    ],
    ids=type,
)
def test_a_failure_after_the_request_left_is_ambiguous_and_not_retried(api, failure):
    driver = api(failure, httpx.Response(200, json=message()))
    with pytest.raises(MtaAmbiguousSendError) as info:
        driver.send()
    assert len(driver.script.requests) == 1
    assert driver.sleeps == []
    text = str(info.value)
    assert "may or may not have been texted" in text
    assert "***1111" in text and NUMBER not in text
    assert type(failure).__name__ in text
    assert isinstance(info.value, MtaTransportError)
    assert not is_retryable(info.value)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_5xx_answer_to_a_send_is_ambiguous_and_not_retried(api, status):
    driver = api(
        telnyx_error(status, "10007", "Unexpected error", f"for {NUMBER}"), httpx.Response(200, json=message())
    )
    with pytest.raises(MtaAmbiguousSendError) as info:
        driver.send()
    assert len(driver.script.requests) == 1
    assert isinstance(info.value.__cause__, MtaServerError)
    assert f"HTTP {status}" in str(info.value)
    assert NUMBER not in str(info.value)


@pytest.mark.parametrize(
    "answer",
    [
        lambda r: httpx.Response(200, text="<html>ok</html>"),
        lambda r: httpx.Response(200, text=""),
        lambda r: httpx.Response(200, json={"data": {"to": [{"status": "queued"}]}}),
    ],
    ids=["html", "empty", "no-id"],
)
def test_a_2xx_without_a_message_id_is_ambiguous(api, answer):
    driver = api(answer, httpx.Response(200, json=message()))
    with pytest.raises(MtaAmbiguousSendError, match="without a message id"):
        driver.send()
    assert len(driver.script.requests) == 1


# -- retried: Telnyx cannot have processed it ------------------------------------------------------


@pytest.mark.parametrize(
    "failure", [httpx.ConnectError("refused"), httpx.ConnectTimeout("timed out"), httpx.PoolTimeout("pool")], ids=type
)
def test_a_failure_to_connect_is_retried_with_the_same_key(api, failure):
    driver = api(failure, failure, httpx.Response(200, json=message()))
    assert driver.send().id == MESSAGE_ID
    assert [r.headers["idempotency-key"] for r in driver.script.requests] == [IKEY] * 3


def test_failures_to_connect_give_up_as_a_plain_transport_error(api):
    driver = api(*[httpx.ConnectError(f"refused {KEY}")] * 4)
    with pytest.raises(MtaTransportError) as info:
        driver.send()
    assert not isinstance(info.value, MtaAmbiguousSendError)
    assert len(driver.script.requests) == FAST.max_retries + 1
    assert KEY not in str(info.value)


def test_a_429_waits_retry_after_then_succeeds(api):
    pacer = CountingPacer()
    driver = api(
        telnyx_error(429, "10011", "Too many requests", **{"Retry-After": "7", "x-ratelimit-reset": "2"}),
        httpx.Response(200, json=message()),
        pacer=pacer,
    )
    assert driver.send().id == MESSAGE_ID
    assert len(driver.script.requests) == 2
    assert driver.sleeps == [7.0]
    assert pacer.pauses == [7.0]
    assert [r.headers["idempotency-key"] for r in driver.script.requests] == [IKEY, IKEY]


def test_a_429_without_retry_after_waits_x_ratelimit_reset(api):
    driver = api(
        telnyx_error(429, "10011", "Too many requests", **{"x-ratelimit-reset": "3"}),
        httpx.Response(200, json=message()),
    )
    driver.send()
    assert driver.sleeps == [3.0]


def test_429s_give_up_as_a_rate_limit_error(api):
    driver = api(*[telnyx_error(429, "10011", "Too many requests", **{"Retry-After": "1"})] * 4)
    with pytest.raises(MtaRateLimitError):
        driver.send()
    assert len(driver.script.requests) == FAST.max_retries + 1


def test_429_then_an_ambiguous_timeout_stops_there(api):
    driver = api(telnyx_error(429, "10011", "Too many requests"), httpx.ReadTimeout("t"), httpx.Response(200))
    with pytest.raises(MtaAmbiguousSendError):
        driver.send()
    assert len(driver.script.requests) == 2


# -- final 4xx ------------------------------------------------------------------------------------


def test_stop_blocked_is_opted_out_and_not_retried(api):
    body = telnyx_error(403, "40300", "Blocked due to STOP message", f"{NUMBER} replied STOP")
    driver = api(body, httpx.Response(200, json=message()))
    with pytest.raises(MtaOptedOutError) as info:
        driver.send()
    assert len(driver.script.requests) == 1
    assert NUMBER not in str(info.value) and "***1111" in str(info.value)
    assert "code 40300" in str(info.value)


def test_401_is_not_retried_and_never_shows_the_key(api):
    body = telnyx_error(401, "10009", "Authentication failed", f"the key {KEY} is not valid")
    driver = api(body, httpx.Response(200, json=message()))
    with pytest.raises(MtaUnauthorizedError) as info:
        driver.send()
    assert len(driver.script.requests) == 1
    assert KEY not in str(info.value)
    assert str(info.value).startswith("Telnyx answered HTTP 401")


@pytest.mark.parametrize("status", [400, 408, 409, 422])
def test_other_4xx_are_final(api, status):
    driver = api(telnyx_error(status, "10015", "Bad"), httpx.Response(200, json=message()))
    with pytest.raises(MtaApiError) as info:
        driver.send()
    assert info.value.status_code == status
    assert len(driver.script.requests) == 1


# -- GETs -----------------------------------------------------------------------------------------


def test_get_message_reads_the_neutral_record(api):
    driver = api(httpx.Response(200, json=message("delivered")))
    record = driver.call("get_message", MESSAGE_ID)
    (request,) = driver.script.requests
    assert (request.method, request.url.path) == ("GET", f"/v2/messages/{MESSAGE_ID}")
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert record.outbound_id == MESSAGE_ID
    assert record.message_id is None
    assert record.recipient == "***1111"
    assert (record.status.name, record.status.outcome) == ("DELIVERED", Outcome.DELIVERED)


def test_get_message_maps_delivery_unconfirmed_to_failed(api):
    driver = api(httpx.Response(200, json=message("delivery_unconfirmed")))
    assert driver.call("get_message", MESSAGE_ID).status.outcome is Outcome.FAILED


def test_get_message_tolerates_a_bare_answer(api):
    driver = api(httpx.Response(200, json={"data": {}}))
    record = driver.call("get_message", MESSAGE_ID)
    assert (record.outbound_id, record.recipient, record.status.name) == (MESSAGE_ID, "***", "NO_STATUS")


def test_get_message_escapes_the_id_and_refuses_an_empty_one(api):
    driver = api(httpx.Response(200, json=message()))
    driver.call("get_message", "a/b")
    assert driver.script.requests[0].url.raw_path == b"/v2/messages/a%2Fb"
    with pytest.raises(MtaValidationError):
        driver.call("get_message", " ")


def test_gets_are_retried_on_5xx_and_network_failures(api):
    driver = api(
        telnyx_error(503, "10007", "Unavailable"),
        httpx.ReadTimeout("t"),
        httpx.Response(200, json=message("sent")),
    )
    assert driver.call("get_message", MESSAGE_ID).status.name == "SENT"
    assert len(driver.script.requests) == 3


def test_a_get_404_is_final(api):
    driver = api(telnyx_error(404, "10005", "Resource not found"), httpx.Response(200, json=message()))
    with pytest.raises(MtaApiError) as info:
        driver.call("get_message", MESSAGE_ID)
    assert info.value.status_code == 404
    assert len(driver.script.requests) == 1


def test_get_balance(api):
    body = {"data": {"record_type": "balance", "balance": "300.00", "available_credit": "400.00", "currency": "USD"}}
    driver = api(httpx.Response(200, json=body))
    assert driver.call("get_balance") == TelnyxBalance(balance=300.0, available_credit=400.0, currency="USD")
    assert driver.script.requests[0].url.path == "/v2/balance"


def test_get_balance_unauthorized(api):
    driver = api(telnyx_error(401, "10009", "Authentication failed"))
    with pytest.raises(MtaUnauthorizedError):
        driver.call("get_balance")


# -- configuration --------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [TelnyxClient, AsyncTelnyxClient])
def test_configuration_is_checked(cls):
    with pytest.raises(MtaConfigError, match="no Telnyx API key"):
        cls(api_key=" ")
    with pytest.raises(MtaConfigError, match="must start with http"):
        cls(api_key=KEY, base_url="api.telnyx.com/v2")


def test_defaults_and_repr_hide_the_key():
    client = TelnyxClient(api_key=KEY)
    assert client.base_url == "https://api.telnyx.com/v2"
    assert client.send_pacer is None
    assert KEY not in repr(client)
    client.close()
    paced = TelnyxClient(api_key=KEY, send_rate_limit="10/1")
    assert paced.send_pacer is not None and paced.send_pacer.limit == RateLimit(10, 1.0)
    paced.close()
