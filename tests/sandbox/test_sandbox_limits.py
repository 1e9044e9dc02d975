"""The /send rate limit (fixed window per API key) and added latency, each on a dedicated server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sandbox_helpers import make_client

from airflow_provider_mta.backends.mta.models import SendRequest
from airflow_provider_mta.core.pacing import RateLimit
from airflow_provider_mta.sandbox.ratelimit import FixedWindowLimiter
from airflow_provider_mta.sandbox.testing import SandboxServer

BODY: dict[str, Any] = {"subscribers": ["+13175551111"], "message": "limit"}


@pytest.fixture(scope="module")
def limited() -> Iterator[SandboxServer]:
    with SandboxServer(api_keys=("key-a", "key-b"), send_rate_limit="3/2") as server:
        yield server


def post(server: SandboxServer, key: str) -> httpx.Response:
    return httpx.post(server.base_url + "/send", json=BODY, headers={"Authorization": f"Bearer {key}"})


def test_fourth_send_in_window_is_429_with_headers(limited: SandboxServer) -> None:
    limited.reset()
    answers = [post(limited, "key-a") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    first = answers[0].headers
    assert (first["RateLimit-Limit"], first["X-RateLimit-Limit"], first["X-RateLimit-Remaining"]) == (
        "3",
        "3",
        "2",
    )
    assert 0 < int(first["RateLimit-Reset"]) <= 2000
    refused = answers[3]
    assert 1 <= int(refused.headers["Retry-After"]) <= 2
    assert 0 < int(refused.headers["RateLimit-Reset"]) <= 2000
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    body = refused.json()
    assert (body["httpCode"], body["type"], body["name"]) == (429, "rate_limit_error", "MTARateLimitError")
    assert len(limited.messages()) == 3
    assert limited.stats()["rateLimited"] == 1
    assert post(limited, "key-b").status_code == 200  # the window is per API key


def test_other_routes_are_not_limited(limited: SandboxServer) -> None:
    limited.reset()
    for _ in range(3):
        assert post(limited, "key-a").status_code == 200
    auth = {"Authorization": "Bearer key-a"}
    for _ in range(5):
        verify = httpx.get(limited.base_url + "/auth/verify-api-key", headers=auth)
        assert verify.status_code == 200


def test_client_recovers_from_the_real_limit(limited: SandboxServer) -> None:
    limited.reset()
    for _ in range(3):
        assert post(limited, "key-a").status_code == 200
    started = time.monotonic()
    with make_client(limited, api_key="key-a") as c:
        result = c.send(SendRequest.build(**BODY))
    assert result.total_sent == 1
    assert time.monotonic() - started >= 0.5  # waited for Retry-After
    assert limited.stats()["rateLimited"] >= 1


def test_fixed_window_limiter_unit() -> None:
    now = [100.0]
    limiter = FixedWindowLimiter(RateLimit(2, 10.0), clock=lambda: now[0])
    assert [d.allowed for d in (limiter.hit("k"), limiter.hit("k"), limiter.hit("k")) if d] == [
        True,
        True,
        False,
    ]
    refused = limiter.hit("k")
    assert refused is not None and refused.headers()["Retry-After"] == "10"
    now[0] = 109.2
    late = limiter.hit("k")
    assert late is not None and not late.allowed and late.headers()["Retry-After"] == "1"
    assert late.headers()["RateLimit-Reset"] == "800"
    now[0] = 110.0
    fresh = limiter.hit("k")
    assert fresh is not None and fresh.allowed and fresh.remaining == 1
    assert FixedWindowLimiter(None).hit("k") is None


def test_latency_is_added_to_v3_requests() -> None:
    with SandboxServer(latency_ms=250) as slow:
        headers = {"Authorization": f"Bearer {slow.api_key}"}
        started = time.monotonic()
        assert httpx.get(slow.base_url + "/auth/verify-api-key", headers=headers).status_code == 200
        assert time.monotonic() - started >= 0.25
        started = time.monotonic()
        slow.stats()  # admin routes are not slowed down
        assert time.monotonic() - started < 0.25
