"""Two processes sending for one account through MtaClient share the limit in Redis: the sandbox, which
allows that many sends per window per key, answers no 429."""

from __future__ import annotations

import multiprocessing
import time
import uuid

import pytest
import redis

from airflow_provider_mta.sandbox.testing import SandboxServer
from tests.conftest import API_KEY
from tests.core.redis_limit_worker import send_many

pytestmark = pytest.mark.redis


def test_two_processes_share_the_limit_and_the_sandbox_answers_no_429(redis_url):
    prefix = f"mta-test:{uuid.uuid4().hex}"
    try:
        with SandboxServer(api_keys=(API_KEY,), send_rate_limit="6/1") as server:
            t0 = time.monotonic()
            with multiprocessing.get_context("spawn").Pool(2) as pool:
                sent = pool.starmap(send_many, [(redis_url, prefix, "6/1", server.base_url, API_KEY, 8)] * 2)
            elapsed = time.monotonic() - t0
            assert sent == [8, 8]
            assert len(server.messages()) == 16
            assert server.stats()["rateLimited"] == 0
            assert elapsed >= 2 * 1.0  # 16 sends at 6 per window (no page about): at least 3 windows
    finally:
        client = redis.Redis.from_url(redis_url)
        for key in client.scan_iter(f"{prefix}:*"):
            client.delete(key)
        client.close()
