"""Counters of what the sandbox did, for tests and benchmarks (``GET /_sandbox/stats``)."""

from __future__ import annotations

import threading

COUNTERS = (
    "sendRequests",
    "sendsAccepted",
    "recipientsAccepted",
    "conflicts",
    "rateLimited",
    "generalRateLimited",
    "faultsFired",
    "badRequests",
    "unauthorized",
    "webhooksDelivered",
    "webhooksFailed",
    "telnyxSendRequests",
    "telnyxSendsAccepted",
    "telnyxReplays",
    "telnyxRefused",
    "birdSendRequests",
    "birdSendsAccepted",
    "birdRefused",
    "repliesReceived",
)


class Stats:
    """Thread-safe named counters, all zero after :meth:`reset`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(COUNTERS, 0)

    def incr(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._counts[name] = self._counts.get(name, 0) + n

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def reset(self) -> None:
        with self._lock:
            self._counts = dict.fromkeys(COUNTERS, 0)
