"""Client-side pacing under MTA's rate limits: a sliding window of N requests per W seconds."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from airflow_provider_mta.core.errors import MtaConfigError

if TYPE_CHECKING:
    from collections.abc import Callable


@dataclass(frozen=True)
class RateLimit:
    """At most ``requests`` per ``seconds``. ``RateLimit.parse("25/15")``; ``"0"`` means no limit."""

    requests: int
    seconds: float

    @classmethod
    def parse(cls, value: str | RateLimit | None) -> RateLimit | None:
        if value is None or isinstance(value, RateLimit):
            return value
        text = str(value).strip()
        if text in ("", "0", "off", "none"):
            return None
        try:
            requests, seconds = text.split("/")
            limit = cls(int(requests), float(seconds))
        except ValueError:
            raise MtaConfigError(f"rate limit {text!r} is not N/SECONDS like 25/15") from None
        if limit.requests <= 0 or limit.seconds <= 0:
            raise MtaConfigError(f"rate limit {text!r} must have N > 0 and SECONDS > 0")
        return limit

    def __str__(self) -> str:
        return f"{self.requests}/{self.seconds:g}"


class Pacer:
    """Reserves send slots so that no window of ``seconds`` holds more than ``requests`` starts.

    Thread-safe and usable from any event loop: the lock is held only to reserve a slot, and the
    wait happens outside it (``acquire`` sleeps, ``aacquire`` awaits). A 429's Retry-After pauses
    every caller through :meth:`pause_until`.
    """

    def __init__(
        self,
        limit: RateLimit,
        *,
        margin: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.margin = margin
        self._clock = clock
        self._slots: deque[float] = deque(maxlen=limit.requests)
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Book the next slot and return how many seconds to wait before using it."""
        with self._lock:
            now = self._clock()
            start = max(now, self._paused_until)
            if len(self._slots) == self.limit.requests:
                start = max(start, self._slots[0] + self.limit.seconds + self.margin)
            self._slots.append(start)
            return start - now

    def pause_until_delay(self, delay: float) -> None:
        """Hold every caller for ``delay`` seconds from now (a server's Retry-After)."""
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + delay)

    def acquire(self) -> float:
        """Wait (blocking) for the next slot; returns the seconds waited."""
        delay = self.reserve()
        if delay > 0:
            time.sleep(delay)
        return delay

    async def aacquire(self) -> float:
        """Wait (async) for the next slot; returns the seconds waited."""
        delay = self.reserve()
        if delay > 0:
            await asyncio.sleep(delay)
        return delay


_SHARED: dict[tuple[str, str, RateLimit], Pacer] = {}
_SHARED_LOCK = threading.Lock()


def shared_pacer(scope: str, key_fingerprint: str, limit: RateLimit) -> Pacer:
    """One pacer per (base URL, API key, limit) in this process, so every hook and notifier shares it."""
    with _SHARED_LOCK:
        return _SHARED.setdefault((scope, key_fingerprint, limit), Pacer(limit))
