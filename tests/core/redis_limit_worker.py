"""What a spawned worker process runs against the shared send limit; imports redis and core only (no Airflow)."""

from __future__ import annotations

import time
from typing import Any

import redis

from airflow_provider_mta.core.pacing import RateLimit
from airflow_provider_mta.core.shared_pacing import SharedPacer


class UrlConnector:
    """Redis clients for a URL, without retries and with short timeouts (as the hook layer builds them)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.description = url
        self._sync: Any = None

    def _options(self) -> dict[str, Any]:
        return {"socket_timeout": 1.0, "socket_connect_timeout": 1.0}

    def sync_client(self) -> Any:
        if self._sync is None:
            from redis.backoff import NoBackoff
            from redis.retry import Retry

            self._sync = redis.Redis.from_url(self.url, retry=Retry(NoBackoff(), 0), **self._options())
        return self._sync

    async def async_client(self) -> Any:
        import redis.asyncio
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        return redis.asyncio.Redis.from_url(self.url, retry=Retry(NoBackoff(), 0), **self._options())


def make_pacer(url: str, prefix: str, limit: str, **kwargs: Any) -> SharedPacer:
    parsed = RateLimit.parse(limit)
    assert parsed is not None
    return SharedPacer(parsed, fingerprint="test", connector=UrlConnector(url), key_prefix=prefix, **kwargs)


def acquire_many(url: str, prefix: str, limit: str, count: int) -> list[float]:
    """Acquire ``count`` ordinary slots; the monotonic clock (one per machine) at each grant."""
    pacer = make_pacer(url, prefix, limit)
    stamps = []
    for _ in range(count):
        pacer.acquire()
        stamps.append(time.monotonic())
    return stamps


def send_many(url: str, prefix: str, limit: str, base_url: str, api_key: str, count: int) -> int:
    """Send ``count`` texts through MtaClient paced by the shared limit (no retries: a 429 raises)."""
    from airflow_provider_mta.backends.mta.client import MtaClient
    from airflow_provider_mta.backends.mta.models import SendRequest
    from airflow_provider_mta.core.retry import RetryPolicy

    pacer = make_pacer(url, prefix, limit)
    request = SendRequest.build(subscribers=["+13175551111"], message="shared limit")
    with MtaClient(
        api_key=api_key, base_url=base_url, send_rate_limit=limit, pacer=pacer, retry=RetryPolicy(max_retries=0)
    ) as client:
        for _ in range(count):
            client.send(request)
    return count
