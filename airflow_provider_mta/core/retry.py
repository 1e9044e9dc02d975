"""Retry policy for MTA calls (tenacity): 429, 5xx and transport errors, backoff with jitter, Retry-After."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from tenacity import RetryCallState, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from airflow_provider_mta.core.errors import (
    MtaAmbiguousSendError,
    MtaRateLimitError,
    MtaServerError,
    MtaTransportError,
)

log = logging.getLogger("airflow_provider_mta.client")


def is_retryable(exc: BaseException) -> bool:
    """429, 5xx and network failures are retried; every other 4xx (and 409) and an ambiguous send are final."""
    if isinstance(exc, MtaAmbiguousSendError):
        return False
    return isinstance(exc, (MtaRateLimitError, MtaServerError, MtaTransportError))


@dataclass(frozen=True)
class RetryPolicy:
    """``max_retries`` retries after the first try; exponential backoff with jitter between them.

    A ``Retry-After`` from MTA replaces the backoff for that wait, capped at ``max_retry_after``.
    """

    max_retries: int = 5
    backoff_initial: float = 1.0
    backoff_max: float = 30.0
    max_retry_after: float = 120.0

    def wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return float(min(retry_after, self.max_retry_after))
        return float(wait_exponential_jitter(initial=self.backoff_initial, max=self.backoff_max)(state))

    def tenacity_kwargs(self, *, what: str, request_id: str | None) -> dict[str, Any]:
        """Keyword arguments for ``tenacity.Retrying``/``AsyncRetrying`` (reraise the last error)."""

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            wait = state.next_action.sleep if state.next_action else 0.0
            log.warning(
                "%s failed (%s); retry %d/%d in %.1fs with the same X-Request-Id %s",
                what,
                exc,
                state.attempt_number,
                self.max_retries,
                wait,
                request_id or "-",
            )

        return {
            "stop": stop_after_attempt(self.max_retries + 1),
            "wait": self.wait,
            "retry": retry_if_exception(is_retryable),
            "reraise": True,
            "before_sleep": before_sleep,
        }
