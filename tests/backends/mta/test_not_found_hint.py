"""A bare 404 to a base URL without /v3 says that the URL is the likely mistake (httpx.MockTransport)."""

from __future__ import annotations

import re

import httpx
import pytest

from airflow_provider_mta.backends.mta.client import AsyncMtaClient, MtaClient
from airflow_provider_mta.core.errors import MtaNotFoundError
from airflow_provider_mta.core.retry import RetryPolicy

HINT = "has no /v3; MTA's API lives under /v3"


def bare_404(request: httpx.Request) -> httpx.Response:
    return httpx.Response(404, text="Not Found", headers={"content-type": "text/plain"})


def mta_404(request: httpx.Request) -> httpx.Response:
    body = {"httpCode": 404, "message": "Cannot GET /x", "name": "MTANotFoundError", "requestId": "srv"}
    return httpx.Response(404, json=body)


def client(base_url: str, handler) -> MtaClient:
    return MtaClient(
        api_key="k", base_url=base_url, transport=httpx.MockTransport(handler), retry=RetryPolicy(max_retries=0)
    )


@pytest.mark.parametrize("base_url", ["http://mta.test", "http://mta.test/api", "https://mta.test/v3/extra"])
def test_a_bare_404_to_a_base_url_without_v3_names_the_base_url(base_url):
    with client(base_url, bare_404) as mta, pytest.raises(MtaNotFoundError) as info:
        mta.verify_api_key()
    assert f"the base URL {base_url} {HINT}" in str(info.value)


def test_no_hint_when_the_base_url_ends_in_v3():
    with client("http://mta.test/v3", bare_404) as mta, pytest.raises(MtaNotFoundError) as info:
        mta.verify_api_key()
    assert "/v3" not in str(info.value)


def test_no_hint_when_mta_itself_answered_404():
    with client("http://mta.test", mta_404) as mta, pytest.raises(MtaNotFoundError) as info:
        mta.verify_api_key()
    assert HINT not in str(info.value) and "Cannot GET /x" in str(info.value)


async def test_the_async_client_gives_the_same_hint():
    async with AsyncMtaClient(
        api_key="k",
        base_url="http://mta.test/api",
        transport=httpx.MockTransport(bare_404),
        retry=RetryPolicy(max_retries=0),
    ) as mta:
        with pytest.raises(MtaNotFoundError, match=re.escape("the base URL http://mta.test/api has no /v3")):
            await mta.verify_api_key()
