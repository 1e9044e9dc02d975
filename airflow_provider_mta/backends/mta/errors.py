"""MTA's error body ``{httpCode, type, name, message, requestId, reason}`` mapped onto the provider's errors."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_mta.core.errors import MtaApiError, error_class_for, parse_retry_after, summarize_non_json
from airflow_provider_mta.core.masking import mask_phone_numbers


def error_from_response(
    *,
    status_code: int,
    body: bytes,
    content_type: str = "",
    retry_after_header: str | None = None,
    client_request_id: str | None = None,
    base_url: str | None = None,
) -> MtaApiError:
    """Build the right :class:`MtaApiError` from an HTTP error answer, JSON or not.

    A bare 404 (no MTA error body) to a base URL whose path does not end in ``/v3`` says so: MTA's API
    lives under ``/v3``, so the URL, not the resource, is most likely wrong.
    """
    parsed: Any = None
    text = body.decode("utf-8", errors="replace")
    try:
        parsed = json.loads(text) if text.strip() else None
    except ValueError:
        parsed = None
    retry_after = parse_retry_after(retry_after_header)
    cls = error_class_for(status_code)
    if isinstance(parsed, dict):
        message = parsed.get("message") or parsed.get("error") or "no message"
        if not isinstance(message, str):
            message = json.dumps(message)[:300]
        reason = _str_or_none(parsed.get("reason"))
        return cls(
            status_code=status_code,
            message=mask_phone_numbers(message),  # an echoed recipient must not reach the task log in full
            error_type=_str_or_none(parsed.get("type")),
            name=_str_or_none(parsed.get("name")),
            request_id=_str_or_none(parsed.get("requestId")) or client_request_id,
            reason=mask_phone_numbers(reason) if reason else None,
            retry_after=retry_after,
            body=parsed,
        )
    message = f"unexpected {summarize_non_json(text, content_type)}"
    if status_code == 404 and base_url is not None and not urlsplit(base_url).path.rstrip("/").endswith("/v3"):
        message += f"; the base URL {base_url} has no /v3; MTA's API lives under /v3"
    return cls(
        status_code=status_code,
        message=mask_phone_numbers(message),
        request_id=client_request_id,
        retry_after=retry_after,
    )


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)
