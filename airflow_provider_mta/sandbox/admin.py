"""Admin routes under ``/_sandbox/`` (ledger, stats, reset, faults, opt-outs, the Telnyx webhook public key)
and the inbox page at ``/``."""

from __future__ import annotations

import hmac
import logging
import re
import time
from typing import TYPE_CHECKING, Any

from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from airflow_provider_mta.core.masking import mask_recipient
from airflow_provider_mta.core.phones import InvalidRecipientError, normalize_recipient
from airflow_provider_mta.sandbox.endpoint import Call, admin_endpoint, open_endpoint
from airflow_provider_mta.sandbox.errors import ApiError
from airflow_provider_mta.sandbox.inbox import render_inbox
from airflow_provider_mta.sandbox.statuses import STATUS_NAMES, iso
from airflow_provider_mta.sandbox.store import PROVIDERS

if TYPE_CHECKING:
    from airflow_provider_mta.sandbox.store import MessageRow

INBOX_LIMIT = 500
REPLIES_SHOWN = 100
_KEY_PARAM_RE = re.compile(r"([?&]key=)[^&#\s]*", re.IGNORECASE)


class _RedactKeyParam(logging.Filter):
    """uvicorn's access log prints the query string: hide the inbox's ``?key=<API key>`` from it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(a, str) and "key=" in a.lower() for a in record.args):
            record.args = tuple(_KEY_PARAM_RE.sub(r"\1***", a) if isinstance(a, str) else a for a in record.args)
        return True


def install_access_log_redaction() -> None:
    """Attach the ``?key=`` redaction to uvicorn's access logger once."""
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, _RedactKeyParam) for f in logger.filters):
        logger.addFilter(_RedactKeyParam())


def _recipient(value: str) -> str:
    """Match ``?to=`` in E.164 when it parses as a number, else as given."""
    try:
        return normalize_recipient(value, region="US")
    except InvalidRecipientError:
        return value.strip()


def _count(raw: str | None, name: str, default: int | None) -> int | None:
    if raw is None or raw == "":
        return default
    if not raw.isdigit():
        raise ApiError(400, f"{name} must be a non-negative integer")
    return int(raw)


def message_row(m: MessageRow, now: float) -> dict[str, Any]:
    return {
        "messageId": m.message_id,
        "outboundId": m.outbound_id,
        "to": m.recipient,
        "text": m.text,
        "parts": m.parts,
        "credits": m.credits,
        "type": m.type,
        "status": STATUS_NAMES[m.timeline.status(now)],
        "externalId": m.external_id,
        "tags": m.tags or {},
        "requestId": m.request_id,
        "createdAt": iso(m.timeline.created_at),
        "scheduledFor": iso(m.timeline.release_at) if m.timeline.release_at > m.timeline.created_at else None,
        "provider": m.provider,
    }


async def messages(call: Call) -> Response:
    """Rows per recipient message, oldest first; filters ``to``, ``messageId``, ``requestId``, ``status``,
    ``provider``."""
    params = call.request.query_params
    to = params.get("to")
    provider = params.get("provider") or None
    if provider is not None and provider not in PROVIDERS:
        raise ApiError(400, f"provider must be one of {', '.join(PROVIDERS)}")
    rows = call.sandbox.store.list_messages(
        to=_recipient(to) if to else None,
        message_id=params.get("messageId") or None,
        request_id=params.get("requestId") or None,
        provider=provider,
        limit=_count(params.get("limit"), "limit", None),
        offset=_count(params.get("offset"), "offset", 0) or 0,
    )
    now = time.time()
    out = [message_row(m, now) for m in rows]
    status = params.get("status")
    if status:
        out = [row for row in out if row["status"] == status.upper()]
    return JSONResponse(out)


async def stats(call: Call) -> Response:
    sandbox = call.sandbox
    return JSONResponse(
        {
            **sandbox.stats.snapshot(),
            "messages": sandbox.store.count_messages(),
            "pendingFaults": sandbox.faults.pending(),
        }
    )


async def reset(call: Call) -> Response:
    call.sandbox.reset()
    return JSONResponse({"message": "sandbox reset"})


async def add_fault(call: Call) -> Response:
    try:
        body = await call.request.json()
    except ValueError:
        raise ApiError(400, "the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, 'post {"fault": KIND, "count": N, "status": CODE, "after": M, "provider": "mta"}')
    count, status, after = body.get("count", 1), body.get("status"), body.get("after", 0)
    if not isinstance(count, int) or not isinstance(after, int) or (status is not None and not isinstance(status, int)):
        raise ApiError(400, "count, status and after must be integers")
    try:
        call.sandbox.faults.add(str(body.get("fault")), count, status, after, str(body.get("provider", "mta")))
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    return JSONResponse({"pending": call.sandbox.faults.pending()})


async def list_faults(call: Call) -> Response:
    return JSONResponse({"pending": call.sandbox.faults.pending()})


async def clear_faults(call: Call) -> Response:
    call.sandbox.faults.clear()
    return JSONResponse({"pending": []})


_OPT_OUT_HINT = 'post {"number": PHONE} or {"numbers": [PHONE, ...]} (a non-empty list)'


def _opt_out_values(body: Any) -> list[Any]:
    """The raw numbers of a ``POST /_sandbox/opt-outs`` body: ``number`` or a non-empty ``numbers`` list."""
    if not isinstance(body, dict) or ("number" in body) == ("numbers" in body):
        raise ApiError(400, _OPT_OUT_HINT)
    if "number" in body:
        return [body["number"]]
    values = body["numbers"]
    if not isinstance(values, list) or not values:
        raise ApiError(400, _OPT_OUT_HINT)
    return values


def phone_number(value: Any, field: str = "number") -> str:
    """One phone number in E.164; 400 naming ``field`` (the number masked) when it is not a valid one."""
    try:
        number = normalize_recipient(value, region="US")
    except InvalidRecipientError as exc:
        raise ApiError(400, f"invalid {field}: {exc}") from None
    if "@" in number:
        raise ApiError(400, f"invalid {field}: {mask_recipient(number)} is an email, not a phone number")
    return number


def _opt_outs_answer(message: str, numbers: list[str]) -> JSONResponse:
    return JSONResponse({"message": message, "data": {"optedOut": numbers}})


async def add_opt_outs(call: Call) -> Response:
    """Opt numbers out (as if they texted STOP): later sends to them are accepted and end STOPPED_NUMBER."""
    try:
        body = await call.request.json()
    except ValueError:
        raise ApiError(400, "the request body is not valid JSON") from None
    numbers = list(dict.fromkeys(phone_number(v) for v in _opt_out_values(body)))
    call.sandbox.store.add_opt_outs(numbers)
    return _opt_outs_answer(f"{len(numbers)} number(s) opted out", numbers)


async def list_opt_outs(call: Call) -> Response:
    return _opt_outs_answer("Opt-outs retrieved", call.sandbox.store.list_opt_outs())


async def clear_opt_outs(call: Call) -> Response:
    call.sandbox.store.clear_opt_outs()
    return _opt_outs_answer("Opt-outs cleared", [])


async def telnyx_public_key(call: Call) -> Response:
    """The base64 Ed25519 public key that verifies the ``/v2`` webhooks (as the Telnyx portal shows it)."""
    return JSONResponse({"public_key": call.sandbox.telnyx_signer.public_key})


async def inbox(call: Call) -> Response:
    """The HTML inbox; on a non-loopback host the key may also be given as ``?key=`` (for browsers)."""
    sandbox, params = call.sandbox, call.request.query_params
    if call.api_key is None and sandbox.settings.admin_requires_key:
        given = params.get("key", "").encode()
        if not any(hmac.compare_digest(k.encode(), given) for k in sandbox.settings.api_keys):
            return HTMLResponse("<h1>401: give ?key=API_KEY</h1>", status_code=401)
    limit = min(_count(params.get("limit"), "limit", INBOX_LIMIT) or INBOX_LIMIT, 5000)
    to = params.get("to")
    rows = sandbox.store.list_messages(to=_recipient(to) if to else None, limit=limit, newest_first=True)
    store = sandbox.store
    replies = store.list_replies(limit=REPLIES_SHOWN)
    page = render_inbox(rows, total=store.count_messages(), replies=replies, total_replies=store.count_replies())
    return HTMLResponse(page)


ROUTES = [
    Route("/", open_endpoint(inbox), methods=["GET"]),
    Route("/_sandbox/messages", admin_endpoint(messages), methods=["GET"]),
    Route("/_sandbox/stats", admin_endpoint(stats), methods=["GET"]),
    Route("/_sandbox/reset", admin_endpoint(reset), methods=["POST"]),
    Route("/_sandbox/faults", admin_endpoint(add_fault), methods=["POST"]),
    Route("/_sandbox/faults", admin_endpoint(list_faults), methods=["GET"]),
    Route("/_sandbox/faults", admin_endpoint(clear_faults), methods=["DELETE"]),
    Route("/_sandbox/opt-outs", admin_endpoint(add_opt_outs), methods=["POST"]),
    Route("/_sandbox/opt-outs", admin_endpoint(list_opt_outs), methods=["GET"]),
    Route("/_sandbox/opt-outs", admin_endpoint(clear_opt_outs), methods=["DELETE"]),
    Route("/_sandbox/telnyx-public-key", admin_endpoint(telnyx_public_key), methods=["GET"]),
]
