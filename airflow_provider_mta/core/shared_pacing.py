"""An account-wide limit shared through Redis: every process that calls one account's API draws from it.

Each budget of the account (:data:`~.pacing.BUDGETS`: ``send`` for ``POST /send``, ``general`` for every
other request) has its own keys, ``airflow_provider_mta:{budget}:...``; the send budget is described below.

The limit is a sliding window log, the algorithm the per-process :class:`~.pacing.Pacer` uses, kept
in a Redis sorted set per account and checked by one Lua script (atomic, on Redis's own clock so
the workers' clocks do not matter): a send may start when fewer than ``cap`` sends started in the
last ``seconds + margin`` seconds. A server that counts N sends per window of S seconds from the
first one (MTA, the sandbox's ``FixedWindowLimiter``) or per rolling window never sees more than N
in S seconds, since any N + 1 starts the log allows span more than S.

* **Keys** (``{fingerprint}`` is :func:`~.pacing.account_fingerprint`, sha256 of base URL and API
  key, never the key; the braces keep both keys in one Redis Cluster slot):
  ``airflow_provider_mta:send:{fingerprint}:log`` (the log, expires one window after the last send) and
  ``airflow_provider_mta:send:{fingerprint}:paused`` (Redis time in ms until which nobody sends,
  written by any worker that got a 429 with Retry-After; expires when the pause ends).
* **Priority**: a priority send (a page) marks ``airflow_provider_mta:send:{fingerprint}:pages`` for one
  window; while it is marked, ordinary sends stop at ``N - reserve`` per window and priority sends at
  ``N``, so a page takes the next free slot instead of queueing behind a batch's workers. With no page
  about, ordinary sends get all ``N`` (``reserve`` is :attr:`~.pacing.RateLimit.priority_reserve`).
* **Redis down** (refused, timed out, any ``RedisError``): one WARNING, then this process paces
  alone with its local :class:`~.pacing.Pacer` (the same limit and reserve, which has also recorded
  every send Redis granted here, so it is never faster than the limit per process) and tries Redis
  again after ``retry_after`` seconds (an INFO line when it answers again).
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
import uuid
import weakref
from typing import TYPE_CHECKING, Any, Protocol

from airflow_provider_mta.core.pacing import Pacer, RateLimit

if TYPE_CHECKING:
    from collections.abc import Callable

log = logging.getLogger("airflow_provider_mta.rate_limit")

KEY_ROOT = "airflow_provider_mta"
KEY_PREFIX = f"{KEY_ROOT}:send"

# KEYS: log, paused, pages. ARGV: window (ms), limit, reserve, member, priority (1/0).
# Returns 0 (granted: recorded) or the ms to wait.
ACQUIRE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local cap = tonumber(ARGV[2])
if ARGV[5] == '1' then
  redis.call('SET', KEYS[3], '1', 'PX', window)
elseif redis.call('EXISTS', KEYS[3]) == 1 then
  cap = cap - tonumber(ARGV[3])
end
local paused = tonumber(redis.call('GET', KEYS[2]) or '0')
if paused > now then
  return paused - now
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count < cap then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  if redis.call('PTTL', KEYS[1]) < window then
    redis.call('PEXPIRE', KEYS[1], window)
  end
  return 0
end
local blocking = redis.call('ZRANGE', KEYS[1], count - cap, count - cap, 'WITHSCORES')
return math.max(1, tonumber(blocking[2]) + window - now)
"""

# KEYS: paused. ARGV: delay (ms). Moves "paused until" later, never earlier. Returns the pause's end (ms).
PAUSE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local delay = tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if now + delay > current then
  redis.call('SET', KEYS[1], now + delay, 'PX', delay)
  return now + delay
end
return current
"""


class RedisConnector(Protocol):
    """Where the Redis clients come from (the hook layer reads an Airflow ``redis`` connection)."""

    description: str

    def sync_client(self) -> Any:
        """A ``redis.Redis`` (built once)."""

    async def async_client(self) -> Any:
        """A ``redis.asyncio.Redis`` for the running event loop."""


def redis_errors() -> tuple[type[BaseException], ...]:
    """What counts as "Redis is unreachable": any RedisError, and OS-level socket errors."""
    from redis.exceptions import RedisError

    return (RedisError, OSError)


class SharedPacer:
    """The account-wide limit of one ``budget`` in Redis, with the per-process :class:`Pacer` as its fallback.

    Has the :class:`Pacer` interface the clients call: ``acquire`` / ``aacquire`` (``priority=True``
    for pages) and ``pause_until_delay`` / ``apause_until_delay`` (a 429's Retry-After, for everyone).
    """

    def __init__(
        self,
        limit: RateLimit,
        *,
        fingerprint: str,
        connector: RedisConnector,
        local: Pacer | None = None,
        margin: float = 0.05,
        retry_after: float = 30.0,
        budget: str = "send",
        key_prefix: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        key_prefix = key_prefix or f"{KEY_ROOT}:{budget}"
        self.budget = budget
        self.limit = limit
        self.margin = margin
        self.reserve_slots = limit.priority_reserve
        self.local = local or Pacer(limit, margin=margin, reserve=self.reserve_slots)
        self.connector = connector
        self.retry_after = retry_after
        self.log_key = f"{key_prefix}:{{{fingerprint}}}:log"
        self.paused_key = f"{key_prefix}:{{{fingerprint}}}:paused"
        self.pages_key = f"{key_prefix}:{{{fingerprint}}}:pages"
        self._window_ms = max(1, round((limit.seconds + margin) * 1000))
        self._clock = clock
        self._lock = threading.Lock()
        self._down_until = 0.0
        self._down = False
        self._scripts: Any = None
        self._ascripts: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()

    # -- state ----------------------------------------------------------------------------------

    @property
    def using_redis(self) -> bool:
        """False while Redis is held for unreachable (the local pacer paces this process alone)."""
        with self._lock:
            return self._down_until <= self._clock()

    def _failed(self, exc: BaseException) -> None:
        with self._lock:
            self._down_until = self._clock() + self.retry_after
            self._scripts = None  # the next try asks the connector afresh
            self._ascripts.clear()
            first = not self._down
            self._down = True
        if first:
            log.warning(
                "Redis for the shared %s limit (%s) is unreachable (%s: %s): pacing this process alone at %s "
                "(never faster than the limit per process) and trying Redis again in %gs",
                self.budget,
                self.connector.description,
                type(exc).__name__,
                exc,
                self.limit,
                self.retry_after,
            )
        else:
            log.debug("Redis for the shared %s limit is still unreachable: %s", self.budget, exc)

    def _answered(self) -> None:
        with self._lock:
            was_down, self._down = self._down, False
        if was_down:
            log.info(
                "Redis for the shared %s limit (%s) answers again: sharing the limit",
                self.budget,
                self.connector.description,
            )

    def _args(self, priority: bool) -> list[Any]:
        return [self._window_ms, self.limit.requests, self.reserve_slots, uuid.uuid4().hex, int(priority)]

    @property
    def _keys(self) -> list[str]:
        return [self.log_key, self.paused_key, self.pages_key]

    @staticmethod
    def _jitter() -> float:
        """A few ms, so workers that waited for the same slot do not all ask at the same instant."""
        return random.uniform(0.0, 0.01)

    # -- sync -----------------------------------------------------------------------------------

    def _sync_scripts(self) -> tuple[Any, Any]:
        if self._scripts is None:
            client = self.connector.sync_client()
            self._scripts = (client.register_script(ACQUIRE_LUA), client.register_script(PAUSE_LUA))
        return self._scripts  # type: ignore[no-any-return]

    def _try(self, priority: bool) -> float | None:
        """Seconds to wait before asking again (0: granted), or None when Redis did not answer."""
        try:
            acquire, _ = self._sync_scripts()
            wait_ms = int(acquire(keys=self._keys, args=self._args(priority)))
        except redis_errors() as exc:
            self._failed(exc)
            return None
        self._answered()
        return wait_ms / 1000

    def acquire(self, *, priority: bool = False) -> float:
        """Wait (blocking) until the account may send; returns the seconds waited."""
        waited = 0.0
        while self.using_redis:
            wait = self._try(priority)
            if wait is None:
                break
            if wait <= 0:
                self.local.note()
                return waited
            wait += self._jitter()
            time.sleep(wait)
            waited += wait
        return waited + self.local.acquire(priority=priority)

    def pause_until_delay(self, delay: float) -> None:
        """Hold every worker of the account for ``delay`` seconds (a 429's Retry-After)."""
        self.local.pause_until_delay(delay)
        if not self.using_redis:
            return
        try:
            _, pause = self._sync_scripts()
            pause(keys=[self.paused_key], args=[max(1, round(delay * 1000))])
        except redis_errors() as exc:
            self._failed(exc)
            return
        self._answered()

    # -- async ----------------------------------------------------------------------------------

    async def _async_scripts(self) -> tuple[Any, Any]:
        loop = asyncio.get_running_loop()
        scripts = self._ascripts.get(loop)
        if scripts is None:
            client = await self.connector.async_client()
            scripts = self._ascripts[loop] = (client.register_script(ACQUIRE_LUA), client.register_script(PAUSE_LUA))
        return scripts  # type: ignore[no-any-return]

    async def _atry(self, priority: bool) -> float | None:
        try:
            acquire, _ = await self._async_scripts()
            wait_ms = int(await acquire(keys=self._keys, args=self._args(priority)))
        except redis_errors() as exc:
            self._failed(exc)
            return None
        self._answered()
        return wait_ms / 1000

    async def aacquire(self, *, priority: bool = False) -> float:
        """Async twin of :meth:`acquire`."""
        waited = 0.0
        while self.using_redis:
            wait = await self._atry(priority)
            if wait is None:
                break
            if wait <= 0:
                self.local.note()
                return waited
            wait += self._jitter()
            await asyncio.sleep(wait)
            waited += wait
        return waited + await self.local.aacquire(priority=priority)

    async def apause_until_delay(self, delay: float) -> None:
        """Async twin of :meth:`pause_until_delay`."""
        self.local.pause_until_delay(delay)
        if not self.using_redis:
            return
        try:
            _, pause = await self._async_scripts()
            await pause(keys=[self.paused_key], args=[max(1, round(delay * 1000))])
        except redis_errors() as exc:
            self._failed(exc)
            return
        self._answered()
