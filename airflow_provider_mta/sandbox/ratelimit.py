"""Fixed-window rate limits (per API key for ``POST /send``, per client address for MTA's general limit),
with express-rate-limit's headers."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_provider_mta.core.pacing import RateLimit

TOO_MANY_REQUESTS = "Too many requests, please try again later."
"""The message of every MTA 429 (the send limit's and the general limit's)."""


@dataclass(frozen=True)
class Decision:
    """The outcome of one hit: allowed or not, and what the headers say."""

    allowed: bool
    limit: int
    remaining: int
    reset_s: float

    def headers(self) -> dict[str, str]:
        """``RateLimit-*`` (reset in ms, as MTA documents), ``X-RateLimit-*``, ``Retry-After`` if refused."""
        out = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(max(0, math.ceil(self.reset_s * 1000 - 1e-6))),
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
        }
        if not self.allowed:
            out["Retry-After"] = str(max(1, math.ceil(self.reset_s - 1e-9)))
        return out


class FixedWindowLimiter:
    """At most ``limit.requests`` hits per key per window of ``limit.seconds``; refused hits count too."""

    def __init__(self, limit: RateLimit | None, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._clock = clock
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> Decision | None:
        """Count one request for ``key``; None when the limit is turned off."""
        if self.limit is None:
            return None
        now = self._clock()
        with self._lock:
            start, count = self._windows.get(key, (now, 0))
            if now >= start + self.limit.seconds:
                start, count = now, 0
            count += 1
            self._windows[key] = (start, count)
        reset = start + self.limit.seconds - now
        allowed = count <= self.limit.requests
        return Decision(allowed, self.limit.requests, max(0, self.limit.requests - count), reset)

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()
