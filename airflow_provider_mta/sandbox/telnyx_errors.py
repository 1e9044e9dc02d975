"""Telnyx's error body ``{"errors": [{"code", "title", "detail", "source", "meta"}]}`` and its exception.

Codes and titles are the ones Telnyx documents (API error codes 10xxx, messaging codes 40xxx).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse

if TYPE_CHECKING:
    from collections.abc import Mapping

TITLES: dict[str, str] = {
    "10003": "Invalid URL",
    "10004": "Missing required parameter",
    "10005": "Resource not found",
    "10006": "Invalid ID",
    "10007": "Unexpected error",
    "10008": "Request timeout",
    "10009": "Authentication failed",
    "10011": "Too many requests",
    "10015": "Bad Request",
    "40300": "Blocked due to STOP message",
    "40302": "Message too large",
    "40304": "Invalid combination of message content arguments",
    "40305": "Invalid 'from' address",
    "40310": "Invalid 'to' address",
}
ERROR_DOCS_URL = "https://developers.telnyx.com/docs/overview/errors/{code}"


def telnyx_error_body(code: str, detail: str, *, pointer: str | None = None, parameter: str | None = None) -> Any:
    """One error in Telnyx's envelope; ``pointer`` is a JSON pointer into the body (``/to``)."""
    error: dict[str, Any] = {"code": code, "title": TITLES.get(code, "Error"), "detail": detail}
    source: dict[str, str] = {}
    if pointer is not None:
        source["pointer"] = pointer
    if parameter is not None:
        source["parameter"] = parameter
    if source:
        error["source"] = source
    error["meta"] = {"url": ERROR_DOCS_URL.format(code=code)}
    return {"errors": [error]}


class TelnyxError(Exception):
    """Raised by the ``/v2`` handlers; the endpoint wrapper turns it into :meth:`response`."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        pointer: str | None = None,
        parameter: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail
        self.pointer = pointer
        self.parameter = parameter
        self.headers = dict(headers or {})

    def response(self) -> JSONResponse:
        body = telnyx_error_body(self.code, self.detail, pointer=self.pointer, parameter=self.parameter)
        return JSONResponse(body, status_code=self.status, headers=self.headers)


def bad_request(code: str, detail: str, pointer: str | None = None) -> TelnyxError:
    """A 400 about one body parameter."""
    return TelnyxError(400, code, detail, pointer=pointer)
