"""Bird's error body ``{"code": "InvalidPayload", "message": "...", "details": {field: [reasons]}}`` mapped onto
the provider's errors (``core/errors.py``) by HTTP status.

The text names the call, Bird's code, its message and each field's reasons. Phone numbers in it are masked
and the request's access key is cut out, whatever the server echoed. Bird-specific choices:

- 422 (``InvalidPayload``) is :class:`MtaBadRequestError`, like 400: Bird refused this request's content.
- 409 is a plain, final :class:`MtaApiError`: Bird's "conflicting conditions", **not** MTA's "this request id
  was already accepted" (:class:`MtaConflictError`), so nothing may be concluded about a previous send.
- 404 is :class:`MtaNotFoundError` with a hint to check the connection's ``workspace_id`` and ``channel_id``.
- 429 is :class:`MtaRateLimitError` with ``retry_after`` from ``Retry-After`` (Bird: not processed).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from airflow_provider_mta.backends.per_recipient import auth_secret, mask_numbers
from airflow_provider_mta.core.errors import (
    MtaApiError,
    MtaBadRequestError,
    MtaConflictError,
    error_class_for,
    parse_retry_after,
    summarize_non_json,
)
from airflow_provider_mta.core.masking import redact

API = "Bird"
NOT_FOUND_HINT = "check the connection's extras workspace_id and channel_id (and the message id)"
_MAX_FIELDS_SHOWN = 5


def error_from_response(response: httpx.Response, *, what: str) -> MtaApiError:
    """The :class:`MtaApiError` for a non-2xx Bird answer to ``what`` (``"POST /workspaces/.../messages"``)."""
    secret = auth_secret(response)
    text = redact(response.content.decode("utf-8", errors="replace"), secret)
    status = response.status_code
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    request_id = response.headers.get("x-request-id")
    cls = class_for(status)
    hint = f" ({NOT_FOUND_HINT})" if status == 404 else ""
    body = _body(text)
    if body is None:
        message = f"{what}: unexpected {summarize_non_json(text, response.headers.get('content-type', ''))}{hint}"
        return cls(
            status_code=status, message=mask_numbers(message), request_id=request_id, retry_after=retry_after, api=API
        )
    code = _str(body.get("code"))
    described = ": ".join(part for part in (code, _str(body.get("message"))) if part) or "no error detail"
    details = _details(body.get("details"))
    if details:
        described += f" ({details})"
    return cls(
        status_code=status,
        message=mask_numbers(f"{what}: {described}{hint}"),
        error_type=code,
        name=code,
        request_id=request_id,
        retry_after=retry_after,
        body=body,
        api=API,
    )


def class_for(status: int) -> type[MtaApiError]:
    """Bird's status -> exception class (422 refuses content like 400; 409 is final but not MTA's 409)."""
    if status == 422:
        return MtaBadRequestError
    cls = error_class_for(status)
    return MtaApiError if cls is MtaConflictError else cls


def _body(text: str) -> Mapping[str, Any] | None:
    """A Bird error object; None when the body is not one (HTML from a proxy, empty...)."""
    try:
        parsed = json.loads(text) if text.strip() else None
    except ValueError:
        return None
    if not isinstance(parsed, Mapping) or not ("code" in parsed or "message" in parsed):
        return None
    return parsed


def _details(details: Any) -> str:
    if not isinstance(details, Mapping):
        return ""
    shown = []
    for field, reasons in list(details.items())[:_MAX_FIELDS_SHOWN]:
        listed = reasons if isinstance(reasons, list) else [reasons]
        shown.append(f"{field}: {', '.join(str(r) for r in listed)}")
    if len(details) > _MAX_FIELDS_SHOWN:
        shown.append(f"and {len(details) - _MAX_FIELDS_SHOWN} more")
    return "; ".join(shown)


def _str(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)
