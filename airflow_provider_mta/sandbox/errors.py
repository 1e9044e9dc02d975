"""MTA's error body ``{httpCode, message, timestamp, type, name, requestId}`` and the sandbox's API error."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse

if TYPE_CHECKING:
    from collections.abc import Mapping

ERROR_KINDS: dict[int, tuple[str, str]] = {
    400: ("bad_request_error", "MTABadRequestError"),
    401: ("unauthorized_error", "MTAUnauthorizedError"),
    402: ("payment_required_error", "MTAPaymentRequiredError"),
    403: ("forbidden_error", "MTAForbiddenError"),
    404: ("not_found_error", "MTANotFoundError"),
    405: ("method_not_allowed_error", "MTAMethodNotAllowedError"),
    409: ("conflict_error", "MTAConflictError"),
    429: ("rate_limit_error", "MTARateLimitError"),
    500: ("internal_server_error", "MTAInternalServerError"),
    502: ("bad_gateway_error", "MTABadGatewayError"),
    503: ("service_unavailable_error", "MTAServiceUnavailableError"),
    504: ("gateway_timeout_error", "MTAGatewayTimeoutError"),
}


def error_body(status: int, message: str, request_id: str) -> dict[str, Any]:
    """The body MTA answers with on every error."""
    default = ("internal_server_error", "MTAInternalServerError") if status >= 500 else ("error", "MTAError")
    kind, name = ERROR_KINDS.get(status, default)
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {
        "httpCode": status,
        "message": message,
        "timestamp": now,
        "type": kind,
        "name": name,
        "requestId": request_id,
    }


def error_response(
    status: int,
    message: str,
    request_id: str,
    *,
    data: Any = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """A JSON error answer; ``data`` is added to the body when given (the sandbox's 409 extension)."""
    body = error_body(status, message, request_id)
    if data is not None:
        body["data"] = data
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


class ApiError(Exception):
    """Raised by handlers; turned into :func:`error_response` by the endpoint wrapper."""

    def __init__(
        self, status: int, message: str, *, data: Any = None, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.data = data
        self.headers = dict(headers or {})

    def response(self, request_id: str) -> JSONResponse:
        return error_response(self.status, self.message, request_id, data=self.data, headers=self.headers)
