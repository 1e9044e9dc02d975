"""Helpers shared by the sandbox tests (imported by name: this directory is on sys.path under pytest)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from airflow_provider_mta.backends.mta.client import MtaClient
from airflow_provider_mta.core.retry import RetryPolicy
from airflow_provider_mta.sandbox.testing import SandboxServer
from tests.loopback_http import LoopbackServer, QuietHandler

FAST_RETRY = RetryPolicy(max_retries=3, backoff_initial=0.01, backoff_max=0.05)


def make_client(server: SandboxServer, **options: Any) -> MtaClient:
    kwargs: dict[str, Any] = {"api_key": server.api_key, "base_url": server.base_url, "retry": FAST_RETRY}
    kwargs.update(send_rate_limit=None, general_rate_limit=None, timeout=10.0)
    kwargs.update(options)
    return MtaClient(**kwargs)


def wait_until(predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.02) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout}s (last value {value!r})")
        time.sleep(interval)


def assert_masked_400(answer: httpx.Response) -> dict[str, Any]:
    """MTA's 400 error body, whose message names no full phone number (``317555...``) and no email."""
    error: dict[str, Any] = answer.json()
    assert answer.status_code == 400
    assert (error["httpCode"], error["type"], error["name"]) == (400, "bad_request_error", "MTABadRequestError")
    assert "317555" not in error["message"].replace(" ", "").replace("-", "")  # numbers are masked
    assert "ops@" not in error["message"]
    return error


class Receiver(LoopbackServer):
    """A webhook receiver on 127.0.0.1: records ``(headers, raw body)`` of every POST, answers 200."""

    def __init__(self) -> None:
        self.calls: list[tuple[dict[str, str], bytes]] = []
        self.received_at: list[float] = []  # time.time() of each call
        self._lock = threading.Lock()
        receiver = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                body = self.body()
                with receiver._lock:
                    receiver.calls.append(({k.lower(): v for k, v in self.headers.items()}, body))
                    receiver.received_at.append(time.time())
                self.reply(200)

        super().__init__(Handler)
        self.url = self.root + "/hook"

    def snapshot(self) -> list[tuple[dict[str, str], bytes]]:
        with self._lock:
            return list(self.calls)
