"""The HTTP client for Telnyx (API v2): sync :class:`TelnyxClient` and async :class:`AsyncTelnyxClient` on httpx.

Both share configuration, ``POST /messages`` pacing (:mod:`core.pacing`), error mapping (:mod:`.errors`) and
the retry rule below; only the I/O calls differ.

Why ``create_message`` retries so little: Telnyx documents ``Idempotency-Key`` in general (replayed for 24 h,
a changed body answers 422), but the ``POST /messages`` reference does not declare it, so a repeat with the
same key may well send a second text. The official SDK (``telnyx`` on PyPI) nevertheless retries
``POST /messages`` on 408/409/429/5xx, which can text a recipient twice. Here a send is retried only when
Telnyx cannot have processed it: a 429 (waiting ``Retry-After``, else ``x-ratelimit-reset``) and a failure
to connect (``ConnectError``, ``ConnectTimeout``, ``PoolTimeout``: nothing was sent). A read timeout, a
connection dropped after the request was written, a 5xx, or a 2xx without a message id is **ambiguous**:
it raises :class:`MtaAmbiguousSendError` at once. The key is still sent on every attempt, so that if Telnyx
does honour it a repeat is answered from its record (``Idempotent-Replayed: true`` -> ``replayed=True``).
GETs are retried on 429, 5xx and network failures by the :class:`RetryPolicy`.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx
from tenacity import AsyncRetrying, Retrying

from airflow_provider_mta import __version__
from airflow_provider_mta.backends.telnyx.errors import API, error_from_response
from airflow_provider_mta.backends.telnyx.models import TelnyxBalance, TelnyxSent, first_recipient, message_id_of
from airflow_provider_mta.backends.telnyx.statuses import classify
from airflow_provider_mta.core.delivery import DeliveryRecord
from airflow_provider_mta.core.errors import (
    MtaAmbiguousSendError,
    MtaConfigError,
    MtaRateLimitError,
    MtaServerError,
    MtaTransportError,
    MtaValidationError,
)
from airflow_provider_mta.core.masking import mask_recipient, redact
from airflow_provider_mta.core.pacing import Pacer, RateLimit, shared_pacer
from airflow_provider_mta.core.retry import RetryPolicy

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from types import TracebackType

DEFAULT_BASE_URL = "https://api.telnyx.com/v2"
DEFAULT_TIMEOUT = 30.0
MESSAGES_PATH = "/messages"
BALANCE_PATH = "/balance"
IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
IDEMPOTENCY_KEY_RE = re.compile(r"^[A-Za-z0-9_:-]{1,255}$")
"""Telnyx's documented key format: 1 to 255 letters, digits, ``-``, ``_`` or ``:``."""
NOT_SENT_ERRORS: tuple[type[httpx.TransportError], ...] = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
"""Transport failures before any byte of the request left: a send that failed so is safe to retry."""


class _ClientBase:
    """Configuration and the I/O-free halves of every call, shared by the sync and async clients."""

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        send_rate_limit: RateLimit | str | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        if not api_key or not api_key.strip():
            raise MtaConfigError("no Telnyx API key given")
        base_url = (base_url or DEFAULT_BASE_URL).strip().rstrip("/")
        if not base_url.startswith(("http://", "https://")):
            raise MtaConfigError(f"Telnyx base URL {base_url!r} must start with http:// or https://")
        self._api_key = api_key.strip()
        self.base_url = base_url
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        limit = RateLimit.parse(send_rate_limit)
        fingerprint = hashlib.sha256(self._api_key.encode()).hexdigest()[:16]
        self.send_pacer = pacer or (shared_pacer(base_url, fingerprint, limit) if limit else None)

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
    def _check_key(idempotency_key: str) -> None:
        if not isinstance(idempotency_key, str) or not IDEMPOTENCY_KEY_RE.match(idempotency_key):
            raise MtaValidationError(
                "idempotency_key must be 1 to 255 letters, digits, '-', '_' or ':' (Telnyx's key format)",
                field="idempotency_key",
            )

    @staticmethod
    def _message_path(message_id: str) -> str:
        if not isinstance(message_id, str) or not message_id.strip():
            raise MtaValidationError("message_id must be a non-empty Telnyx message id", field="message_id")
        return f"{MESSAGES_PATH}/{quote(message_id.strip(), safe='')}"

    def _transport_error(self, what: str, exc: httpx.TransportError) -> MtaTransportError:
        kind = type(exc).__name__
        detail = redact(str(exc), self._api_key) or kind
        return MtaTransportError(
            f"could not reach {API} at {self.base_url} ({what}): {kind}: {detail}",
            maybe_sent=not isinstance(exc, NOT_SENT_ERRORS),
        )

    @staticmethod
    def _ambiguous(payload: dict[str, Any], idempotency_key: str, cause: str) -> MtaAmbiguousSendError:
        to = payload.get("to")
        recipient = mask_recipient(to) if to is not None else "the recipient"
        return MtaAmbiguousSendError(
            f"{API} POST {MESSAGES_PATH} to {recipient} (Idempotency-Key {idempotency_key}): {cause}. "
            f"{recipient} may or may not have been texted; not retried, so as not to text twice. "
            "Check the message's status (or Telnyx's webhooks) before sending it again."
        )

    def _send_transport_error(
        self, payload: dict[str, Any], idempotency_key: str, exc: httpx.TransportError
    ) -> MtaTransportError:
        """A failure to connect is retryable (nothing was sent); any later failure is ambiguous."""
        what = f"POST {MESSAGES_PATH}"
        if isinstance(exc, NOT_SENT_ERRORS):
            return self._transport_error(what, exc)
        detail = redact(str(exc), self._api_key)
        cause = f"{type(exc).__name__}" + (f" ({detail})" if detail else "") + " after the request was sent"
        return self._ambiguous(payload, idempotency_key, cause)

    def _sent(self, response: httpx.Response, payload: dict[str, Any], idempotency_key: str) -> TelnyxSent:
        """The :class:`TelnyxSent` of a send's answer; a 5xx or an unreadable 2xx is ambiguous, 4xx mapped."""
        what = f"POST {MESSAGES_PATH}"
        if response.is_success:
            try:
                envelope = json.loads(response.content) if response.content.strip() else None
            except ValueError:
                envelope = None
            replayed = response.headers.get(REPLAYED_HEADER, "").strip().lower() == "true"
            sent = TelnyxSent.from_envelope(envelope, replayed=replayed)
            if sent is None:
                raise self._ambiguous(
                    payload, idempotency_key, f"HTTP {response.status_code} without a message id in data.id"
                )
            return sent
        error = error_from_response(response, what=what)
        if isinstance(error, MtaServerError):
            raise self._ambiguous(payload, idempotency_key, str(error)) from error
        self._pause_on_rate_limit(error)
        raise error

    def _json(self, response: httpx.Response, what: str) -> Any:
        """The JSON body of a 2xx GET answer (an unreadable one is a retryable transport error)."""
        if response.is_success:
            try:
                return json.loads(response.content)
            except ValueError:
                raise MtaTransportError(
                    f"{API} {what} answered HTTP {response.status_code} with a body that is not JSON"
                ) from None
        raise error_from_response(response, what=what)

    def _pause_on_rate_limit(self, error: Exception) -> None:
        if isinstance(error, MtaRateLimitError) and self.send_pacer and error.retry_after:
            self.send_pacer.pause_until_delay(error.retry_after)

    def _send_retry_kwargs(self, idempotency_key: str) -> dict[str, Any]:
        """The policy's own retry test: a send attempt only ever raises a 429, a transport error that sent
        nothing, a final 4xx, or :class:`MtaAmbiguousSendError` (which ``is_retryable`` refuses)."""
        return self.retry.tenacity_kwargs(what=f"{API} POST {MESSAGES_PATH}", request_id=idempotency_key)

    @staticmethod
    def _record(envelope: Any, message_id: str) -> DeliveryRecord:
        """``GET /messages/{id}`` as the neutral record: the id as ``outbound_id``, recipient masked."""
        number, status = first_recipient(envelope)
        return DeliveryRecord(
            outbound_id=message_id_of(envelope) or message_id,
            message_id=None,
            recipient=mask_recipient(number) if number is not None else "***",
            status=classify(status),
        )


class TelnyxClient(_ClientBase):
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

    def _get(self, path: str) -> Any:
        what = f"GET {path}"
        retrying = Retrying(sleep=self._sleep, **self.retry.tenacity_kwargs(what=f"{API} {what}", request_id=None))
        return retrying(self._get_attempt, path, what)

    def _get_attempt(self, path: str, what: str) -> Any:
        try:
            response = self._http.get(path.lstrip("/"))
        except httpx.TransportError as exc:
            raise self._transport_error(what, exc) from None
        return self._json(response, what)

    def create_message(self, payload: dict[str, Any], *, idempotency_key: str) -> TelnyxSent:
        """``POST /messages`` with ``Idempotency-Key``, paced; retried only on 429 and failures to connect.

        Raises :class:`MtaAmbiguousSendError` when the text may have gone out (never retried), the mapped
        :class:`MtaApiError` on a 4xx (:class:`MtaOptedOutError` for a number that texted STOP).
        """
        self._check_key(idempotency_key)
        retrying = Retrying(sleep=self._sleep, **self._send_retry_kwargs(idempotency_key))
        return retrying(self._send_attempt, payload, idempotency_key)

    def _send_attempt(self, payload: dict[str, Any], idempotency_key: str) -> TelnyxSent:
        if self.send_pacer:
            self.send_pacer.acquire()
        try:
            response = self._http.post(
                MESSAGES_PATH.lstrip("/"), json=payload, headers={IDEMPOTENCY_HEADER: idempotency_key}
            )
        except httpx.TransportError as exc:
            raise self._send_transport_error(payload, idempotency_key, exc) from None
        return self._sent(response, payload, idempotency_key)

    def get_message(self, message_id: str) -> DeliveryRecord:
        """``GET /messages/{id}`` (Telnyx keeps it 10 days) as a :class:`DeliveryRecord`."""
        return self._record(self._get(self._message_path(message_id)), message_id)

    def get_balance(self) -> TelnyxBalance:
        """``GET /balance``: a cheap authenticated call (the connection's Test button)."""
        return TelnyxBalance.from_envelope(self._get(BALANCE_PATH))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> TelnyxClient:
        return self

    def __exit__(self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]) -> None:
        self.close()


class AsyncTelnyxClient(_ClientBase):
    """Async twin of :class:`TelnyxClient` (for triggers, async notifiers and async tasks)."""

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

    def _retrying(self, kwargs: dict[str, Any]) -> AsyncRetrying:
        if self._sleep is not None:
            kwargs["sleep"] = self._sleep
        return AsyncRetrying(**kwargs)

    async def _get(self, path: str) -> Any:
        what = f"GET {path}"
        retrying = self._retrying(self.retry.tenacity_kwargs(what=f"{API} {what}", request_id=None))
        return await retrying(self._get_attempt, path, what)

    async def _get_attempt(self, path: str, what: str) -> Any:
        try:
            response = await self._http.get(path.lstrip("/"))
        except httpx.TransportError as exc:
            raise self._transport_error(what, exc) from None
        return self._json(response, what)

    async def create_message(self, payload: dict[str, Any], *, idempotency_key: str) -> TelnyxSent:
        """``POST /messages`` (async); the same retry rule as :meth:`TelnyxClient.create_message`."""
        self._check_key(idempotency_key)
        retrying = self._retrying(self._send_retry_kwargs(idempotency_key))
        return await retrying(self._send_attempt, payload, idempotency_key)

    async def _send_attempt(self, payload: dict[str, Any], idempotency_key: str) -> TelnyxSent:
        if self.send_pacer:
            await self.send_pacer.aacquire()
        try:
            response = await self._http.post(
                MESSAGES_PATH.lstrip("/"), json=payload, headers={IDEMPOTENCY_HEADER: idempotency_key}
            )
        except httpx.TransportError as exc:
            raise self._send_transport_error(payload, idempotency_key, exc) from None
        return self._sent(response, payload, idempotency_key)

    async def get_message(self, message_id: str) -> DeliveryRecord:
        """``GET /messages/{id}`` (async)."""
        return self._record(await self._get(self._message_path(message_id)), message_id)

    async def get_balance(self) -> TelnyxBalance:
        """``GET /balance`` (async)."""
        return TelnyxBalance.from_envelope(await self._get(BALANCE_PATH))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncTelnyxClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
