"""The HTTP client's retry, Retry-After, idempotency, error-mapping and secrecy rules (httpx.MockTransport)."""

from __future__ import annotations

import json

import httpx
import pytest

from airflow_provider_mta.backends.mta.client import AsyncMtaClient, MtaClient
from airflow_provider_mta.backends.mta.models import SendRequest
from airflow_provider_mta.core.errors import (
    MtaBadRequestError,
    MtaConfigError,
    MtaForbiddenError,
    MtaNotFoundError,
    MtaPaymentRequiredError,
    MtaRateLimitError,
    MtaServerError,
    MtaTransportError,
    MtaUnauthorizedError,
    MtaValidationError,
)
from airflow_provider_mta.core.pacing import Pacer, RateLimit
from airflow_provider_mta.core.retry import RetryPolicy
from tests.backends.scripted_http import Script as ScriptedServer

KEY = "secret-key-0123456789"
OK = {"message": "Message Sent to 1 Recipient.", "data": {"messageId": "m-1", "totalSent": 1, "outboundIds": [11]}}
REQUEST = SendRequest.build(subscribers=["+13175551111"], message="hi")
FAST = RetryPolicy(max_retries=3, backoff_initial=0.001, backoff_max=0.002)


def mta_error(status: int, **headers: str) -> httpx.Response:
    body = {"httpCode": status, "message": f"m{status}", "type": "t", "name": f"N{status}", "requestId": "srv"}
    return httpx.Response(status, json=body, headers=headers)


class Script(ScriptedServer):
    """The scripted server, plus the X-Request-Id of each request."""

    @property
    def request_ids(self) -> list[str | None]:
        return [r.headers.get("x-request-id") for r in self.requests]


def client(script: Script, *, retry: RetryPolicy = FAST, sleeps: list[float] | None = None, **kw) -> MtaClient:
    recorded = sleeps if sleeps is not None else []
    return MtaClient(
        api_key=KEY,
        base_url="http://mta.test/v3",
        transport=httpx.MockTransport(script),
        retry=retry,
        send_rate_limit=None,
        general_rate_limit=None,
        sleep=recorded.append,
        **kw,
    )


def test_a_user_tag_cannot_take_the_request_id_tag():
    script = Script(httpx.Response(200, json=OK))
    request = SendRequest.build(subscribers=["+13175551111"], message="hi", tags={"requestId": "mine", "a": "b"})
    with pytest.raises(MtaValidationError, match="tags: 'requestId' is reserved"):
        client(script).send(request, request_id="rid-1")
    assert script.requests == []
    client(script).send(request, request_id="mine")  # the same value is fine
    assert json.loads(script.requests[0].content)["tags"] == {"requestId": "mine", "a": "b"}


def test_send_posts_the_payload_with_auth_and_request_id():
    script = Script(httpx.Response(200, json=OK))
    result = client(script).send(REQUEST, request_id="rid-1")
    (req,) = script.requests
    assert req.method == "POST" and str(req.url) == "http://mta.test/v3/send"
    assert req.headers["authorization"] == f"Bearer {KEY}"
    assert req.headers["x-request-id"] == "rid-1"
    # The request id also travels in tags, so the send can be matched later (docs/assumptions.md).
    assert json.loads(req.content) == {"subscribers": ["+13175551111"], "message": "hi", "tags": {"requestId": "rid-1"}}
    assert (result.message_id, result.outbound_ids, result.total_sent, result.already_sent) == ("m-1", [11], 1, False)


def test_a_random_request_id_is_made_when_none_is_given_and_kept_across_retries():
    script = Script(mta_error(500), mta_error(503), httpx.Response(200, json=OK))
    result = client(script).send(REQUEST)
    ids = script.request_ids
    assert len(ids) == 3 and ids[0] and ids[0].startswith("mta-") and len(set(ids)) == 1
    assert result.request_id == ids[0]


@pytest.mark.parametrize(
    "failure",
    [
        mta_error(500),
        mta_error(502),
        mta_error(503),
        mta_error(504),
        mta_error(429),
        httpx.Response(502, text="<html><title>Bad Gateway</title></html>", headers={"content-type": "text/html"}),
        httpx.Response(200, text='{"data": {"messageId": "m-'),
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("peer closed connection without sending complete message body"),
    ],
)
def test_retryable_failures_are_retried_with_the_same_request_id(failure):
    script = Script(failure, httpx.Response(200, json=OK))
    result = client(script).send(REQUEST, request_id="rid-x")
    assert script.request_ids == ["rid-x", "rid-x"]
    assert result.message_id == "m-1"


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, MtaBadRequestError),
        (401, MtaUnauthorizedError),
        (402, MtaPaymentRequiredError),
        (403, MtaForbiddenError),
        (404, MtaNotFoundError),
        (422, Exception),
    ],
)
def test_other_4xx_are_never_retried(status, cls):
    script = Script(mta_error(status), httpx.Response(200, json=OK))
    with pytest.raises(cls) as info:
        client(script).send(REQUEST, request_id="rid")
    assert len(script.requests) == 1
    assert f"HTTP {status}" in str(info.value)


def test_409_means_already_sent_and_keeps_any_data_the_server_gives():
    body = {
        "httpCode": 409,
        "message": "duplicate",
        "requestId": "srv",
        "data": {"messageId": "m-0", "outboundIds": [7]},
    }
    script = Script(httpx.Response(409, json=body))
    result = client(script).send(REQUEST, request_id="rid")
    assert len(script.requests) == 1
    assert result.already_sent and result.message_id == "m-0" and result.outbound_ids == [7]
    bare = client(Script(mta_error(409))).send(REQUEST, request_id="rid")
    assert bare.already_sent and bare.message_id is None and bare.request_id == "rid"


def test_dropped_answer_then_409_is_reported_as_already_sent():
    script = Script(httpx.RemoteProtocolError("incomplete"), mta_error(409))
    result = client(script).send(REQUEST, request_id="rid")
    assert result.already_sent and script.request_ids == ["rid", "rid"]


def test_retry_after_is_honoured_and_capped():
    sleeps: list[float] = []
    script = Script(
        mta_error(429, **{"Retry-After": "4"}), mta_error(429, **{"Retry-After": "999"}), httpx.Response(200, json=OK)
    )
    retry = RetryPolicy(max_retries=3, backoff_initial=0.001, backoff_max=0.002, max_retry_after=60)
    client(script, retry=retry, sleeps=sleeps).send(REQUEST)
    assert sleeps == [4.0, 60.0]


def test_backoff_grows_exponentially_with_jitter():
    sleeps: list[float] = []
    script = Script(*[mta_error(500)] * 4, httpx.Response(200, json=OK))
    retry = RetryPolicy(max_retries=4, backoff_initial=1.0, backoff_max=30.0)
    client(script, retry=retry, sleeps=sleeps).send(REQUEST)
    assert len(sleeps) == 4
    for n, wait in enumerate(sleeps):
        assert 2**n <= wait <= 2**n + 1  # initial * 2^n plus up to 1 s of jitter


def test_retries_stop_after_max_retries_and_raise_the_last_error():
    script = Script(*[mta_error(503)] * 4)
    with pytest.raises(MtaServerError, match="HTTP 503"):
        client(script).send(REQUEST)
    assert len(script.requests) == 4  # 1 try + 3 retries


def test_transport_failure_after_retries_is_one_clear_error():
    script = Script(*[httpx.ConnectError("[Errno 111] Connection refused")] * 4)
    with pytest.raises(MtaTransportError) as info:
        client(script).verify_api_key()
    assert str(info.value) == (
        "could not reach MTA at http://mta.test/v3 (GET /auth/verify-api-key): ConnectError: [Errno 111] "
        "Connection refused"
    )


def test_429_pauses_the_budget_of_the_call():
    send, general = Pacer(RateLimit(100, 1.0)), Pacer(RateLimit(100, 1.0))
    script = Script(mta_error(429, **{"Retry-After": "3"}), mta_error(429, **{"Retry-After": "5"}))
    c = MtaClient(
        api_key=KEY,
        base_url="http://mta.test/v3",
        transport=httpx.MockTransport(script),
        retry=RetryPolicy(max_retries=0),
        pacer=send,
        general_pacer=general,
        sleep=lambda s: None,
    )
    with pytest.raises(MtaRateLimitError):
        c.request("GET", "/x")  # MTA's general limit: pauses every other call, not the sends
    assert general.reserve() > 2.5 and send.reserve() == 0
    with pytest.raises(MtaRateLimitError):
        c.send(REQUEST)
    assert send.reserve() > 4.5


def test_api_key_never_appears_in_error_text_or_repr():
    echo = {"httpCode": 400, "message": f"bad header Bearer {KEY}", "requestId": "srv"}
    script = Script(httpx.Response(400, json=echo))
    c = client(script)
    with pytest.raises(MtaBadRequestError) as info:
        c.send(REQUEST)
    assert KEY not in str(info.value) and "***" in str(info.value)
    assert KEY not in repr(c)
    script = Script(*[httpx.ConnectError(f"failed for {KEY}")] * 4)
    with pytest.raises(MtaTransportError) as info2:
        client(script).send(REQUEST)
    assert KEY not in str(info2.value)


@pytest.mark.parametrize(("key", "url"), [("", "http://x/v3"), ("  ", "http://x/v3"), ("k", "ftp://x"), ("k", "x.com")])
def test_bad_configuration_is_one_clear_error(key, url):
    with pytest.raises(MtaConfigError):
        MtaClient(api_key=key, base_url=url)


async def test_async_twin_retries_with_the_same_request_id_and_maps_409():
    sleeps: list[float] = []

    async def asleep(seconds: float) -> None:
        sleeps.append(seconds)

    script = Script(mta_error(429, **{"Retry-After": "2"}), httpx.ReadTimeout("slow"), mta_error(409))
    async with AsyncMtaClient(
        api_key=KEY,
        base_url="http://mta.test/v3",
        transport=httpx.MockTransport(script),
        retry=FAST,
        send_rate_limit=None,
        general_rate_limit=None,
        sleep=asleep,
    ) as c:
        result = await c.send(REQUEST, request_id="rid-a")
    assert script.request_ids == ["rid-a"] * 3
    assert result.already_sent and sleeps[0] == 2.0


async def test_async_verify_and_unauthorized():
    script = Script(
        httpx.Response(200, json={"message": "API Key verified", "data": {"name": "N", "email": "e"}}), mta_error(401)
    )
    async with AsyncMtaClient(
        api_key=KEY, base_url="http://mta.test/v3", transport=httpx.MockTransport(script), retry=FAST
    ) as c:
        assert (await c.verify_api_key()).name == "N"
        with pytest.raises(MtaUnauthorizedError):
            await c.verify_api_key()
    assert len(script.requests) == 2


async def test_priority_client_acquires_priority_slots_and_async_429_pauses():
    from tests.backends.scripted_http import CountingPacer

    ok = {"httpCode": 200, "data": {"messageId": "m1", "totalSent": 1}}
    pacer = CountingPacer()
    sync = MtaClient(
        api_key=KEY,
        base_url="http://mta.test/v3",
        transport=httpx.MockTransport(Script(httpx.Response(200, json=ok))),
        pacer=pacer,
        send_priority=True,
    )
    sync.send(REQUEST)
    assert (pacer.acquired, pacer.priority) == (1, 1)

    async def answer(request: httpx.Request) -> httpx.Response:
        return mta_error(429, **{"Retry-After": "4"})

    paced = CountingPacer()
    async with AsyncMtaClient(
        api_key=KEY,
        base_url="http://mta.test/v3",
        transport=httpx.MockTransport(answer),
        retry=RetryPolicy(max_retries=0),
        pacer=paced,
    ) as client:
        with pytest.raises(MtaRateLimitError):
            await client.send(REQUEST)
    assert (paced.acquired, paced.priority, paced.pauses) == (1, 0, [4.0])
