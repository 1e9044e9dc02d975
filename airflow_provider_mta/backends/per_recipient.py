"""The HTTP clients of APIs that send one recipient per request and promise no idempotency (Telnyx, Bird).

What they share is the send rule: a send is retried only when the API cannot have processed it, a 429
(waiting ``Retry-After``, else the retry policy's backoff) and a failure to connect (``ConnectError``,
``ConnectTimeout``, ``PoolTimeout``: nothing was sent). A read timeout, a connection dropped after the
request was written, a 5xx, or a 2xx without a message id is **ambiguous**: it raises
:class:`MtaAmbiguousSendError` at once, never resent. GETs are retried on 429, 5xx and network failures by
the :class:`RetryPolicy`.

Each API's client subclasses :class:`PerRecipientClient` (blocking) or :class:`AsyncPerRecipientClient`
together with its own subclass of :class:`PerRecipientBase`, which names the API, builds the auth header,
maps an error answer and reads the message id of a send's answer.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

import httpx
from tenacity import AsyncRetrying, Retrying

from airflow_provider_mta import __version__
from airflow_provider_mta.core.errors import (
    MtaAmbiguousSendError,
    MtaApiError,
    MtaConfigError,
    MtaRateLimitError,
    MtaServerError,
    MtaTransportError,
)
from airflow_provider_mta.core.masking import mask_phone_numbers, mask_recipient, redact
from airflow_provider_mta.core.pacing import RateLimit, SendPacer, shared_pacer
from airflow_provider_mta.core.retry import RetryPolicy

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from types import TracebackType

DEFAULT_TIMEOUT = 30.0
NOT_SENT_ERRORS: tuple[type[httpx.TransportError], ...] = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
"""Transport failures before any byte of the request left: a send that failed so is safe to retry."""
# Numbers echoed without "+" (``18445550001``); a hyphen or word character on either side (UUIDs) is not one.
_BARE_NUMBER_RE = re.compile(r"(?<![\w-])\d{10,15}(?![\w-])")
SentT = TypeVar("SentT")
_Sync = TypeVar("_Sync", bound="PerRecipientClient[Any]")
_Async = TypeVar("_Async", bound="AsyncPerRecipientClient[Any]")


def mask_numbers(text: str) -> str:
    """Mask E.164 numbers and bare 10-15 digit numbers in a server's text (``***1111``)."""
    return _BARE_NUMBER_RE.sub(lambda m: mask_recipient(m.group(0)), mask_phone_numbers(text))


def auth_secret(response: httpx.Response) -> str | None:
    """The credential of the request a response answers (``Authorization: <scheme> <secret>``), to cut out."""
    try:
        header = response.request.headers.get("authorization", "")
    except RuntimeError:  # a Response built without its request
        return None
    _, _, secret = header.partition(" ")
    return secret.strip() or None


class PerRecipientBase(Generic[SentT]):
    """Configuration and the I/O-free halves of every call, shared by the sync and async clients."""

    api: ClassVar[str] = "SMS API"
    default_base_url: ClassVar[str] = ""
    key_label: ClassVar[str] = "key"  # what the per-send key is called in messages ("Idempotency-Key")
    id_location: ClassVar[str] = "id"  # where a send's answer carries the message id ("data.id")

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        send_rate_limit: RateLimit | str | None = None,
        pacer: SendPacer | None = None,
        pacer_factory: Callable[[RateLimit], SendPacer] | None = None,
        send_priority: bool = False,
    ) -> None:
        if not api_key or not api_key.strip():
            raise MtaConfigError(f"no {self.api} API key given")
        base_url = (base_url or self.default_base_url).strip().rstrip("/")
        if not base_url.startswith(("http://", "https://")):
            raise MtaConfigError(f"{self.api} base URL {base_url!r} must start with http:// or https://")
        self._api_key = api_key.strip()
        self.base_url = base_url
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        limit = RateLimit.parse(send_rate_limit)
        fingerprint = hashlib.sha256(self._api_key.encode()).hexdigest()[:16]
        if pacer is None and limit:
            # the account-wide limit in Redis (connection extra rate_limit_conn_id), else this process's pacer
            pacer = pacer_factory(limit) if pacer_factory else shared_pacer(base_url, fingerprint, limit)
        self.send_pacer = pacer
        self.send_priority = send_priority  # pages: may use the slots each window keeps for them

    def _acquire_send(self) -> None:
        """Wait for the send pacer (a priority send may use the reserved slots)."""
        if self.send_pacer is None:
            return
        if self.send_priority:
            self.send_pacer.acquire(priority=True)
        else:
            self.send_pacer.acquire()

    async def _aacquire_send(self) -> None:
        """Async twin of :meth:`_acquire_send`."""
        if self.send_pacer is None:
            return
        if self.send_priority:
            await self.send_pacer.aacquire(priority=True)
        else:
            await self.send_pacer.aacquire()

    async def _apause(self, error: MtaRateLimitError) -> None:
        """A 429's Retry-After pauses every sender (async: a shared limit's Redis is not blocked on)."""
        if self.send_pacer is not None and error.retry_after:
            await self.send_pacer.apause_until_delay(error.retry_after)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    # -- what each API provides -----------------------------------------------------------------

    def _authorization(self) -> str:
        """The ``Authorization`` header's value."""
        raise NotImplementedError

    def _error(self, response: httpx.Response, what: str) -> MtaApiError:
        """The mapped error of a non-2xx answer to ``what``."""
        raise NotImplementedError

    def _parse_sent(self, response: httpx.Response, envelope: Any) -> SentT | None:
        """What a 2xx send answered; None when it names no message id (the send cannot be tracked)."""
        raise NotImplementedError

    def _recipient_of(self, payload: dict[str, Any]) -> str | None:
        """The recipient a send's payload addresses (unmasked)."""
        raise NotImplementedError

    # -- shared ---------------------------------------------------------------------------------

    def _client_options(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url + "/",
            "timeout": self.timeout,
            "headers": {
                "Authorization": self._authorization(),
                "Accept": "application/json",
                "User-Agent": f"airflow-provider-mta/{__version__}",
            },
        }

    def _transport_error(self, what: str, exc: httpx.TransportError) -> MtaTransportError:
        kind = type(exc).__name__
        detail = redact(str(exc), self._api_key) or kind
        return MtaTransportError(
            f"could not reach {self.api} at {self.base_url} ({what}): {kind}: {detail}",
            maybe_sent=not isinstance(exc, NOT_SENT_ERRORS),
        )

    def _ambiguous(self, what: str, payload: dict[str, Any], key: str, cause: str) -> MtaAmbiguousSendError:
        to = self._recipient_of(payload)
        recipient = mask_recipient(to) if to is not None else "the recipient"
        return MtaAmbiguousSendError(
            f"{self.api} {what} to {recipient} ({self.key_label} {key}): {cause}. "
            f"{recipient} may or may not have been texted; not retried, so as not to text twice. "
            f"Check the message's status (or {self.api}'s webhooks) before sending it again."
        )

    def _send_transport_error(
        self, what: str, payload: dict[str, Any], key: str, exc: httpx.TransportError
    ) -> MtaTransportError:
        """A failure to connect is retryable (nothing was sent); any later failure is ambiguous."""
        if isinstance(exc, NOT_SENT_ERRORS):
            return self._transport_error(what, exc)
        detail = redact(str(exc), self._api_key)
        cause = f"{type(exc).__name__}" + (f" ({detail})" if detail else "") + " after the request was sent"
        return self._ambiguous(what, payload, key, cause)

    def _sent(
        self, response: httpx.Response, what: str, payload: dict[str, Any], key: str, *, pause: bool = True
    ) -> SentT:
        """What a send answered; a 5xx or a 2xx without a message id is ambiguous, a 4xx mapped (a 429 pauses
        the pacer if ``pause``)."""
        if response.is_success:
            try:
                envelope = json.loads(response.content) if response.content.strip() else None
            except ValueError:
                envelope = None
            sent = self._parse_sent(response, envelope)
            if sent is None:
                raise self._ambiguous(
                    what, payload, key, f"HTTP {response.status_code} without a message id in {self.id_location}"
                )
            return sent
        error = self._error(response, what)
        if isinstance(error, MtaServerError):
            raise self._ambiguous(what, payload, key, str(error)) from error
        if pause and isinstance(error, MtaRateLimitError) and self.send_pacer and error.retry_after:
            self.send_pacer.pause_until_delay(error.retry_after)
        raise error

    def _json(self, response: httpx.Response, what: str) -> Any:
        """The JSON body of a 2xx GET answer (an unreadable one is a retryable transport error)."""
        if response.is_success:
            try:
                return json.loads(response.content)
            except ValueError:
                raise MtaTransportError(
                    f"{self.api} {what} answered HTTP {response.status_code} with a body that is not JSON"
                ) from None
        raise self._error(response, what)

    def _send_retry_kwargs(self, what: str, key: str) -> dict[str, Any]:
        """The policy's own retry test: a send attempt only ever raises a 429, a transport error that sent
        nothing, a final 4xx, or :class:`MtaAmbiguousSendError` (which ``is_retryable`` refuses)."""
        return self.retry.tenacity_kwargs(what=f"{self.api} {what}", request_id=key)


class PerRecipientClient(PerRecipientBase[SentT]):
    """Blocking half. Use as a context manager or call :meth:`close`."""

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
        retrying = Retrying(sleep=self._sleep, **self.retry.tenacity_kwargs(what=f"{self.api} {what}", request_id=None))
        return retrying(self._get_attempt, path, what)

    def _get_attempt(self, path: str, what: str) -> Any:
        try:
            response = self._http.get(path.lstrip("/"))
        except httpx.TransportError as exc:
            raise self._transport_error(what, exc) from None
        return self._json(response, what)

    def _post_send(
        self, path: str, payload: dict[str, Any], *, key: str, headers: dict[str, str] | None = None
    ) -> SentT:
        """``POST path`` paced, retried only on 429 and failures to connect; ambiguity raised at once."""
        what = f"POST {path}"
        retrying = Retrying(sleep=self._sleep, **self._send_retry_kwargs(what, key))
        return retrying(self._send_attempt, path, what, payload, key, headers)

    def _send_attempt(
        self, path: str, what: str, payload: dict[str, Any], key: str, headers: dict[str, str] | None
    ) -> SentT:
        self._acquire_send()
        try:
            response = self._http.post(path.lstrip("/"), json=payload, headers=headers)
        except httpx.TransportError as exc:
            raise self._send_transport_error(what, payload, key, exc) from None
        return self._sent(response, what, payload, key)

    def close(self) -> None:
        self._http.close()

    def __enter__(self: _Sync) -> _Sync:
        return self

    def __exit__(self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]) -> None:
        self.close()


class AsyncPerRecipientClient(PerRecipientBase[SentT]):
    """Async half (for triggers, async notifiers and async tasks)."""

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
        retrying = self._retrying(self.retry.tenacity_kwargs(what=f"{self.api} {what}", request_id=None))
        return await retrying(self._get_attempt, path, what)

    async def _get_attempt(self, path: str, what: str) -> Any:
        try:
            response = await self._http.get(path.lstrip("/"))
        except httpx.TransportError as exc:
            raise self._transport_error(what, exc) from None
        return self._json(response, what)

    async def _post_send(
        self, path: str, payload: dict[str, Any], *, key: str, headers: dict[str, str] | None = None
    ) -> SentT:
        """Async twin of :meth:`PerRecipientClient._post_send`."""
        what = f"POST {path}"
        retrying = self._retrying(self._send_retry_kwargs(what, key))
        return await retrying(self._send_attempt, path, what, payload, key, headers)

    async def _send_attempt(
        self, path: str, what: str, payload: dict[str, Any], key: str, headers: dict[str, str] | None
    ) -> SentT:
        await self._aacquire_send()
        try:
            response = await self._http.post(path.lstrip("/"), json=payload, headers=headers)
        except httpx.TransportError as exc:
            raise self._send_transport_error(what, payload, key, exc) from None
        try:
            return self._sent(response, what, payload, key, pause=False)
        except MtaRateLimitError as exc:
            await self._apause(exc)
            raise

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self: _Async) -> _Async:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
