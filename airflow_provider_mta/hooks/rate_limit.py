"""The connection extra ``rate_limit_conn_id``: an Airflow ``redis`` connection holding an account's limits.

:class:`SharedLimit` is what a hook hands its client (``pacer_factory``): called with one of the client's
limits and its budget (``send``, or ``general`` for MTA's other requests), it returns this process's
:class:`~airflow_provider_mta.core.shared_pacing.SharedPacer` for (Redis connection, account, limit,
budget), so every hook, notifier and thread of a process shares one, and
every process shares the budget in Redis. The Redis connection is read (through
apache-airflow-providers-redis's ``RedisHook``) when the first send asks, not when the hook is
built: the async path looks it up asynchronously.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.sdk import Connection

    from airflow_provider_mta.core.pacing import RateLimit
    from airflow_provider_mta.core.shared_pacing import SharedPacer

REDIS_TIMEOUT = 1.0
"""Seconds to connect to Redis and to wait for an answer, so an unreachable Redis falls back fast."""

_SSL_EXTRAS = ("ssl", "ssl_cert_reqs", "ssl_ca_certs", "ssl_keyfile", "ssl_certfile", "ssl_check_hostname")


def redis_params(conn: Connection, *, conn_id: str) -> dict[str, Any]:
    """redis-py client arguments of an Airflow ``redis`` connection, read as ``RedisHook.get_conn`` reads it.

    Cluster mode (extra ``cluster``) is refused: the shared limit needs one Redis (or a primary).
    """
    from airflow_provider_mta.core.errors import MtaConfigError

    if conn.conn_type and conn.conn_type != "redis":
        raise MtaConfigError(
            f"rate_limit_conn_id {conn_id!r} is a connection of type {conn.conn_type!r}; it must be of type 'redis'"
        )
    extras = conn.extra_dejson or {}
    if extras.get("cluster"):
        raise MtaConfigError(f"rate_limit_conn_id {conn_id!r}: Redis in cluster mode is not supported for the limit")
    password = None if str(conn.password).lower() in ("none", "false", "") else conn.password
    return {
        "host": conn.host or "localhost",
        "port": int(conn.port or 6379),
        "username": conn.login or None,
        "password": password,
        "db": int(extras.get("db") or 0),
        "socket_timeout": REDIS_TIMEOUT,
        "socket_connect_timeout": REDIS_TIMEOUT,
        **{name: value for name, value in extras.items() if name in _SSL_EXTRAS},
    }


class AirflowRedisConnector:
    """Redis clients for an Airflow ``redis`` connection: one sync client, one async client per event loop.

    Neither retries (the limiter falls back to local pacing and asks again later instead).
    """

    def __init__(self, conn_id: str) -> None:
        self.conn_id = conn_id
        self.description = f"connection {conn_id!r}"
        self._params: dict[str, Any] | None = None
        self._sync: Any = None
        self._async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def _lookup_failed(self, exc: Exception) -> Exception:
        from airflow_provider_mta.core.errors import MtaConfigError

        if isinstance(exc, MtaConfigError):
            return exc
        return MtaConfigError(f"rate_limit_conn_id {self.conn_id!r} cannot be used: {type(exc).__name__}: {exc}")

    def params(self) -> dict[str, Any]:
        if self._params is None:
            from airflow.providers.redis.hooks.redis import RedisHook

            try:
                conn = RedisHook(redis_conn_id=self.conn_id).get_connection(self.conn_id)
                self._params = redis_params(conn, conn_id=self.conn_id)
            except Exception as exc:
                raise self._lookup_failed(exc) from None
        return self._params

    async def aparams(self) -> dict[str, Any]:
        if self._params is None:
            from airflow.providers.redis.hooks.redis import RedisHook

            try:
                conn = await RedisHook(redis_conn_id=self.conn_id).aget_connection(self.conn_id)
                self._params = redis_params(conn, conn_id=self.conn_id)
            except Exception as exc:
                raise self._lookup_failed(exc) from None
        return self._params

    def sync_client(self) -> Any:
        with self._lock:
            if self._sync is None:
                import redis
                from redis.backoff import NoBackoff
                from redis.retry import Retry

                self._sync = redis.Redis(**self.params(), retry=Retry(NoBackoff(), 0))
            return self._sync

    async def async_client(self) -> Any:
        loop = asyncio.get_running_loop()
        client = self._async.get(loop)
        if client is None:
            import redis.asyncio
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff

            client = self._async[loop] = redis.asyncio.Redis(**await self.aparams(), retry=Retry(NoBackoff(), 0))
        return client


_PACERS: dict[tuple[str, str, RateLimit, str], SharedPacer] = {}
_CONNECTORS: dict[str, AirflowRedisConnector] = {}
_LOCK = threading.Lock()


@dataclass(frozen=True)
class SharedLimit:
    """A client's ``pacer_factory`` for an account whose limits are shared through ``conn_id``'s Redis."""

    conn_id: str
    base_url: str
    api_key: str

    def __repr__(self) -> str:  # never the key
        return f"SharedLimit(conn_id={self.conn_id!r}, base_url={self.base_url!r})"

    def __call__(self, limit: RateLimit, *, budget: str = "send") -> SharedPacer:
        import hashlib

        from airflow_provider_mta.core.pacing import account_fingerprint, shared_pacer
        from airflow_provider_mta.core.shared_pacing import SharedPacer

        fingerprint = account_fingerprint(self.base_url, self.api_key)
        key = (self.conn_id, fingerprint, limit, budget)
        with _LOCK:
            pacer = _PACERS.get(key)
            if pacer is None:
                connector = _CONNECTORS.setdefault(self.conn_id, AirflowRedisConnector(self.conn_id))
                # the fallback is the process's own pacer of this account (what clients without the extra use)
                key_hash = hashlib.sha256(self.api_key.strip().encode()).hexdigest()[:16]
                local = shared_pacer(self.base_url.rstrip("/"), key_hash, limit, budget=budget)
                pacer = SharedPacer(limit, fingerprint=fingerprint, connector=connector, local=local, budget=budget)
                _PACERS[key] = pacer
            return pacer
