"""Helpers shared by the sandbox tests (imported by name: this directory is on sys.path under pytest)."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_mta.core.client import MtaClient
from airflow_provider_mta.core.retry import RetryPolicy
from airflow_provider_mta.sandbox.testing import SandboxServer

FAST_RETRY = RetryPolicy(max_retries=3, backoff_initial=0.01, backoff_max=0.05)


def make_client(server: SandboxServer, **options: Any) -> MtaClient:
    kwargs: dict[str, Any] = {"api_key": server.api_key, "base_url": server.base_url, "retry": FAST_RETRY}
    kwargs.update(send_rate_limit=None, timeout=10.0)
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


class Receiver:
    """A webhook receiver on 127.0.0.1: records ``(headers, raw body)`` of every POST, answers 200."""

    def __init__(self) -> None:
        self.calls: list[tuple[dict[str, str], bytes]] = []
        self.received_at: list[float] = []  # time.time() of each call
        self._lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    receiver.calls.append(({k.lower(): v for k, v in self.headers.items()}, body))
                    receiver.received_at.append(time.time())
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def snapshot(self) -> list[tuple[dict[str, str], bytes]]:
        with self._lock:
            return list(self.calls)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
