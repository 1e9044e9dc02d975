"""The account-wide send limit in Redis: never over the limit across threads and processes, a shared
Retry-After pause, priority slots, the fallback to local pacing when Redis is down, and the async twin."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import socket
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import redis

from airflow_provider_mta.core.pacing import RateLimit
from tests.core.redis_limit_worker import UrlConnector, acquire_many, make_pacer

pytestmark = pytest.mark.redis


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    name = f"mta-test:{uuid.uuid4().hex}"
    yield name
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"{name}:*"):
        client.delete(key)
    client.close()


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def max_in_window(stamps: list[float], seconds: float) -> int:
    """The most starts any window of ``seconds`` (a little less, for the clock read after the grant) holds."""
    stamps = sorted(stamps)
    return max(sum(1 for t in stamps[i:] if t - s < seconds - 0.02) for i, s in enumerate(stamps))


def test_threads_never_exceed_the_limit(redis_url, prefix):
    pacer = make_pacer(redis_url, prefix, "4/0.5")  # no page about: ordinary sends get all 4 per window
    stamps: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(4):
            pacer.acquire()
            with lock:
                stamps.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(stamps) == 16
    assert max_in_window(stamps, 0.5) == 4
    assert max(stamps) - min(stamps) >= 3 * 0.5  # 16 sends at 4 per window: at least 3 windows


def test_processes_never_exceed_the_limit(redis_url, prefix):
    with multiprocessing.get_context("spawn").Pool(3) as pool:
        results = pool.starmap(acquire_many, [(redis_url, prefix, "5/0.5", 4)] * 3)
    stamps = [t for result in results for t in result]
    assert len(stamps) == 12
    assert max_in_window(stamps, 0.5) <= 5  # no page about: the whole limit


def test_retry_after_seen_by_one_worker_pauses_all(redis_url, prefix):
    one, other = make_pacer(redis_url, prefix, "100/1"), make_pacer(redis_url, prefix, "100/1")
    one.pause_until_delay(0.4)
    t0 = time.monotonic()
    other.acquire()
    assert time.monotonic() - t0 >= 0.35
    assert other.local._paused_until == 0.0  # the pause came through Redis, not this worker's own pacer


def test_priority_uses_the_reserved_slots(redis_url, prefix):
    batch = make_pacer(redis_url, prefix, "3/1")  # reserve 1, held while a page is about
    page = make_pacer(redis_url, prefix, "3/1")
    assert page._try(priority=True) == 0  # a page: batches now leave one slot of each window
    assert batch._try(priority=False) == 0
    assert batch._try(priority=False) > 0.5  # the second ordinary send waits (2 of 3 used, cap 2)
    assert page._try(priority=True) == 0  # a page takes the reserved slot at once
    assert page._try(priority=True) > 0.5  # the window is full now, even for pages
    t0 = time.monotonic()
    page.acquire(priority=True)
    assert 0.8 <= time.monotonic() - t0 < 1.5


def test_with_no_page_about_batches_get_the_whole_limit(redis_url, prefix):
    batch = make_pacer(redis_url, prefix, "3/1")
    assert [batch._try(priority=False) for _ in range(3)] == [0, 0, 0]
    assert batch._try(priority=False) > 0.5


def test_the_keys_hold_a_fingerprint_never_the_api_key(redis_url, monkeypatch):
    from airflow_provider_mta.hooks.rate_limit import SharedLimit

    monkeypatch.setenv("AIRFLOW_CONN_REDIS_LIMIT", redis_url)
    key = f"sk-SECRET-{uuid.uuid4().hex}"
    pacer = SharedLimit("redis_limit", "http://127.0.0.1:1/v3", key)(RateLimit(7, 1.0))
    assert SharedLimit("redis_limit", "http://127.0.0.1:1/v3", key)(RateLimit(7, 1.0)) is pacer  # one per process
    assert key not in repr(SharedLimit("redis_limit", "http://127.0.0.1:1/v3", key))
    pacer.acquire()
    pacer.pause_until_delay(0.05)
    client = redis.Redis.from_url(redis_url)
    try:
        keys = [k.decode() for k in client.scan_iter("airflow_provider_mta:send:*")]
        assert pacer.log_key in keys and all(key not in k and "SECRET" not in k for k in keys)
        assert all(b"SECRET" not in member for member in client.zrange(pacer.log_key, 0, -1))
    finally:
        client.delete(pacer.log_key, pacer.paused_key)
        client.close()


def test_redis_down_falls_back_to_local_pacing_with_one_warning(closed_port, caplog):
    pacer = make_pacer(f"redis://127.0.0.1:{closed_port}/0", "mta-test", "2/0.3", retry_after=60)
    stamps = []
    with caplog.at_level(logging.WARNING, logger="airflow_provider_mta.rate_limit"):
        for _ in range(3):
            pacer.acquire()
            stamps.append(time.monotonic())
        pacer.pause_until_delay(0.01)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "unreachable" in warnings[0].getMessage()
    assert "pacing this process alone at 2/0.3" in warnings[0].getMessage()
    assert not pacer.using_redis
    assert stamps[2] - stamps[0] >= 0.3  # 2 per window, locally: the third waits for the window


def test_redis_is_tried_again_later_and_the_fallback_knows_what_redis_granted(redis_url, prefix, closed_port, caplog):
    pacer = make_pacer(redis_url, prefix, "3/1", retry_after=1.5)
    for _ in range(3):
        pacer.acquire()  # three through Redis (the whole limit: no page about): the local pacer recorded them
    real = pacer.connector
    pacer.connector = UrlConnector(f"redis://127.0.0.1:{closed_port}/0")
    pacer._scripts = None  # as if Redis went away
    t0 = time.monotonic()
    with caplog.at_level(logging.INFO, logger="airflow_provider_mta.rate_limit"):
        pacer.acquire()  # Redis is down: the local pacer still counts the three sends Redis granted
        assert time.monotonic() - t0 >= 0.9
        assert not pacer.using_redis
        pacer.connector = real
        time.sleep(1.6 - (time.monotonic() - t0))
        assert pacer.using_redis
        pacer.acquire(priority=True)
    assert [r.levelname for r in caplog.records] == ["WARNING", "INFO"]
    assert "answers again" in caplog.records[1].getMessage()


def test_a_missing_redis_connection_is_a_config_error(monkeypatch):
    from airflow_provider_mta.core.errors import MtaConfigError
    from airflow_provider_mta.hooks.rate_limit import SharedLimit

    monkeypatch.delenv("AIRFLOW_CONN_NO_SUCH_REDIS", raising=False)
    pacer = SharedLimit("no_such_redis", "http://127.0.0.1:1/v3", "k")(RateLimit(3, 1.0))
    with pytest.raises(MtaConfigError, match="no_such_redis"):
        pacer.acquire()


def test_a_connection_of_another_type_is_refused(monkeypatch):
    from airflow_provider_mta.core.errors import MtaConfigError
    from airflow_provider_mta.hooks.rate_limit import SharedLimit

    monkeypatch.setenv("AIRFLOW_CONN_NOT_REDIS", "postgresql://u@127.0.0.1:5432/db")
    pacer = SharedLimit("not_redis", "http://127.0.0.1:1/v3", "k")(RateLimit(3, 1.0))
    with pytest.raises(MtaConfigError, match="type 'redis'"):
        pacer.acquire()


async def test_async_tasks_never_exceed_the_limit_and_share_the_pause(redis_url, prefix):
    pacer = make_pacer(redis_url, prefix, "5/0.5")
    loop = asyncio.get_running_loop()
    stamps: list[float] = []

    async def worker() -> None:
        for _ in range(3):
            await pacer.aacquire()
            stamps.append(time.monotonic())

    await asyncio.gather(*(worker() for _ in range(4)))
    assert len(stamps) == 12 and max_in_window(stamps, 0.5) == 5
    other = make_pacer(redis_url, prefix, "100/1")
    await other.apause_until_delay(0.3)
    t0 = loop.time()
    await pacer.aacquire(priority=True)
    assert loop.time() - t0 >= 0.25


async def test_async_redis_down_falls_back(closed_port, caplog):
    pacer = make_pacer(f"redis://127.0.0.1:{closed_port}/0", "mta-test", "2/0.3", retry_after=60)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    with caplog.at_level(logging.WARNING, logger="airflow_provider_mta.rate_limit"):
        for _ in range(3):
            await pacer.aacquire()
        await pacer.apause_until_delay(0.01)
    assert loop.time() - t0 >= 0.3  # 2 per window: the third waited for the window
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1
