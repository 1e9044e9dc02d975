"""Bird's error body ``{"code", "message", "details"}`` and its exception.

``code`` is a PascalCase word (``InvalidPayload``, ``NotFound``, ...); ``details`` (only on validation
errors) maps a field path such as ``receiver.contacts[0].identifierValue`` to its reasons.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse

if TYPE_CHECKING:
    from collections.abc import Mapping

# HTTP status -> Bird code, for injected ``status`` faults and generic answers.
STATUS_CODES: dict[int, str] = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    408: "RequestTimeout",
    409: "Conflict",
    422: "InvalidPayload",
    429: "TooManyRequests",
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}


def code_for(status: int) -> str:
    """The Bird code of an HTTP status (``InternalServerError`` for an unlisted 5xx, ``BadRequest`` for 4xx)."""
    return STATUS_CODES.get(status, "InternalServerError" if status >= 500 else "BadRequest")


def bird_error_body(code: str, message: str, details: Mapping[str, list[str]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = {field: list(reasons) for field, reasons in details.items()}
    return body


class BirdError(Exception):
    """Raised by the Bird handlers; the endpoint wrapper turns it into :meth:`response`."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: Mapping[str, list[str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = dict(details or {})
        self.headers = dict(headers or {})

    def response(self) -> JSONResponse:
        body = bird_error_body(self.code, self.message, self.details)
        return JSONResponse(body, status_code=self.status, headers=self.headers)


def invalid(field: str, reason: str) -> BirdError:
    """A 422 ``InvalidPayload`` about one field of the body."""
    return BirdError(422, "InvalidPayload", f"{field} {reason}", details={field: [reason]})


def bad_request(message: str) -> BirdError:
    """A 400 ``BadRequest`` (a body that is not JSON)."""
    return BirdError(400, "BadRequest", message)
