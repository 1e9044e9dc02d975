"""Fixtures for the sandbox tests: one sandbox server per module, driven over real HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from sandbox_helpers import FAST_RETRY, Receiver, make_client

from airflow_provider_mta.backends.mta.client import AsyncMtaClient, MtaClient
from airflow_provider_mta.sandbox.testing import SandboxServer


@pytest.fixture(scope="module")
def sbx_server() -> Iterator[SandboxServer]:
    with SandboxServer() as server:
        yield server


@pytest.fixture
def sbx(sbx_server: SandboxServer) -> SandboxServer:
    """The module's server, reset before each test."""
    sbx_server.reset()
    return sbx_server


@pytest.fixture
def client(sbx: SandboxServer) -> Iterator[MtaClient]:
    with make_client(sbx) as c:
        yield c


@pytest.fixture
async def aclient(sbx: SandboxServer) -> AsyncIterator[AsyncMtaClient]:
    async with AsyncMtaClient(
        api_key=sbx.api_key,
        base_url=sbx.base_url,
        retry=FAST_RETRY,
        send_rate_limit=None,
        general_rate_limit=None,
        timeout=10.0,
    ) as c:
        yield c


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()
