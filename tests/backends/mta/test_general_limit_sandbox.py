"""MTA's general limit from the client's side, against a sandbox enforcing it over HTTP on loopback: delivery
lookups are paced (alone, or shared through Redis by ``rate_limit_conn_id``) so the sandbox answers no 429; a
429 pauses the general budget; Redis down falls back to local pacing; a malformed limit names its field."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import socket
import time
import uuid
from collections.abc import Iterator

import pytest
import redis

from airflow_provider_mta.backends.mta.client import MtaClient
from airflow_provider_mta.backends.mta.deliveries import report_path
from airflow_provider_mta.core.errors import MtaConfigError, MtaRateLimitError
from airflow_provider_mta.core.pacing import Pacer, RateLimit
from airflow_provider_mta.core.retry import RetryPolicy
from airflow_provider_mta.core.shared_pacing import SharedPacer
from airflow_provider_mta.hooks.mta import MtaHook
from airflow_provider_mta.hooks.rate_limit import SharedLimit
from airflow_provider_mta.sandbox.testing import SandboxServer
from tests.backends.mta.general_limit_worker import lookups
from tests.conftest import API_KEY, mta_conn_json

LIMIT = "5/2"


@pytest.fixture
def limited() -> Iterator[SandboxServer]:
    """A sandbox enforcing the general limit at 5 per 2 s (a new port, so a fresh budget in this process)."""
    with SandboxServer(api_keys=(API_KEY,), general_rate_limit=LIMIT) as server:
        yield server


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sent_outbound_id(server: SandboxServer) -> int:
    """One message sent (``POST /send`` is not counted by the general limit); its outbound id."""
    answer = server.client().post("/v3/send", json={"subscribers": ["+13175551111"], "message": "general"})
    answer.raise_for_status()
    outbound: int = answer.json()["data"]["outboundIds"][0]
    return outbound


def use_conn(monkeypatch: pytest.MonkeyPatch, server: SandboxServer, **extra: str) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_MTA_GENERAL", mta_conn_json(server.base_url, max_retries=0, **extra))


def test_a_burst_of_lookups_is_paced_under_the_limit(limited, monkeypatch):
    outbound = sent_outbound_id(limited)
    use_conn(monkeypatch, limited, general_rate_limit=LIMIT)
    hook = MtaHook("mta_general")
    t0 = time.monotonic()
    for _ in range(15):
        hook.get_delivery_report(outbound)
    elapsed = time.monotonic() - t0
    assert limited.stats()["generalRateLimited"] == 0
    assert elapsed >= 2 * 2.0  # 15 lookups at 5 per window: the 11th waits for the third window


async def test_async_lookups_are_paced_under_the_limit(limited, monkeypatch):
    outbound = sent_outbound_id(limited)
    use_conn(monkeypatch, limited, general_rate_limit=LIMIT)
    hook = MtaHook("mta_general")
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    async with await hook.aget_conn() as client:
        await asyncio.gather(*(hook.aget_delivery_report(outbound, client=client) for _ in range(8)))
    assert loop.time() - t0 >= 2.0  # 8 lookups at 5 per window: the sixth waits for the second window
    assert limited.stats()["generalRateLimited"] == 0


def test_without_pacing_the_sandbox_answers_429_and_the_general_budget_pauses(limited, monkeypatch):
    outbound = sent_outbound_id(limited)
    use_conn(monkeypatch, limited, general_rate_limit="0")
    assert MtaHook("mta_general").get_conn().general_pacer is None
    general, send = Pacer(RateLimit(100, 1.0)), Pacer(RateLimit(100, 1.0))
    retry = RetryPolicy(max_retries=0)
    with MtaClient(
        api_key=API_KEY, base_url=limited.base_url, retry=retry, pacer=send, general_pacer=general
    ) as client:
        for _ in range(5):
            client.request("GET", report_path(outbound))
        with pytest.raises(MtaRateLimitError) as info:
            client.request("GET", report_path(outbound))
    assert info.value.retry_after and info.value.retry_after >= 1
    assert limited.stats()["generalRateLimited"] == 1
    assert general.reserve() >= 1.0 and send.reserve() == 0  # Retry-After paused the general budget only


def test_a_malformed_limit_is_an_error_naming_the_field(monkeypatch):
    use_conn_url = "http://127.0.0.1:1/v3"
    monkeypatch.setenv("AIRFLOW_CONN_MTA_BAD", mta_conn_json(use_conn_url, general_rate_limit="fast"))
    with pytest.raises(MtaConfigError, match=r"Connection 'mta_bad': general_rate_limit: .*'fast'.*N/SECONDS"):
        MtaHook("mta_bad").get_conn()
    assert MtaHook("mta_bad", general_rate_limit="0").get_conn().general_pacer is None  # the argument wins
    paced = MtaHook("mta_bad", general_rate_limit="7/3").get_conn().general_pacer
    assert paced is not None and str(paced.limit) == "7/3"
    with pytest.raises(MtaConfigError, match=r"general_rate_limit: .*'3/0'"):
        MtaClient(api_key="k", base_url=use_conn_url, general_rate_limit="3/0")
    default = MtaClient(api_key="k", base_url=use_conn_url).general_pacer
    assert default is not None and str(default.limit) == "30/60"  # MTA's documented general limit


def test_the_general_budget_has_its_own_redis_keys_never_the_api_key(monkeypatch):
    key = f"sk-SECRET-{uuid.uuid4().hex}"
    shared = SharedLimit("redis_limit", "http://127.0.0.1:1/v3", key)
    general, send = shared(RateLimit(7, 1.0), budget="general"), shared(RateLimit(7, 1.0))
    assert general is not send and general.local is not send.local
    assert general.log_key.startswith("airflow_provider_mta:general:{") and general.log_key.endswith("}:log")
    assert send.log_key.startswith("airflow_provider_mta:send:{")
    assert general.log_key.split(":")[2] == send.log_key.split(":")[2]  # the same account fingerprint
    assert all(key not in k for k in (general.log_key, general.paused_key, general.pages_key))


# -- shared through Redis -------------------------------------------------------------------------


@pytest.fixture
def shared_conn(redis_url: str, limited: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """``mta_general`` on the limited sandbox with ``rate_limit_conn_id``; its Redis keys deleted afterwards."""
    monkeypatch.setenv("AIRFLOW_CONN_REDIS_LIMIT", redis_url)
    use_conn(monkeypatch, limited, general_rate_limit=LIMIT, rate_limit_conn_id="redis_limit")
    yield "mta_general"
    client = redis.Redis.from_url(redis_url)
    pacer = SharedLimit("redis_limit", limited.base_url, API_KEY)(RateLimit(5, 2.0), budget="general")
    for name in (pacer.log_key, pacer.paused_key, pacer.pages_key):
        client.delete(name)
    client.close()


@pytest.mark.redis
def test_two_processes_share_the_general_budget_and_get_no_429(shared_conn, limited):
    outbound = sent_outbound_id(limited)
    assert isinstance(MtaHook(shared_conn).get_conn().general_pacer, SharedPacer)
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        spans = pool.starmap(lookups, [(shared_conn, outbound, 6)] * 2)
    assert limited.stats()["generalRateLimited"] == 0
    first, last = min(s for s, _ in spans), max(e for _, e in spans)
    assert last - first >= 2 * 2.0  # 12 lookups at 5 per window between them: the 11th waits two windows


@pytest.mark.redis
def test_a_429_pauses_the_general_budget_in_redis_for_every_worker(shared_conn, limited, redis_url):
    outbound = sent_outbound_id(limited)
    for _ in range(5):  # another client at this address used the sandbox's window up
        limited.client().get(f"/v3{report_path(outbound)}")
    pacer = MtaHook(shared_conn).get_conn().general_pacer
    assert isinstance(pacer, SharedPacer)
    with pytest.raises(MtaRateLimitError):
        MtaHook(shared_conn).get_delivery_report(outbound)
    client = redis.Redis.from_url(redis_url)
    try:
        assert client.pttl(pacer.paused_key) > 500  # Retry-After, for every worker of the account
    finally:
        client.close()


def test_redis_down_falls_back_to_local_pacing_with_one_warning(limited, monkeypatch, closed_port, caplog):
    outbound = sent_outbound_id(limited)
    monkeypatch.setenv("AIRFLOW_CONN_REDIS_DOWN", f"redis://127.0.0.1:{closed_port}/0")
    use_conn(monkeypatch, limited, general_rate_limit=LIMIT, rate_limit_conn_id="redis_down")
    hook = MtaHook("mta_general")
    t0 = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="airflow_provider_mta.rate_limit"):
        for _ in range(6):
            hook.get_delivery_report(outbound)
    assert time.monotonic() - t0 >= 2.0  # 5 per window, locally: the sixth waits for the window
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "shared general limit" in warnings[0] and "unreachable" in warnings[0]
    assert f"pacing this process alone at {LIMIT}" in warnings[0] and API_KEY not in warnings[0]
    assert limited.stats()["generalRateLimited"] == 0


async def test_async_redis_down_falls_back(limited, monkeypatch, closed_port, caplog):
    outbound = sent_outbound_id(limited)
    monkeypatch.setenv("AIRFLOW_CONN_REDIS_DOWN", f"redis://127.0.0.1:{closed_port}/0")
    use_conn(monkeypatch, limited, general_rate_limit="3/1", rate_limit_conn_id="redis_down")
    hook = MtaHook("mta_general")
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    with caplog.at_level(logging.WARNING, logger="airflow_provider_mta.rate_limit"):
        async with await hook.aget_conn() as client:
            for _ in range(4):
                await hook.aget_delivery_report(outbound, client=client)
    assert loop.time() - t0 >= 1.0  # 3 per window: the fourth waited for the window
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1
    assert limited.stats()["generalRateLimited"] == 0
