"""Bird client wire rules (httpx.MockTransport), each run on the sync and the async client.

The rule under test: a send is retried only when Bird cannot have processed it (429, failure to connect);
anything ambiguous raises MtaAmbiguousSendError after exactly one request.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from airflow_provider_mta.backends.bird.client import AsyncBirdClient, BirdClient
from airflow_provider_mta.backends.bird.models import BirdChannel, BirdSent, message_payload
from airflow_provider_mta.core.delivery import Outcome
from airflow_provider_mta.core.errors import (
    MtaAmbiguousSendError,
    MtaApiError,
    MtaBadRequestError,
    MtaConfigError,
    MtaConflictError,
    MtaForbiddenError,
    MtaNotFoundError,
    MtaPaymentRequiredError,
    MtaRateLimitError,
    MtaServerError,
    MtaTransportError,
    MtaUnauthorizedError,
    MtaValidationError,
)
from airflow_provider_mta.core.retry import RetryPolicy, is_retryable
from tests.backends.scripted_http import CountingPacer, Script

KEY = "bird-access-key-SECRET-0123456789"
NUMBER = "+13175551111"
WS = "5f0c1b2e-0000-4000-8000-00000000b1d0"
CH = "5f0c1b2e-0000-4000-8000-00000000c4a1"
REF = "0b6f0e1c-6c53-5a0e-9d4f-2d1c3b4a5e6f"
PAYLOAD = message_payload(to=NUMBER, text="hi")
MESSAGE_ID = "9a1d2c3b-4e5f-4a6b-8c7d-0e1f2a3b4c5d"
MESSAGES = f"/workspaces/{WS}/channels/{CH}/messages"
FAST = RetryPolicy(max_retries=3, backoff_initial=0.001, backoff_max=0.002)


def message(status: str = "accepted", **extra: Any) -> dict[str, Any]:
    return {
        "id": MESSAGE_ID,
        "channelId": CH,
        "receiver": {"contacts": [{"id": "c1", "identifierKey": "phonenumber", "identifierValue": NUMBER}]},
        "body": {"type": "text", "text": {"text": "hi"}},
        "reference": REF,
        "status": status,
        "direction": "outgoing",
        "createdAt": "2026-01-01T00:00:00Z",
        "unknownField": {"kept": "out"},
        **extra,
    }


def bird_error(status: int, code: str, text: str = "", details: Any = None, **headers: str) -> httpx.Response:
    body: dict[str, Any] = {"code": code, "message": text}
    if details is not None:
        body["details"] = details
    return httpx.Response(status, json=body, headers=headers)


class Driver:
    """Runs one call on a fresh sync or async client over the script; ``sleeps`` records retry waits."""

    def __init__(self, kind: str, script: Script, **options: Any) -> None:
        self.kind, self.script, self.sleeps = kind, script, []
        self.options = {
            "api_key": KEY,
            "base_url": "http://bird.test",
            "workspace_id": WS,
            "channel_id": CH,
            "retry": FAST,
            "transport": httpx.MockTransport(script),
            **options,
        }

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        if self.kind == "sync":
            with BirdClient(sleep=self.sleeps.append, **self.options) as client:
                return getattr(client, method)(*args, **kwargs)

        async def asleep(seconds: float) -> None:
            self.sleeps.append(seconds)

        async def run() -> Any:
            async with AsyncBirdClient(sleep=asleep, **self.options) as client:
                return await getattr(client, method)(*args, **kwargs)

        return asyncio.run(run())

    def send(self, payload: dict[str, Any] = PAYLOAD, reference: str = REF) -> BirdSent:
        return self.call("create_message", payload, reference=reference)


@pytest.fixture(params=["sync", "async"])
def api(request: pytest.FixtureRequest) -> Callable[..., Driver]:
    return lambda *answers, **options: Driver(request.param, Script(*answers), **options)


# -- what is sent -----------------------------------------------------------------------------------


def test_send_posts_one_receiver_with_the_access_key_and_reference(api):
    driver = api(httpx.Response(202, json=message()))
    sent = driver.send()
    (request,) = driver.script.requests
    assert (request.method, request.url.path) == ("POST", MESSAGES)
    assert request.headers["authorization"] == f"AccessKey {KEY}"
    assert "idempotency-key" not in request.headers
    assert json.loads(request.content) == {
        "receiver": {"contacts": [{"identifierKey": "phonenumber", "identifierValue": NUMBER}]},
        "body": {"type": "text", "text": {"text": "hi"}},
        "reference": REF,
    }
    assert sent == BirdSent(id=MESSAGE_ID, status="accepted")


def test_a_bad_reference_is_refused_before_anything_is_sent(api):
    driver = api()
    for bad in ("", "  ", "x" * 257):
        with pytest.raises(MtaValidationError) as info:
            driver.send(reference=bad)
        assert info.value.field == "reference"
    assert driver.script.requests == []


def test_the_send_pacer_is_taken_on_every_attempt(api):
    pacer = CountingPacer()
    driver = api(httpx.ConnectError("refused"), httpx.Response(202, json=message()), pacer=pacer)
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
    driver = api(failure, httpx.Response(202, json=message()))
    with pytest.raises(MtaAmbiguousSendError) as info:
        driver.send()
    assert len(driver.script.requests) == 1
    assert driver.sleeps == []
    text = str(info.value)
    assert "may or may not have been texted" in text and f"reference {REF}" in text
    assert "***1111" in text and NUMBER not in text
    assert type(failure).__name__ in text
    assert not is_retryable(info.value)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_5xx_answer_to_a_send_is_ambiguous_and_not_retried(api, status):
    driver = api(bird_error(status, "InternalError", f"failed for {NUMBER}"), httpx.Response(202, json=message()))
    with pytest.raises(MtaAmbiguousSendError) as info:
        driver.send()
    assert len(driver.script.requests) == 1
    assert isinstance(info.value.__cause__, MtaServerError)
    assert f"HTTP {status}" in str(info.value)
    assert NUMBER not in str(info.value)


@pytest.mark.parametrize(
    "answer",
    [
        lambda r: httpx.Response(202, text="<html>ok</html>"),
        lambda r: httpx.Response(202, text=""),
        lambda r: httpx.Response(202, json={"status": "accepted"}),
        lambda r: httpx.Response(200, json=[message()]),
    ],
    ids=["html", "empty", "no-id", "a-list"],
)
def test_a_2xx_without_a_message_id_is_ambiguous(api, answer):
    driver = api(answer, httpx.Response(202, json=message()))
    with pytest.raises(MtaAmbiguousSendError, match="without a message id"):
        driver.send()
    assert len(driver.script.requests) == 1


# -- retried: Bird cannot have processed it -------------------------------------------------------


@pytest.mark.parametrize(
    "failure", [httpx.ConnectError("refused"), httpx.ConnectTimeout("timed out"), httpx.PoolTimeout("pool")], ids=type
)
def test_a_failure_to_connect_is_retried_with_the_same_reference(api, failure):
    driver = api(failure, failure, httpx.Response(202, json=message()))
    assert driver.send().id == MESSAGE_ID
    assert [json.loads(r.content)["reference"] for r in driver.script.requests] == [REF] * 3


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
        bird_error(429, "TooManyRequests", "slow down", **{"Retry-After": "7"}),
        httpx.Response(202, json=message()),
        pacer=pacer,
    )
    assert driver.send().id == MESSAGE_ID
    assert len(driver.script.requests) == 2
    assert driver.sleeps == [7.0]
    assert pacer.pauses == [7.0]


def test_a_429_without_retry_after_waits_the_policy_backoff(api):
    driver = api(bird_error(429, "TooManyRequests"), httpx.Response(202, json=message()))
    driver.send()
    assert len(driver.sleeps) == 1 and 0 < driver.sleeps[0] <= FAST.backoff_max


def test_429s_give_up_as_a_rate_limit_error(api):
    driver = api(*[bird_error(429, "TooManyRequests", **{"Retry-After": "1"})] * 4)
    with pytest.raises(MtaRateLimitError):
        driver.send()
    assert len(driver.script.requests) == FAST.max_retries + 1


def test_429_then_an_ambiguous_timeout_stops_there(api):
    driver = api(bird_error(429, "TooManyRequests"), httpx.ReadTimeout("t"), httpx.Response(202, json=message()))
    with pytest.raises(MtaAmbiguousSendError):
        driver.send()
    assert len(driver.script.requests) == 2


# -- final 4xx ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (400, "BadRequest", MtaBadRequestError),
        (401, "Unauthorized", MtaUnauthorizedError),
        (402, "PaymentRequired", MtaPaymentRequiredError),
        (403, "Forbidden", MtaForbiddenError),
        (404, "NotFound", MtaNotFoundError),
        (409, "Conflict", MtaApiError),
        (422, "InvalidPayload", MtaBadRequestError),
    ],
)
def test_4xx_are_mapped_and_final(api, status, code, cls):
    driver = api(bird_error(status, code, f"nope {NUMBER}"), httpx.Response(202, json=message()))
    with pytest.raises(MtaApiError) as info:
        driver.send()
    assert type(info.value) is cls
    assert not isinstance(info.value, MtaConflictError)  # Bird's 409 is not MTA's "already sent"
    assert info.value.status_code == status and info.value.api == "Bird"
    assert len(driver.script.requests) == 1
    assert NUMBER not in str(info.value) and "***1111" in str(info.value)


def test_401_never_shows_the_key(api):
    driver = api(bird_error(401, "Unauthorized", f"AccessKey {KEY} is not valid"))
    with pytest.raises(MtaUnauthorizedError) as info:
        driver.send()
    assert KEY not in str(info.value)
    assert str(info.value).startswith("Bird answered HTTP 401 (Unauthorized)")


def test_404_hints_at_workspace_and_channel(api):
    driver = api(bird_error(404, "NotFound", "channel not found"))
    with pytest.raises(MtaNotFoundError) as info:
        driver.send()
    assert "workspace_id" in str(info.value) and "channel_id" in str(info.value)


def test_422_names_the_fields_and_masks_numbers(api):
    details = {"receiver.contacts.0.identifierValue": [f"{NUMBER} is not a valid phone number"]}
    driver = api(bird_error(422, "InvalidPayload", "invalid request", details))
    with pytest.raises(MtaBadRequestError) as info:
        driver.send()
    text = str(info.value)
    assert "InvalidPayload: invalid request (receiver.contacts.0.identifierValue: ***1111 is not a valid" in text
    assert NUMBER not in text and "13175551111" not in text


# -- GETs -----------------------------------------------------------------------------------------


def test_get_message_reads_the_neutral_record(api):
    driver = api(httpx.Response(200, json=message("delivered")))
    record = driver.call("get_message", MESSAGE_ID)
    (request,) = driver.script.requests
    assert (request.method, request.url.path) == ("GET", f"{MESSAGES}/{MESSAGE_ID}")
    assert request.headers["authorization"] == f"AccessKey {KEY}"
    assert record.outbound_id == MESSAGE_ID and record.message_id is None
    assert record.recipient == "***1111"
    assert (record.status.name, record.status.outcome) == ("DELIVERED", Outcome.DELIVERED)


def test_get_message_tolerates_a_bare_answer(api):
    driver = api(httpx.Response(200, json={}))
    record = driver.call("get_message", MESSAGE_ID)
    assert (record.outbound_id, record.recipient, record.status.name) == (MESSAGE_ID, "***", "NO_STATUS")


def test_get_message_escapes_the_id_and_refuses_an_empty_one(api):
    driver = api(httpx.Response(200, json=message()))
    driver.call("get_message", "a/b")
    assert driver.script.requests[0].url.raw_path == f"{MESSAGES}/a%2Fb".encode()
    with pytest.raises(MtaValidationError):
        driver.call("get_message", " ")


def test_gets_are_retried_on_5xx_and_network_failures(api):
    driver = api(bird_error(503, "Unavailable"), httpx.ReadTimeout("t"), httpx.Response(200, json=message("sent")))
    assert driver.call("get_message", MESSAGE_ID).status.name == "SENT"
    assert len(driver.script.requests) == 3


def test_get_channel(api):
    body = {"id": CH, "platformId": "sms-messagebird", "status": "active", "name": "Alerts", "extra": 1}
    driver = api(httpx.Response(200, json=body))
    channel = driver.call("get_channel")
    assert channel == BirdChannel(id=CH, platform_id="sms-messagebird", status="active", name="Alerts")
    assert driver.script.requests[0].url.path == f"/workspaces/{WS}/channels/{CH}"


def test_get_channel_404_is_final_with_the_hint(api):
    driver = api(bird_error(404, "NotFound", "no such channel"), httpx.Response(200, json={}))
    with pytest.raises(MtaNotFoundError, match="channel_id"):
        driver.call("get_channel")
    assert len(driver.script.requests) == 1


# -- configuration --------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [BirdClient, AsyncBirdClient])
def test_configuration_is_checked(cls):
    with pytest.raises(MtaConfigError, match="no Bird API key"):
        cls(api_key=" ", workspace_id=WS, channel_id=CH)
    with pytest.raises(MtaConfigError, match="must start with http"):
        cls(api_key=KEY, base_url="api.bird.com", workspace_id=WS, channel_id=CH)
    with pytest.raises(MtaConfigError, match="no Bird workspace_id"):
        cls(api_key=KEY, workspace_id="", channel_id=CH)
    with pytest.raises(MtaConfigError, match="no Bird channel_id"):
        cls(api_key=KEY, workspace_id=WS, channel_id=" ")


def test_defaults_and_repr_hide_the_key():
    client = BirdClient(api_key=KEY, workspace_id=WS, channel_id=CH)
    assert client.base_url == "https://api.bird.com"
    assert client.send_pacer is None
    assert KEY not in repr(client) and CH in repr(client)
    client.close()
