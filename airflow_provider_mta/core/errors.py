"""The provider's exceptions, the same for every SMS API; each backend maps its error bodies onto them."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

_TITLE_RE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TAG_RE = re.compile(r"<[^>]+>")


class MtaError(Exception):
    """Base class of every error this provider raises."""


class MtaConfigError(MtaError):
    """The connection or client is configured wrongly (no API key, bad base URL, bad extra)."""


class MtaValidationError(MtaError, ValueError):
    """A request was rejected locally, before anything was sent. ``field`` names what is wrong."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class MtaTransportError(MtaError):
    """MTA could not be reached or did not answer (after retries).

    ``maybe_sent`` is False only when the last attempt failed before any byte of the request left (a failure
    to connect): then the API cannot have acted on it. Failover uses it to tell a clean failure from one
    that may have texted.
    """

    def __init__(self, message: str, *, maybe_sent: bool = True) -> None:
        super().__init__(message)
        self.maybe_sent = maybe_sent


class MtaAmbiguousSendError(MtaTransportError):
    """A send whose outcome is unknown: the request may have reached the API, so the recipient may or may not
    have been texted. Never retried automatically (a retry could text twice); check the message's status first.
    """


class MtaWebhookSignatureError(MtaError):
    """A webhook failed verification (missing or bad signature, malformed or stale timestamp): reject it."""


class MtaApiError(MtaError):
    """The SMS API answered with an error status. The text names the API, the status, its message and requestId."""

    def __init__(
        self,
        *,
        status_code: int,
        message: str,
        error_type: str | None = None,
        name: str | None = None,
        request_id: str | None = None,
        reason: str | None = None,
        retry_after: float | None = None,
        body: Mapping[str, Any] | None = None,
        api: str = "MTA",
    ) -> None:
        self.api = api
        self.status_code = status_code
        self.mta_message = message
        self.error_type = error_type
        self.name = name
        self.request_id = request_id
        self.reason = reason
        self.retry_after = retry_after
        self.body: Mapping[str, Any] = body or {}
        super().__init__(self._describe())

    def _describe(self) -> str:
        label = self.name or self.error_type or type(self).__name__
        text = f"{self.api} answered HTTP {self.status_code} ({label}): {self.mta_message}"
        if self.reason:
            text += f" [reason: {self.reason}]"
        return text + f" (requestId={self.request_id or 'n/a'})"


class MtaBadRequestError(MtaApiError):
    """400: MTA rejected the request's content."""


class MtaUnauthorizedError(MtaApiError):
    """401: the API key is missing, wrong or revoked."""


class MtaPaymentRequiredError(MtaApiError):
    """402: insufficient credits or an expired trial."""


class MtaForbiddenError(MtaApiError):
    """403: the account may not do this (for example an unverified number sending free text)."""


class MtaOptedOutError(MtaForbiddenError):
    """403: the recipient texted STOP and may not be texted again (Telnyx code 40300); never retried."""


class MtaNotFoundError(MtaApiError):
    """404: wrong URL or unknown resource (check the connection's base URL ends in /v3)."""


class MtaConflictError(MtaApiError):
    """409: a request with the same X-Request-Id was already accepted; nothing was sent again."""


class MtaRateLimitError(MtaApiError):
    """429: rate limited. ``retry_after`` holds MTA's Retry-After in seconds when given."""


class MtaServerError(MtaApiError):
    """5xx: MTA or a proxy in front of it failed; safe to retry with the same X-Request-Id."""


_BY_STATUS: dict[int, type[MtaApiError]] = {
    400: MtaBadRequestError,
    401: MtaUnauthorizedError,
    402: MtaPaymentRequiredError,
    403: MtaForbiddenError,
    404: MtaNotFoundError,
    409: MtaConflictError,
    429: MtaRateLimitError,
}


def error_class_for(status_code: int) -> type[MtaApiError]:
    """Return the exception class for an HTTP status (5xx -> MtaServerError)."""
    if status_code >= 500:
        return MtaServerError
    return _BY_STATUS.get(status_code, MtaApiError)


def parse_retry_after(value: str | None) -> float | None:
    """Parse a ``Retry-After`` header given in seconds; HTTP dates and junk give None."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return max(seconds, 0.0)


def summarize_non_json(text: str, content_type: str) -> str:
    title = _TITLE_RE.search(text)
    snippet = title.group(1) if title else _TAG_RE.sub(" ", text)
    snippet = " ".join(snippet.split())[:200]
    kind = "an HTML page" if "html" in content_type.lower() or "<html" in text[:500].lower() else "a non-JSON body"
    return f"{kind}: {snippet}" if snippet else f"{kind} (empty)"
