"""Failover rules for pages and single sends: which failures move to the next SMS API, and a circuit breaker.

Pure Python (no Airflow, no I/O). The rule, for one vendor's failure:

- **refused** (a validation error, a 400/422 about the content, a 409 conflict, a recipient who texted
  STOP): the request itself is wrong; another vendor would refuse it too. No failover.
- **down** (could not connect, 401/403/402, 404 on the API's own path, 429 beyond the retry budget, a
  configuration error): this vendor cannot text now and did not. Fail over; exactly one vendor texts.
- **ambiguous** (a timeout or dropped answer after the request left, a 5xx after retries,
  :class:`MtaAmbiguousSendError`): this vendor cannot text now, and may have. Fail over only when the
  caller prefers twice to never (pages do; ``SendSmsOperator`` does only with ``failover_on_ambiguous``).

A vendor that was *down* or *ambiguous* is skipped by later sends for a cool-down (:class:`CircuitBreaker`,
shared between processes through :class:`SharedBreakerState`), so a storm of pages during an outage does
not wait for its timeouts each time.
"""

from __future__ import annotations

import contextlib
import enum
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from airflow_provider_mta.core.errors import (
    MtaAmbiguousSendError,
    MtaApiError,
    MtaBadRequestError,
    MtaConfigError,
    MtaConflictError,
    MtaOptedOutError,
    MtaServerError,
    MtaTransportError,
    MtaValidationError,
)

DEFAULT_BREAKER_S = 120.0


class FailureKind(str, enum.Enum):
    """What one vendor's failure means for the next vendor."""

    REFUSED = "refused"
    DOWN = "down"
    AMBIGUOUS = "ambiguous"


def classify_failure(exc: BaseException) -> FailureKind:
    """Sort an exception from a send into refused / down / ambiguous (see the module docstring)."""
    if isinstance(exc, MtaAmbiguousSendError):
        return FailureKind.AMBIGUOUS
    if isinstance(exc, MtaTransportError):
        return FailureKind.AMBIGUOUS if exc.maybe_sent else FailureKind.DOWN
    if isinstance(exc, MtaServerError):
        return FailureKind.AMBIGUOUS
    if isinstance(exc, (MtaValidationError, MtaBadRequestError, MtaOptedOutError, MtaConflictError)):
        return FailureKind.REFUSED
    if isinstance(exc, MtaApiError):
        return FailureKind.REFUSED if exc.status_code == 422 else FailureKind.DOWN
    if isinstance(exc, MtaConfigError):
        return FailureKind.DOWN
    return FailureKind.DOWN


class SharedBreakerState(Protocol):
    """Where breakers of several processes keep "skip this connection until" (Unix time), e.g. a SQL table."""

    def open_until(self, conn_id: str) -> float | None: ...

    def set_open_until(self, conn_id: str, until: float | None) -> None: ...


@dataclass
class CircuitBreaker:
    """Remembers, per connection id, until when a vendor that just failed is skipped. Thread-safe.

    With ``shared``, every process that uses the same state sees a trip (Airflow runs each task, and so
    each failure callback, in a process of its own); if the shared state fails, this process's memory
    still holds the trip.
    """

    open_for_s: float = DEFAULT_BREAKER_S
    clock: Callable[[], float] = time.time
    shared: SharedBreakerState | None = None
    _open_until: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def trip(self, conn_id: str, *, open_for_s: float | None = None) -> None:
        """Skip ``conn_id`` for the cool-down from now."""
        until = self.clock() + (self.open_for_s if open_for_s is None else open_for_s)
        with self._lock:
            self._open_until[conn_id] = until
        self._share(conn_id, until)

    def reset(self, conn_id: str) -> None:
        """``conn_id`` answered: use it again at once."""
        with self._lock:
            self._open_until.pop(conn_id, None)
        self._share(conn_id, None)

    def is_open(self, conn_id: str) -> bool:
        """True while ``conn_id`` is being skipped."""
        until = self._shared_until(conn_id)
        with self._lock:
            local = self._open_until.get(conn_id)
            if until is None or (local is not None and local > until):
                until = local
            if until is None:
                return False
            if self.clock() >= until:
                self._open_until.pop(conn_id, None)
                return False
            return True

    def order(self, conn_ids: list[str]) -> list[str]:
        """The connections to try, in order: closed ones first, then (as a last resort) the skipped ones.

        A vendor is never skipped for good: when every vendor is open they are all still tried, in order.
        """
        closed = [c for c in conn_ids if not self.is_open(c)]
        return closed + [c for c in conn_ids if c not in closed]

    def _share(self, conn_id: str, until: float | None) -> None:
        if self.shared is None:
            return
        with contextlib.suppress(Exception):
            self.shared.set_open_until(conn_id, until)

    def _shared_until(self, conn_id: str) -> float | None:
        if self.shared is None:
            return None
        try:
            return self.shared.open_until(conn_id)
        except Exception:
            return None


PROCESS_BREAKER = CircuitBreaker()
"""The breaker every notifier and operator in this process shares."""
