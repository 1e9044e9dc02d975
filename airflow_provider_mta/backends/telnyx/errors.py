"""Telnyx's error body ``{"errors": [{"code", "title", "detail", "source": {"pointer"}}]}`` mapped onto the
provider's errors (``core/errors.py``) by HTTP status.

The text names the call, each error's code, title, detail and pointer. Phone numbers in it are masked and
the request's bearer token is cut out, whatever the server echoed. Two codes get their own class: 10011
(429) is :class:`MtaRateLimitError` with ``retry_after`` from ``Retry-After``, else ``x-ratelimit-reset``
(seconds); 40300 "Blocked due to STOP message" is :class:`MtaOptedOutError` (never retried).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from airflow_provider_mta.backends.per_recipient import auth_secret, mask_numbers
from airflow_provider_mta.core.errors import (
    MtaApiError,
    MtaConflictError,
    MtaOptedOutError,
    error_class_for,
    parse_retry_after,
    summarize_non_json,
)
from airflow_provider_mta.core.masking import redact

API = "Telnyx"
OPTED_OUT_CODE = "40300"
RATE_LIMIT_CODE = "10011"
_MAX_ERRORS_SHOWN = 5


def error_from_response(response: httpx.Response, *, what: str) -> MtaApiError:
    """The :class:`MtaApiError` for a non-2xx Telnyx answer to ``what`` (``"POST /messages"``), JSON or not."""
    secret = auth_secret(response)
    text = redact(response.content.decode("utf-8", errors="replace"), secret)
    status = response.status_code
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    if retry_after is None:
        retry_after = parse_retry_after(response.headers.get("x-ratelimit-reset"))
    request_id = response.headers.get("x-request-id")
    errors = _errors(text)
    cls = _class_for(status, errors)
    if errors is None:
        message = f"{what}: unexpected {summarize_non_json(text, response.headers.get('content-type', ''))}"
        return cls(
            status_code=status, message=mask_numbers(message), request_id=request_id, retry_after=retry_after, api=API
        )
    first = errors[0] if errors else {}
    described = "; ".join(_describe(e) for e in errors[:_MAX_ERRORS_SHOWN]) or "no error detail"
    if len(errors) > _MAX_ERRORS_SHOWN:
        described += f"; and {len(errors) - _MAX_ERRORS_SHOWN} more"
    title = _str(first.get("title"))
    return cls(
        status_code=status,
        message=mask_numbers(f"{what}: {described}"),
        error_type=_str(first.get("code")),
        name=mask_numbers(title) if title else None,
        request_id=request_id,
        retry_after=retry_after,
        body={"errors": errors},
        api=API,
    )


def _class_for(status: int, errors: list[Mapping[str, Any]] | None) -> type[MtaApiError]:
    codes = {_str(e.get("code")) for e in errors or ()}
    if status == 403 and OPTED_OUT_CODE in codes:
        return MtaOptedOutError
    cls = error_class_for(status)
    # MtaConflictError promises "already accepted, nothing sent again" (MTA's 409); Telnyx makes no such promise.
    return MtaApiError if cls is MtaConflictError else cls


def _errors(text: str) -> list[Mapping[str, Any]] | None:
    """The ``errors`` list of a Telnyx body; None when the body is not Telnyx JSON."""
    try:
        parsed = json.loads(text) if text.strip() else None
    except ValueError:
        return None
    if not isinstance(parsed, Mapping) or not isinstance(parsed.get("errors"), list):
        return None
    return [e for e in parsed["errors"] if isinstance(e, Mapping)]


def _describe(error: Mapping[str, Any]) -> str:
    parts = [f"code {error['code']}" if error.get("code") not in (None, "") else "no code"]
    parts += [str(error[key]) for key in ("title", "detail") if error.get(key) not in (None, "")]
    source = error.get("source")
    pointer = (source.get("pointer") or source.get("parameter")) if isinstance(source, Mapping) else None
    text = ": ".join(parts)
    return f"{text} (at {pointer})" if pointer else text


def _str(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)
