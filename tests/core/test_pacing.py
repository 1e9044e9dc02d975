"""The pacer keeps every window of W seconds at N sends or fewer, and honours a Retry-After pause."""

from __future__ import annotations

import asyncio
import threading

import pytest

from airflow_provider_mta.core.errors import MtaConfigError
from airflow_provider_mta.core.pacing import Pacer, RateLimit, shared_pacer


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("text", "limit"),
    [
        ("25/15", RateLimit(25, 15.0)),
        ("3/0.5", RateLimit(3, 0.5)),
        ("0", None),
        ("", None),
        (None, None),
        # a fractional N is the same average rate in whole requests (issue 20: 1.25/2 was refused)
        ("1.25/2", RateLimit(5, 8.0)),
        ("0.5/1", RateLimit(1, 2.0)),
        ("2.5/15", RateLimit(5, 30.0)),
        ("1/1.6", RateLimit(1, 1.6)),
    ],
)
def test_parse(text, limit):
    assert RateLimit.parse(text) == limit


@pytest.mark.parametrize("text", ["25", "a/b", "0/15", "5/0", "-1/3", "1/nan", "1/inf", "1.2.3/4", "1e-9/1"])
def test_parse_rejects_garbage(text):
    with pytest.raises(MtaConfigError, match="rate limit"):
        RateLimit.parse(text)


def test_a_fractional_rate_keeps_its_average_and_a_sliding_window_of_whole_requests():
    clock = FakeClock()
    pacer = Pacer(RateLimit.parse("1.25/2") or RateLimit(1, 1.0), margin=0.0, clock=clock)
    starts = []
    for _ in range(11):
        clock.now += pacer.reserve()
        starts.append(clock.now - 1000.0)
    assert starts == [0.0] * 5 + [8.0] * 5 + [16.0]  # 10 in 16 s: 1.25 per 2 s on average
    assert str(RateLimit.parse("1.25/2")) == "5/8"


def test_reserve_spaces_sends_into_a_sliding_window():
    clock = FakeClock()
    pacer = Pacer(RateLimit(3, 10.0), margin=0.0, clock=clock)
    starts = []
    for _ in range(7):
        starts.append(clock.now + pacer.reserve())
    assert starts == [1000.0, 1000.0, 1000.0, 1010.0, 1010.0, 1010.0, 1020.0]
    # any window of 10 s holds at most 3 starts
    for i in range(len(starts) - 3):
        assert starts[i + 3] - starts[i] >= 10.0


def test_reserve_does_not_wait_when_sends_are_slow_anyway():
    clock = FakeClock()
    pacer = Pacer(RateLimit(2, 1.0), margin=0.0, clock=clock)
    for _ in range(5):
        assert pacer.reserve() == 0.0
        clock.now += 0.6


def test_pause_holds_everyone():
    clock = FakeClock()
    pacer = Pacer(RateLimit(100, 1.0), clock=clock)
    pacer.pause_until_delay(4.0)
    assert pacer.reserve() == pytest.approx(4.0)
    clock.now += 5
    assert pacer.reserve() == 0.0


def test_acquire_really_waits_and_is_thread_safe():
    pacer = Pacer(RateLimit(4, 0.4), margin=0.0)
    import time

    stamps: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(3):
            pacer.acquire()
            with lock:
                stamps.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stamps.sort()
    assert len(stamps) == 12
    for i in range(len(stamps) - 4):
        assert stamps[i + 4] - stamps[i] >= 0.4 - 0.01


async def test_aacquire_waits_without_blocking_the_loop():
    pacer = Pacer(RateLimit(1, 0.2), margin=0.0)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    waited = [await pacer.aacquire() for _ in range(3)]
    assert waited[0] == 0.0 and loop.time() - t0 >= 0.39


def test_shared_pacer_is_one_per_scope_key_and_limit():
    a = shared_pacer("http://x/v3", "k1", RateLimit(25, 15))
    assert shared_pacer("http://x/v3", "k1", RateLimit(25, 15)) is a
    assert shared_pacer("http://x/v3", "k2", RateLimit(25, 15)) is not a


@pytest.mark.parametrize(("requests", "reserve"), [(1, 0), (2, 1), (10, 1), (25, 2), (100, 10)])
def test_priority_reserve_is_ten_percent_at_least_one(requests, reserve):
    assert RateLimit(requests, 1.0).priority_reserve == reserve


def test_with_no_page_about_ordinary_sends_get_the_whole_limit():
    clock = FakeClock()
    pacer = Pacer(RateLimit(10, 10.0), margin=0.0, reserve=1, clock=clock)
    assert [pacer.reserve() for _ in range(10)] == [0.0] * 10
    assert pacer.reserve() == 10.0


def test_while_a_page_is_about_ordinary_sends_leave_it_the_reserve():
    clock = FakeClock()
    pacer = Pacer(RateLimit(10, 10.0), margin=0.0, reserve=1, clock=clock)
    assert pacer.reserve(priority=True) == 0.0  # a page: the reserve holds for one window
    assert [pacer.reserve() for _ in range(8)] == [0.0] * 8  # ordinary sends stop at 9 of 10
    assert pacer.reserve() == 10.0  # the 10th ordinary send waits for the next window
    assert pacer.reserve(priority=True) == 0.0  # a second page goes now, ahead of it
    clock.now = 25.0  # no page for more than a window: the whole limit again
    assert [pacer.reserve() for _ in range(10)] == [0.0] * 9 + [10.0]  # one slot of [25, 35) was booked at 10


def test_priority_and_batch_together_never_exceed_the_limit():
    import random

    rng = random.Random(7)
    clock = FakeClock()
    limit = RateLimit(5, 2.0)
    pacer = Pacer(limit, margin=0.0, reserve=1, clock=clock)
    starts: list[tuple[float, bool]] = []
    for _ in range(300):
        priority = rng.random() < 0.2
        starts.append((clock.now + pacer.reserve(priority=priority), priority))
        clock.now += rng.choice([0.0, 0.0, 0.05, 0.3, 1.0])
    times = sorted(t for t, _ in starts)
    assert any(p for _, p in starts) and not all(p for _, p in starts)
    for i in range(len(times) - limit.requests):
        assert times[i + limit.requests] - times[i] >= limit.seconds  # never N + 1 in a window


def test_shared_pacer_keeps_the_reserve():
    assert shared_pacer("http://x/v3", "k3", RateLimit(25, 15)).reserve_slots == 2


def test_account_fingerprint_holds_no_key():
    from airflow_provider_mta.core.pacing import account_fingerprint

    fp = account_fingerprint("http://127.0.0.1:1/v3", "sk-secret-key")
    assert len(fp) == 64 and "secret" not in fp
    assert fp == account_fingerprint("http://127.0.0.1:1/v3/", " sk-secret-key ")
    assert fp != account_fingerprint("http://127.0.0.1:2/v3", "sk-secret-key")
    assert fp != account_fingerprint("http://127.0.0.1:1/v3", "sk-other-key")
