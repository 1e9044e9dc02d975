"""The one HTTP client for MTA: sync :class:`MtaClient` and async :class:`AsyncMtaClient` twins on httpx.

Both share connection pooling, timeouts, retries (:mod:`.retry`), pacing (:mod:`.pacing`: ``POST /send``
under the send limit, every other request under MTA's general limit),
``X-Request-Id`` handling and error mapping (:mod:`.errors`); only the I/O calls differ.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from typing import TYPE_CHECKING, Any

import httpx
from tenacity import AsyncRetrying, Retrying

from airflow_provider_mta import __version__
from airflow_provider_mta.backends.mta.errors import error_from_response
from airflow_provider_mta.backends.mta.models import SendRequest, SendResult, VerifyResult
from airflow_provider_mta.core.errors import (
    MtaConfigError,
    MtaConflictError,
    MtaRateLimitError,
    MtaTransportError,
    MtaValidationError,
)
from airflow_provider_mta.core.idempotency import new_request_id
from airflow_provider_mta.core.masking import redact
from airflow_provider_mta.core.pacing import PacerFactory, RateLimit, SendPacer, shared_pacer
from airflow_provider_mta.core.retry import RetryPolicy

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from types import TracebackType

log = logging.getLogger("airflow_provider_mta.client")

DEFAULT_BASE_URL = "https://api.mobile-text-alerts.com/v3"
DEFAULT_TIMEOUT = 30.0
DEFAULT_SEND_RATE_LIMIT = RateLimit(25, 15.0)
DEFAULT_GENERAL_RATE_LIMIT = RateLimit(30, 60.0)
"""MTA's general limit (30 requests a minute per IP) on every request but ``POST /send``."""
SEND_PATH = "/send"
SEND_COST_PATH = "/send/cost"
VERIFY_PATH = "/auth/verify-api-key"
REQUEST_ID_TAG = "requestId"
"""Every send carries its ``X-Request-Id`` in this tag too, so it can be matched afterwards (webhooks,
``/deliveries``) even if MTA does not honour the header's 409 promise (docs/assumptions.md)."""


class _ClientBase:
    """Configuration and the I/O-free halves of every call, shared by the sync and async clients."""

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        send_rate_limit: RateLimit | str | None = DEFAULT_SEND_RATE_LIMIT,
        general_rate_limit: RateLimit | str | None = DEFAULT_GENERAL_RATE_LIMIT,
        pacer: SendPacer | None = None,
        general_pacer: SendPacer | None = None,
        pacer_factory: PacerFactory | None = None,
        send_priority: bool = False,
    ) -> None:
        """``pacer``/``general_pacer`` replace the send/general budget's pacer; otherwise ``pacer_factory``
        (the account-wide limits in Redis, connection extra ``rate_limit_conn_id``) or this process's
        :func:`~.pacing.shared_pacer` paces each budget whose limit is not off."""
        if not api_key or not api_key.strip():
            raise MtaConfigError("no MTA API key given")
        base_url = (base_url or DEFAULT_BASE_URL).strip().rstrip("/")
        if not base_url.startswith(("http://", "https://")):
            raise MtaConfigError(f"MTA base URL {base_url!r} must start with http:// or https://")
        self._api_key = api_key.strip()
        self.base_url = base_url
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        fingerprint = hashlib.sha256(self._api_key.encode()).hexdigest()[:16]
        self.send_pacer = pacer or self._budget_pacer(send_rate_limit, "send", fingerprint, pacer_factory)
        self.general_pacer = general_pacer or self._budget_pacer(
            general_rate_limit, "general", fingerprint, pacer_factory
        )
        self.send_priority = send_priority  # pages: may use the slots each window keeps for them

    def _budget_pacer(
        self, value: RateLimit | str | None, budget: str, fingerprint: str, factory: PacerFactory | None
    ) -> SendPacer | None:
        """The pacer of one budget (None when its limit is off); a malformed limit is an error naming it."""
        try:
            limit = RateLimit.parse(value)
        except MtaConfigError as exc:
            raise MtaConfigError(f"{budget}_rate_limit: {exc}") from None
        if limit is None:
            return None
        if factory is not None:
            return factory(limit, budget=budget)
        return shared_pacer(self.base_url, fingerprint, limit, budget=budget)

    def _pacer(self, budget: str) -> SendPacer | None:
        """``send``: the send pacer; anything else: the general pacer."""
        return self.send_pacer if budget == "send" else self.general_pacer

    def _priority(self, budget: str) -> dict[str, bool]:
        """A page's send may use the slots each send window keeps for pages."""
        return {"priority": True} if budget == "send" and self.send_priority else {}

    def _acquire(self, budget: str) -> None:
        """Wait for the budget's pacer."""
        pacer = self._pacer(budget)
        if pacer is not None:
            pacer.acquire(**self._priority(budget))

    async def _aacquire(self, budget: str) -> None:
        """Async twin of :meth:`_acquire`."""
        pacer = self._pacer(budget)
        if pacer is not None:
            await pacer.aacquire(**self._priority(budget))

    async def _apause(self, error: MtaRateLimitError, budget: str) -> None:
        """A 429's Retry-After pauses the budget for everyone (async: a shared limit's Redis is not blocked on)."""
        pacer = self._pacer(budget)
        if pacer is not None and error.retry_after:
            await pacer.apause_until_delay(error.retry_after)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    def _client_options(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url + "/",
            "timeout": self.timeout,
            "headers": {
                "Authorization": f"Bearer {self._api_key}",
                "Accept": "application/json",
                "User-Agent": f"airflow-provider-mta/{__version__}",
            },
        }

    @staticmethod
    def _credits(envelope: Any) -> int:
        """``data.messageCredits`` of a ``/send/cost`` answer; anything else is an error naming it."""
        data = envelope.get("data") if isinstance(envelope, dict) else None
        credits = data.get("messageCredits") if isinstance(data, dict) else None
        if isinstance(credits, bool) or not isinstance(credits, (int, float)):
            raise MtaTransportError(f"MTA POST {SEND_COST_PATH} answered without a number in data.messageCredits")
        return int(credits)

    @staticmethod
    def _send_payload(request: SendRequest, request_id: str) -> dict[str, Any]:
        """The ``/send`` body with the request id also in ``tags`` (see :data:`REQUEST_ID_TAG`)."""
        payload = request.to_payload()
        tags = dict(payload.get("tags") or {})
        if tags.get(REQUEST_ID_TAG, request_id) != request_id:
            raise MtaValidationError(
                f"tags: {REQUEST_ID_TAG!r} is reserved for the request's X-Request-Id; use another tag name",
                field="tags",
            )
        tags[REQUEST_ID_TAG] = request_id
        payload["tags"] = tags
        return payload

    @staticmethod
    def _request_headers(request_id: str | None) -> dict[str, str]:
        return {"X-Request-Id": request_id} if request_id else {}

    def _describe(self, method: str, path: str) -> str:
        return f"MTA {method} {path}"

    def _transport_error(
        self, method: str, path: str, exc: httpx.TransportError, secrets: tuple[str, ...] = ()
    ) -> MtaTransportError:
        kind = type(exc).__name__
        detail = redact(str(exc), self._api_key, *secrets) or kind
        return MtaTransportError(
            f"could not reach MTA at {self.base_url} ({method} {path}): {kind}: {detail}",
            maybe_sent=not isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)),
        )

    def _parse(
        self,
        response: httpx.Response,
        request_id: str | None,
        *,
        budget: str = "general",
        pause: bool = True,
        secrets: tuple[str, ...] = (),
    ) -> Any:
        """Return the JSON body of a 2xx answer, or raise the mapped error (a 429 pauses ``budget`` if ``pause``).

        The API key and each of ``secrets`` (a webhook secret sent in the body, say) are replaced by ``***``
        in the body before anything reads it, so no error or log can quote them.
        """
        body = response.content
        for secret in (self._api_key, *secrets):
            if secret:
                body = body.replace(secret.encode(), b"***")
        if response.is_success:
            if response.status_code == 204:
                return {}
            try:
                return json.loads(body)
            except ValueError:
                # A 2xx with an empty, truncated or non-JSON body: we cannot know what happened, so the
                # call is retried with the same X-Request-Id (a send that did go through comes back 409).
                what = "an empty body" if not body.strip() else "a body that is not JSON"
                raise MtaTransportError(
                    f"MTA answered HTTP {response.status_code} with {what} (requestId={request_id or 'n/a'})"
                ) from None
        error = error_from_response(
            status_code=response.status_code,
            body=body,
            content_type=response.headers.get("content-type", ""),
            retry_after_header=response.headers.get("retry-after"),
            client_request_id=request_id,
            base_url=self.base_url,
        )
        pacer = self._pacer(budget)
        if pause and isinstance(error, MtaRateLimitError) and pacer and error.retry_after:
            pacer.pause_until_delay(error.retry_after)
        raise error

    @staticmethod
    def _conflict_result(exc: MtaConflictError, request_id: str) -> SendResult:
        log.warning("MTA already accepted X-Request-Id %s (409); nothing was sent again", request_id)
        return SendResult.from_envelope(exc.body, request_id=request_id, already_sent=True)


class MtaClient(_ClientBase):
    """Blocking client. Use as a context manager or call :meth:`close`."""

    def __init__(
        self,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self._sleep = sleep
        self._http = httpx.Client(transport=transport, **self._client_options())

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: dict[str, Any] | None = None,
        request_id: str | None = None,
        budget: str = "general",
        secrets: tuple[str, ...] = (),
    ) -> Any:
        """One logical call with retries, each attempt paced by ``budget`` (``send`` for ``POST /send``);
        the same ``request_id`` is sent on every attempt; ``secrets`` are redacted from any error."""
        retrying = Retrying(
            sleep=self._sleep,
            **self.retry.tenacity_kwargs(what=self._describe(method, path), request_id=request_id),
        )
        return retrying(self._attempt, method, path, json_body, params, request_id, budget, secrets)

    def _attempt(
        self,
        method: str,
        path: str,
        json_body: Any,
        params: dict[str, Any] | None,
        request_id: str | None,
        budget: str,
        secrets: tuple[str, ...] = (),
    ) -> Any:
        self._acquire(budget)
        try:
            response = self._http.request(
                method,
                path.lstrip("/"),
                json=json_body,
                params=params,
                headers=self._request_headers(request_id),
            )
        except httpx.TransportError as exc:
            raise self._transport_error(method, path, exc, secrets) from None
        return self._parse(response, request_id, budget=budget, secrets=secrets)

    def verify_api_key(self) -> VerifyResult:
        """``GET /auth/verify-api-key``: the account behind the key, or :class:`MtaUnauthorizedError`."""
        return VerifyResult.from_envelope(self.request("GET", VERIFY_PATH))

    def send(self, request: SendRequest, *, request_id: str | None = None) -> SendResult:
        """``POST /send``, paced and retried. A 409 for this request id returns ``already_sent=True``."""
        request_id = request_id or new_request_id()
        payload = self._send_payload(request, request_id)
        try:
            envelope = self.request("POST", SEND_PATH, json_body=payload, request_id=request_id, budget="send")
        except MtaConflictError as exc:
            return self._conflict_result(exc, request_id)
        return SendResult.from_envelope(envelope, request_id=request_id)

    def send_cost(self, request: SendRequest) -> int:
        """``POST /send/cost``: the credits MTA would charge for this request (nothing is sent)."""
        return self._credits(self.request("POST", SEND_COST_PATH, json_body=request.to_payload()))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> MtaClient:
        return self

    def __exit__(self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]) -> None:
        self.close()


class AsyncMtaClient(_ClientBase):
    """Async twin of :class:`MtaClient` (for triggers, async notifiers and async tasks)."""

    def __init__(
        self,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self._sleep = sleep
        self._http = httpx.AsyncClient(transport=transport, **self._client_options())

    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: dict[str, Any] | None = None,
        request_id: str | None = None,
        budget: str = "general",
        secrets: tuple[str, ...] = (),
    ) -> Any:
        """One logical call with retries, each attempt paced by ``budget`` (``send`` for ``POST /send``);
        the same ``request_id`` is sent on every attempt; ``secrets`` are redacted from any error."""
        kwargs = self.retry.tenacity_kwargs(what=self._describe(method, path), request_id=request_id)
        if self._sleep is not None:
            kwargs["sleep"] = self._sleep
        retrying = AsyncRetrying(**kwargs)
        return await retrying(self._attempt, method, path, json_body, params, request_id, budget, secrets)

    async def _attempt(
        self,
        method: str,
        path: str,
        json_body: Any,
        params: dict[str, Any] | None,
        request_id: str | None,
        budget: str,
        secrets: tuple[str, ...] = (),
    ) -> Any:
        await self._aacquire(budget)
        try:
            response = await self._http.request(
                method,
                path.lstrip("/"),
                json=json_body,
                params=params,
                headers=self._request_headers(request_id),
            )
        except httpx.TransportError as exc:
            raise self._transport_error(method, path, exc, secrets) from None
        try:
            return self._parse(response, request_id, budget=budget, pause=False, secrets=secrets)
        except MtaRateLimitError as exc:
            await self._apause(exc, budget)
            raise

    async def verify_api_key(self) -> VerifyResult:
        """``GET /auth/verify-api-key`` (async)."""
        return VerifyResult.from_envelope(await self.request("GET", VERIFY_PATH))

    async def send(self, request: SendRequest, *, request_id: str | None = None) -> SendResult:
        """``POST /send`` (async), paced and retried; 409 returns ``already_sent=True``."""
        request_id = request_id or new_request_id()
        payload = self._send_payload(request, request_id)
        try:
            envelope = await self.request("POST", SEND_PATH, json_body=payload, request_id=request_id, budget="send")
        except MtaConflictError as exc:
            return self._conflict_result(exc, request_id)
        return SendResult.from_envelope(envelope, request_id=request_id)

    async def send_cost(self, request: SendRequest) -> int:
        """``POST /send/cost`` (async)."""
        return self._credits(await self.request("POST", SEND_COST_PATH, json_body=request.to_payload()))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncMtaClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
