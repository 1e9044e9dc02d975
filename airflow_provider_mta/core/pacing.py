"""Client-side pacing under MTA's rate limits: a sliding window of N requests per W seconds.

One account has separate budgets (:data:`BUDGETS`): ``send`` for ``POST /send`` and ``general`` for
every other MTA request; each has its own pacer, locally and in Redis.
"""

from __future__ import annotations

import asyncio
import bisect
import hashlib
import math
import threading
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Protocol

from airflow_provider_mta.core.errors import MtaConfigError

if TYPE_CHECKING:
    from collections.abc import Callable

BUDGETS = ("send", "general")
"""The rate-limit budgets of one account: ``POST /send``, and every other request."""


@dataclass(frozen=True)
class RateLimit:
    """At most ``requests`` per ``seconds``. ``RateLimit.parse("25/15")``; ``"0"`` means no limit."""

    requests: int
    seconds: float

    @classmethod
    def parse(cls, value: str | RateLimit | None) -> RateLimit | None:
        """``"N/SECONDS"``; a fractional N (``"1.25/2"``) becomes the same rate in whole requests
        (``5/8``), since a sliding window counts whole requests."""
        if value is None or isinstance(value, RateLimit):
            return value
        text = str(value).strip()
        if text in ("", "0", "off", "none"):
            return None
        try:
            requests_text, seconds_text = text.split("/")
            requests, seconds = Fraction(requests_text.strip()), float(seconds_text)
        except (ValueError, ZeroDivisionError):
            raise MtaConfigError(f"rate limit {text!r} is not N/SECONDS like 25/15") from None
        if requests <= 0 or not seconds > 0 or not math.isfinite(seconds):
            raise MtaConfigError(f"rate limit {text!r} must have N > 0 and SECONDS > 0")
        if requests.denominator > 1000:
            raise MtaConfigError(f"rate limit {text!r}: N has too many decimals; write it as whole requests")
        return cls(requests.numerator, seconds * requests.denominator)

    def __str__(self) -> str:
        return f"{self.requests}/{self.seconds:g}"

    @property
    def priority_reserve(self) -> int:
        """Slots kept for pages while one is about: 10 % of N, at least 1, none when N is 1."""
        return 0 if self.requests < 2 else max(1, self.requests // 10)


class SendPacer(Protocol):
    """What a client paces its sends with: this process's :class:`Pacer`, or the account-wide limit in Redis."""

    limit: RateLimit

    def acquire(self, *, priority: bool = False) -> float: ...

    async def aacquire(self, *, priority: bool = False) -> float: ...

    def pause_until_delay(self, delay: float) -> None: ...

    async def apause_until_delay(self, delay: float) -> None: ...


class PacerFactory(Protocol):
    """Builds the pacer of one budget (:data:`BUDGETS`) of a client's account, e.g. the shared limit in Redis."""

    def __call__(self, limit: RateLimit, *, budget: str = "send") -> SendPacer: ...


class Pacer:
    """Reserves send slots so that no window of ``seconds`` holds more than ``requests`` starts.

    Thread-safe and usable from any event loop: the lock is held only to reserve a slot, and the
    wait happens outside it (``acquire`` sleeps, ``aacquire`` awaits). A 429's Retry-After pauses
    every caller through :meth:`pause_until_delay`.

    ``reserve`` slots are kept for priority sends (pages) while one is about: for one window after a
    ``priority=True`` acquire, an ordinary acquire never leaves a window with fewer than ``reserve`` free
    slots, while priority ones may use them all. With no page about, ordinary sends get the whole limit.
    """

    def __init__(
        self,
        limit: RateLimit,
        *,
        margin: float = 0.05,
        reserve: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.margin = margin
        self.reserve_slots = max(0, min(reserve, limit.requests - 1))
        self._clock = clock
        self._slots: list[float] = []  # booked starts, sorted (some may lie in the future)
        self._paused_until = 0.0
        self._priority_until = float("-inf")  # a page was about until then: ordinary sends leave the reserve
        self._lock = threading.Lock()

    @property
    def window(self) -> float:
        """The window the pacer keeps: the limit's seconds plus the safety margin."""
        return self.limit.seconds + self.margin

    def _fits(self, start: float, cap: int) -> bool:
        """Whether one more start at ``start`` keeps every window holding it at ``cap`` starts or fewer."""
        slots, window = self._slots, self.window
        lo = bisect.bisect_right(slots, start - window)
        hi = bisect.bisect_right(slots, start)
        # The windows [x, x + window) holding ``start`` hold the most at x just above start - window, at
        # x = start, or at x = an earlier slot.
        if hi - lo + 1 > cap or bisect.bisect_left(slots, start + window) - bisect.bisect_left(slots, start) + 1 > cap:
            return False
        return all(bisect.bisect_left(slots, slots[i] + window) - i + 1 <= cap for i in range(lo, hi))

    def reserve(self, *, priority: bool = False) -> float:
        """Book the next slot and return how many seconds to wait before using it."""
        with self._lock:
            now = self._clock()
            window = self.window
            if priority:
                self._priority_until = now + window
            held = self.reserve_slots if not priority and now < self._priority_until else 0
            cap = self.limit.requests - held
            del self._slots[: bisect.bisect_right(self._slots, now - window)]
            earliest = max(now, self._paused_until)
            candidates = [earliest] + [s + window for s in self._slots if s + window > earliest]
            start = next(t for t in sorted(candidates) if self._fits(t, cap))
            bisect.insort(self._slots, start)
            return start - now

    def note(self) -> None:
        """Record a send started now that another limiter granted (this process's history, for a fallback)."""
        with self._lock:
            bisect.insort(self._slots, self._clock())

    def pause_until_delay(self, delay: float) -> None:
        """Hold every caller for ``delay`` seconds from now (a server's Retry-After)."""
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + delay)

    async def apause_until_delay(self, delay: float) -> None:
        """Async twin of :meth:`pause_until_delay` (the same: nothing to wait for)."""
        self.pause_until_delay(delay)

    def acquire(self, *, priority: bool = False) -> float:
        """Wait (blocking) for the next slot; returns the seconds waited."""
        delay = self.reserve(priority=priority)
        if delay > 0:
            time.sleep(delay)
        return delay

    async def aacquire(self, *, priority: bool = False) -> float:
        """Wait (async) for the next slot; returns the seconds waited."""
        delay = self.reserve(priority=priority)
        if delay > 0:
            await asyncio.sleep(delay)
        return delay


_SHARED: dict[tuple[str, str, RateLimit, str], Pacer] = {}
_SHARED_LOCK = threading.Lock()


def shared_pacer(scope: str, key_fingerprint: str, limit: RateLimit, *, budget: str = "send") -> Pacer:
    """One pacer per (base URL, API key, limit, budget) in this process, so every hook and notifier shares it.

    It keeps :meth:`RateLimit.priority_reserve` slots of a window for priority sends (pages) while one is about.
    """
    key = (scope, key_fingerprint, limit, budget)
    with _SHARED_LOCK:
        pacer = _SHARED.get(key)
        if pacer is None:
            pacer = _SHARED[key] = Pacer(limit, reserve=limit.priority_reserve)
        return pacer


def account_fingerprint(base_url: str, api_key: str) -> str:
    """sha256 of base URL and API key (hex): names an account in shared state without holding its key."""
    return hashlib.sha256(f"{base_url.rstrip('/')}\n{api_key.strip()}".encode()).hexdigest()
