"""Test helpers for the httpx.MockTransport client tests: a scripted server and a counting pacer."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from airflow_provider_mta.core.pacing import Pacer, RateLimit


class Script:
    """Answers each request with the next scripted response (or raises the scripted exception); records requests."""

    def __init__(self, *answers: httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            return answer(request)
        return answer


class CountingPacer(Pacer):
    def __init__(self) -> None:
        super().__init__(RateLimit(1000, 1.0))
        self.acquired = 0
        self.priority = 0
        self.pauses: list[float] = []

    def acquire(self, *, priority: bool = False) -> float:
        self.acquired += 1
        self.priority += priority
        return 0.0

    async def aacquire(self, *, priority: bool = False) -> float:
        self.acquired += 1
        self.priority += priority
        return 0.0

    def pause_until_delay(self, delay: float) -> None:
        self.pauses.append(delay)
