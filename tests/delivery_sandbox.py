"""A sandbox whose messages take 2 s to reach their final status, and a spy on the clients' HTTP attempts."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from airflow_provider_mta.backends.mta.client import AsyncMtaClient, MtaClient
from airflow_provider_mta.sandbox.testing import SandboxServer
from tests.conftest import API_KEY, use_sandbox

DELIVERY_DELAY_S = 2.0


@pytest.fixture(scope="module")
def slow_server() -> Iterator[SandboxServer]:
    with SandboxServer(api_keys=(API_KEY,), delivery_delay_s=DELIVERY_DELAY_S) as server:
        yield server


@pytest.fixture
def slow(slow_server: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> SandboxServer:
    """The delayed sandbox, reset, with ``mta_default`` pointing at it."""
    return use_sandbox(slow_server, monkeypatch)


@dataclass
class Calls:
    """Every HTTP attempt of MtaClient/AsyncMtaClient: (monotonic time, method, path, params)."""

    seen: list[tuple[float, str, str, dict[str, Any]]] = field(default_factory=list)

    def gets(self) -> list[tuple[float, str, dict[str, Any]]]:
        return [(t, path, params) for t, method, path, params in self.seen if method == "GET"]

    def gaps(self) -> list[float]:
        times = [t for t, _, _ in self.gets()]
        return [b - a for a, b in itertools.pairwise(times)]


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Calls:
    """Record each attempt, then let it go to the real server."""
    record = Calls()
    sync_attempt, async_attempt = MtaClient._attempt, AsyncMtaClient._attempt

    def spy(self: MtaClient, method: str, path: str, *args: Any) -> Any:
        record.seen.append((time.monotonic(), method, path, dict(args[1] or {})))
        return sync_attempt(self, method, path, *args)

    async def aspy(self: AsyncMtaClient, method: str, path: str, *args: Any) -> Any:
        record.seen.append((time.monotonic(), method, path, dict(args[1] or {})))
        return await async_attempt(self, method, path, *args)

    monkeypatch.setattr(MtaClient, "_attempt", spy)
    monkeypatch.setattr(AsyncMtaClient, "_attempt", aspy)
    return record
