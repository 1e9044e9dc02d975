"""Send through the first SMS connection that can text now: the primary, then each fallback in order.

Used by :class:`~airflow_provider_mta.notifications.mta.MtaNotifier` and
:class:`~airflow_provider_mta.operators.send.SendSmsOperator` (``fallback_conn_ids=[...]``). The rule of
:mod:`airflow_provider_mta.core.failover` decides: a *refused* request stops at once (another vendor would
refuse it too); a vendor that is *down* hands over and exactly one vendor texts; an *ambiguous* failure
(the vendor may have texted) hands over only with ``failover_on_ambiguous=True`` (pages: twice beats never).
Recipients a per-recipient API reports as ``unknown`` count as an ambiguous failure for those recipients.
Every vendor gets its own request id, derived from the caller's, so a repeated callback or task retry
is deduplicated per vendor as before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_mta.core.errors import MtaConfigError
from airflow_provider_mta.core.failover import PROCESS_BREAKER, CircuitBreaker, FailureKind, classify_failure

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from airflow_provider_mta.core.outgoing import OutgoingRequest, SendResult
    from airflow_provider_mta.hooks.sms import SmsHook

    BuildRequest = Callable[[SmsHook], OutgoingRequest]


@dataclass
class Attempt:
    """One connection's part: sent, refused, down, ambiguous, partial, unusable or skipped."""

    conn_id: str
    provider: str | None
    outcome: str
    reason: str = ""

    def describe(self) -> str:
        who = f"{self.conn_id} ({self.provider})" if self.provider else self.conn_id
        return f"{who}: {self.outcome}" + (f": {self.reason}" if self.reason else "")


@dataclass
class FailoverResult:
    """What happened across the connections: the results of those that texted, and every attempt."""

    results: list[tuple[str, SendResult]] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    error: BaseException | None = None  # the refusal that stopped the send, or the last failure when none texted
    skipped: list[str] = field(default_factory=list)  # connections the circuit breaker held open at the start

    @property
    def sent(self) -> bool:
        return any(r.total_sent or r.already_sent for _, r in self.results)

    @property
    def providers(self) -> list[str]:
        """Which vendors texted (in order)."""
        return [r.provider for _, r in self.results if r.total_sent or r.already_sent]

    @property
    def conn_ids(self) -> list[str]:
        return [c for c, r in self.results if r.total_sent or r.already_sent]

    def reasons(self) -> str:
        return "; ".join(a.describe() for a in self.attempts if a.outcome != "sent")


def fallback_conn_ids_of(value: Any, *, primary: str, owner: str) -> list[str]:
    """Check ``fallback_conn_ids`` at DAG parse: a list of distinct connection ids, none the primary."""
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v.strip() for v in value):
        raise MtaConfigError(f"{owner}: fallback_conn_ids must be a list of SMS connection ids, got {value!r}")
    ids = [v.strip() for v in value]
    if len(set(ids)) != len(ids) or primary in ids:
        raise MtaConfigError(
            f"{owner}: fallback_conn_ids {ids!r} repeats a connection or names the primary {primary!r}; "
            "list each fallback once"
        )
    return ids


class FailoverSender:
    """Try ``conn_ids`` in order (vendors the breaker holds open last) until one texts every recipient."""

    def __init__(
        self,
        *,
        conn_ids: Sequence[str],
        hook_params: dict[str, Any] | None = None,
        failover_on_ambiguous: bool,
        breaker: CircuitBreaker = PROCESS_BREAKER,
        get_hook: Callable[..., SmsHook] | None = None,
        known_hooks: dict[str, SmsHook] | None = None,
    ) -> None:
        self.conn_ids = list(conn_ids)
        self.hook_params = hook_params or {}
        self.failover_on_ambiguous = failover_on_ambiguous
        self.breaker = breaker
        self._get_hook = get_hook
        self._hooks: dict[str, SmsHook | BaseException] = dict(known_hooks or {})

    def hook(self, conn_id: str) -> SmsHook:
        """The hook of ``conn_id`` (looked up once); a missing or non-SMS connection raises MtaConfigError."""
        cached = self._hooks.get(conn_id)
        if isinstance(cached, BaseException):
            raise cached
        if cached is not None:
            return cached
        try:
            if self._get_hook is not None:
                hook = self._get_hook(conn_id, **self.hook_params)
            else:
                from airflow_provider_mta.hooks.sms import get_sms_hook

                hook = get_sms_hook(conn_id, **self.hook_params)
        except MtaConfigError as exc:
            self._hooks[conn_id] = exc
            raise
        except Exception as exc:  # e.g. the connection does not exist
            error = MtaConfigError(f"SMS connection {conn_id!r} cannot be used: {type(exc).__name__}: {exc}")
            self._hooks[conn_id] = error
            raise error from None
        self._hooks[conn_id] = hook
        return hook

    def prepare(self, build: BuildRequest) -> dict[str, OutgoingRequest | BaseException]:
        """Build each connection's request before anything is sent; a connection that cannot is kept as its error."""
        requests: dict[str, OutgoingRequest | BaseException] = {}
        for conn_id in self.conn_ids:
            try:
                requests[conn_id] = build(self.hook(conn_id))
            except Exception as exc:
                requests[conn_id] = exc
        return requests

    def send(self, requests: dict[str, OutgoingRequest | BaseException], *, request_id: str) -> FailoverResult:
        """Send through the connections in turn (sync)."""
        outcome, order = self._start(requests)
        pending: set[str] | None = None  # recipients still to text; None = all of them
        for conn_id in order:
            request = self._request_for(conn_id, requests, pending, outcome)
            if request is None:
                continue
            try:
                result = self.hook(conn_id).send(request, request_id=self._request_id(request_id, conn_id))
            except Exception as exc:
                if self._failed(conn_id, exc, outcome):
                    break
                continue
            pending = self._sent(conn_id, result, request, outcome)
            if not pending:
                break
        return self._finish(outcome, order)

    async def asend(self, requests: dict[str, OutgoingRequest | BaseException], *, request_id: str) -> FailoverResult:
        """Async twin of :meth:`send`."""
        outcome, order = self._start(requests)
        pending: set[str] | None = None
        for conn_id in order:
            request = self._request_for(conn_id, requests, pending, outcome)
            if request is None:
                continue
            try:
                result = await self.hook(conn_id).asend(request, request_id=self._request_id(request_id, conn_id))
            except Exception as exc:
                if self._failed(conn_id, exc, outcome):
                    break
                continue
            pending = self._sent(conn_id, result, request, outcome)
            if not pending:
                break
        return self._finish(outcome, order)

    # -- the I/O-free halves ----------------------------------------------------------------------

    def _start(self, requests: dict[str, OutgoingRequest | BaseException]) -> tuple[FailoverResult, list[str]]:
        """The order to try; none when the primary's own request is refused (no vendor would take it).

        Per-send state lives in the returned result, never on the sender (a digest thread shares it).
        """
        outcome = FailoverResult()
        primary = self.conn_ids[0]
        built = requests.get(primary)
        if isinstance(built, BaseException) and classify_failure(built) is FailureKind.REFUSED:
            outcome.attempts.append(Attempt(primary, self._provider(primary), "refused", str(built)))
            outcome.error = built
            return outcome, []
        outcome.skipped = [c for c in self.conn_ids if self.breaker.is_open(c)]
        return outcome, self.breaker.order(self.conn_ids)

    def _finish(self, outcome: FailoverResult, order: list[str]) -> FailoverResult:
        tried = {a.conn_id for a in outcome.attempts}
        if not outcome.sent:
            return outcome  # every vendor was tried, or a refusal stopped the send: nothing was skipped
        for conn_id in order:
            if conn_id not in tried and conn_id in outcome.skipped:
                outcome.attempts.append(
                    Attempt(conn_id, self._provider(conn_id), "skipped", "it failed moments ago (circuit open)")
                )
        return outcome

    def _request_id(self, request_id: str, conn_id: str) -> str:
        if conn_id == self.conn_ids[0]:
            return request_id
        from airflow_provider_mta.core.idempotency import derive_request_id

        return derive_request_id("failover", request_id, conn_id)

    def _request_for(
        self,
        conn_id: str,
        requests: dict[str, OutgoingRequest | BaseException],
        pending: set[str] | None,
        outcome: FailoverResult,
    ) -> OutgoingRequest | None:
        """This connection's request, cut to the recipients still pending; None (recorded) if it has none."""
        request = requests.get(conn_id)
        if isinstance(request, BaseException) or request is None:
            error = request or MtaConfigError(f"no request was built for connection {conn_id!r}")
            outcome.attempts.append(Attempt(conn_id, self._provider(conn_id), "unusable", str(error)))
            if outcome.error is None:
                outcome.error = error
            return None
        if pending is not None:
            keep = [r for r in request.subscribers or [] if r in pending]
            request = request.model_copy(
                update={
                    "subscribers": keep,
                    "properties": {k: v for k, v in (request.properties or {}).items() if k in pending} or None,
                }
            )
        return request

    def _provider(self, conn_id: str) -> str | None:
        hook = self._hooks.get(conn_id)
        return None if hook is None or isinstance(hook, BaseException) else hook.provider

    def _failed(self, conn_id: str, exc: BaseException, outcome: FailoverResult) -> bool:
        """Record a vendor's failure; True when the send must stop (a refusal, or ambiguity not to be risked)."""
        kind = classify_failure(exc)
        outcome.attempts.append(Attempt(conn_id, self._provider(conn_id), kind.value, str(exc)))
        outcome.error = exc
        if kind is FailureKind.REFUSED:
            return True
        self.breaker.trip(conn_id)
        return kind is FailureKind.AMBIGUOUS and not self.failover_on_ambiguous

    def _sent(self, conn_id: str, result: SendResult, request: OutgoingRequest, outcome: FailoverResult) -> set[str]:
        """Record a vendor's result; return the recipients it may not have texted (ambiguous) when failing over."""
        from airflow_provider_mta.core.masking import mask_recipient

        self.breaker.reset(conn_id)
        outcome.results.append((conn_id, result))
        if not result.unknown:
            if result.total_sent or result.already_sent or not (result.failures or result.opted_out):
                outcome.attempts.append(Attempt(conn_id, result.provider, "sent"))
            else:  # a per-recipient API refused every recipient (a 4xx about them, or STOP)
                refused = [f"{f.get('recipient')}: {f.get('reason')}" for f in result.failures]
                refused += [f"{who}: opted out (STOP)" for who in result.opted_out]
                outcome.attempts.append(Attempt(conn_id, result.provider, "refused", "; ".join(refused)))
            return set()
        unknown = set(result.unknown)
        left = {r for r in request.subscribers or [] if mask_recipient(r) in unknown}
        outcome.attempts.append(
            Attempt(conn_id, result.provider, "partial", f"{len(left)} recipient(s) may or may not have been texted")
        )
        if not self.failover_on_ambiguous:
            return set()
        self.breaker.trip(conn_id)
        return left
