"""The MTA-compatible API under ``/v3``: verify, send, cost, sent messages, deliveries, webhooks, groups."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import time
from typing import TYPE_CHECKING, Any

import anyio
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from airflow_provider_mta.backends.mta.models import parse_scheduled_date
from airflow_provider_mta.core.phones import InvalidRecipientError, normalize_recipient
from airflow_provider_mta.sandbox.endpoint import Call, v3_endpoint
from airflow_provider_mta.sandbox.errors import ApiError
from airflow_provider_mta.sandbox.faults import DroppedResponse, bad_gateway_page, hang_until_disconnect
from airflow_provider_mta.sandbox.ratelimit import TOO_MANY_REQUESTS
from airflow_provider_mta.sandbox.render import parse_send, prepare_send
from airflow_provider_mta.sandbox.statuses import STATUS_NAMES, STATUS_WORDS, iso
from airflow_provider_mta.sandbox.store import DeliveryQuery

if TYPE_CHECKING:
    from airflow_provider_mta.backends.mta.models import SendRequest
    from airflow_provider_mta.sandbox.store import MessageRow, NewMessage, SendOutcome

MAX_PAGE_SIZE = 1000
WEBHOOK_EVENTS = ("delivery-status", "message-reply", "message-send", "number-opt-in")


def ok(message: str, data: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"message": message, "data": data}, headers=headers)


async def json_body(call: Call) -> Any:
    raw = await call.request.body()
    try:
        return json.loads(raw) if raw.strip() else None
    except ValueError:
        raise ApiError(400, "the request body is not valid JSON") from None


async def verify_api_key(call: Call) -> Response:
    return ok("API Key verified", {"name": "Sandbox", "email": "sandbox@example.com"})


# -- POST /send ----------------------------------------------------------------------------------


async def send(call: Call) -> Response:
    """Rate limit, then an injected fault if one is pending, then the real send."""
    sandbox = call.sandbox
    sandbox.stats.incr("sendRequests")
    decision = sandbox.limiter.hit(call.api_key or "")
    limit_headers = decision.headers() if decision else {}
    if decision and not decision.allowed:
        sandbox.stats.incr("rateLimited")
        raise ApiError(429, TOO_MANY_REQUESTS, headers=limit_headers)
    fault = sandbox.faults.take()
    if fault is not None:
        sandbox.stats.incr("faultsFired")
        if fault.kind == "status":
            raise ApiError(fault.status, f"sandbox fault: HTTP {fault.status}", headers=limit_headers)
        if fault.kind == "rate_limit":
            sandbox.stats.incr("rateLimited")
            raise ApiError(429, TOO_MANY_REQUESTS, headers={"Retry-After": "1"})
        if fault.kind == "html":
            return bad_gateway_page()
        if fault.kind == "timeout":
            await hang_until_disconnect(call.request)
            raise ApiError(504, "sandbox fault: gateway timeout")
    if fault is None:
        return await _send(call, limit_headers)
    # drop_after_commit: the send is processed and recorded as usual, then the answer is lost.
    with contextlib.suppress(ApiError):
        await _send(call, limit_headers)
    return DroppedResponse()


async def _prepare(call: Call, request: SendRequest) -> list[NewMessage]:
    """Render every recipient's message in a worker thread (CPU-bound for large sends)."""
    limit = call.sandbox.settings.max_recipients
    return await anyio.to_thread.run_sync(prepare_send, request, call.sandbox.store, limit)


def _conflict(outcome: SendOutcome, headers: dict[str, str]) -> ApiError:
    return ApiError(
        409,
        "A request with this X-Request-Id was already accepted; nothing was sent again.",
        data=outcome.data(),
        headers=headers,
    )


async def _send(call: Call, headers: dict[str, str]) -> Response:
    sandbox = call.sandbox
    request_id = call.request.headers.get("x-request-id")
    if request_id:
        earlier = sandbox.store.get_request(request_id)
        if earlier is not None:
            sandbox.stats.incr("conflicts")
            raise _conflict(earlier, headers)
    try:
        request = parse_send(await json_body(call))
        messages = await _prepare(call, request)
    except ApiError as exc:
        exc.headers = {**headers, **exc.headers}
        raise
    release_at = parse_scheduled_date(request.scheduled_date).timestamp() if request.scheduled_date else None
    outcome = await anyio.to_thread.run_sync(
        lambda: sandbox.store.record_send(
            messages,
            request_id=request_id or None,
            external_id=request.external_id,
            tags=request.tags,
            sender_name=request.sender_name,
            release_at=release_at,
            delivery_delay_s=sandbox.settings.delivery_delay_s,
        )
    )
    if outcome.duplicate:  # a concurrent request with the same id won the race
        sandbox.stats.incr("conflicts")
        raise _conflict(outcome, headers)
    sandbox.stats.incr("sendsAccepted")
    sandbox.stats.incr("recipientsAccepted", outcome.total_sent)
    data: dict[str, Any] = {
        "messageId": outcome.message_id,
        "totalSent": outcome.total_sent,
        "totalFailedInternationalRecipients": 0,
        "outboundIds": outcome.outbound_ids,
    }
    if request.scheduled_date:
        data["scheduledDate"] = request.scheduled_date
    return ok(f"Message Sent to {outcome.total_sent} Recipient(s).", data, headers)


async def send_cost(call: Call) -> Response:
    """``POST /send/cost``: what a send would cost; nothing is recorded."""
    request = parse_send(await json_body(call))
    messages = await _prepare(call, request)
    credits = sum(m.credits for m in messages)
    return ok("Message cost calculated", {"messageCredits": credits, "recipients": len(messages)})


# -- sent messages and deliveries ----------------------------------------------------------------


def _message_or_404(call: Call) -> MessageRow:
    raw = call.request.path_params["outbound_id"]
    message = call.sandbox.store.get_message(int(raw)) if str(raw).isdigit() else None
    if message is None:
        raise ApiError(404, f"sent message {raw} not found")
    return message


async def sent_message(call: Call) -> Response:
    m = _message_or_404(call)
    now = time.time()
    status = m.timeline.status(now)
    return ok(
        "Sent message retrieved",
        {
            "outboundId": m.outbound_id,
            "messageId": m.message_id,
            "to": m.recipient,
            "text": m.text,
            "parts": m.parts,
            "credits": m.credits,
            "type": m.type,
            "status": status,
            "statusName": STATUS_NAMES[status],
            "externalId": m.external_id,
            "tags": m.tags or {},
            "createdAt": iso(m.timeline.created_at),
            "updatedAt": iso(m.timeline.updated_at(now)),
        },
    )


async def delivery_report(call: Call) -> Response:
    m = _message_or_404(call)
    now = time.time()
    status = m.timeline.status(now)
    steps = m.timeline.history(now)
    history = [{"status": s, "statusName": STATUS_NAMES[s], "at": iso(at)} for s, at in steps]
    return ok(
        "Delivery report retrieved",
        {
            "outboundId": m.outbound_id,
            "messageId": m.message_id,
            "destinationNumber": m.recipient,
            "status": status,
            "statusName": STATUS_NAMES[status],
            "updatedAt": iso(m.timeline.updated_at(now)),
            "history": history,
        },
    )


def _int_param(params: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.strip().isdigit() or not low <= int(raw) <= high:
        raise ApiError(400, f"{name} must be an integer between {low} and {high}")
    return int(raw)


def _day(params: dict[str, str], name: str) -> float | None:
    raw = params.get(name)
    if not raw:
        return None
    try:
        day = dt.datetime.strptime(raw, "%Y-%m-%d").replace(tzinfo=dt.timezone.utc)
    except ValueError:
        raise ApiError(400, f"{name} must be a date like 2025-03-06") from None
    return day.timestamp()


def delivery_query(params: dict[str, str], *, ignore_message_id: bool = False) -> DeliveryQuery:
    """Validate the query string of ``GET /deliveries``; ``ignore_message_id`` drops ``filters[messageId]``
    (the sandbox's extension, which a real MTA may ignore)."""
    sort_by = params.get("sortBy") or "createdAt"
    if sort_by not in ("createdAt", "updatedAt", "outboundId"):
        raise ApiError(400, "sortBy must be createdAt, updatedAt or outboundId")
    direction = (params.get("sortDirection") or "DESC").upper()
    if direction not in ("ASC", "DESC"):
        raise ApiError(400, "sortDirection must be ASC or DESC")
    kind = params.get("filters[type]") or None
    if kind is not None and kind not in ("sms", "mms"):
        raise ApiError(400, "filters[type] must be sms or mms (the sandbox sends no tts)")
    word = params.get("filters[status]") or None
    if word is not None and word not in STATUS_WORDS:
        raise ApiError(400, f"filters[status] must be one of {', '.join(STATUS_WORDS)}")
    end = _day(params, "filters[endDate]")
    return DeliveryQuery(
        page=_int_param(params, "page", 1, 1, 10**9),
        page_size=_int_param(params, "pageSize", 25, 1, MAX_PAGE_SIZE),
        sort_by=sort_by,
        descending=direction == "DESC",
        query=params.get("query") or None,
        start=_day(params, "filters[startDate]"),
        end=end + 86400 if end is not None else None,
        type=kind,
        statuses=STATUS_WORDS[word] if word else None,
        message_id=None if ignore_message_id else params.get("filters[messageId]") or None,
    )


async def deliveries(call: Call) -> Response:
    ignore = call.sandbox.settings.ignore_message_id_filter
    query = delivery_query(dict(call.request.query_params), ignore_message_id=ignore)
    now = time.time()
    rows, total = call.sandbox.store.deliveries(query, now=now)
    out = []
    for m in rows:
        status = m.timeline.status(now)
        out.append(
            {
                "outboundId": m.outbound_id,
                "messageId": m.message_id,
                "destinationNumber": m.recipient,
                "status": status,
                "statusName": STATUS_NAMES[status],
                "type": m.type,
                "externalId": m.external_id,
                "tags": m.tags or {},
                "createdAt": iso(m.timeline.created_at),
                "updatedAt": iso(m.timeline.updated_at(now)),
            }
        )
    page = {"rows": out, "page": query.page, "pageSize": query.page_size, "total": total}
    return ok("Deliveries retrieved", page)


# -- webhooks and groups -------------------------------------------------------------------------


async def create_webhook(call: Call) -> Response:
    body = await json_body(call)
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object")
    event, url, secret = body.get("event"), body.get("url"), body.get("secret")
    if event not in WEBHOOK_EVENTS:
        raise ApiError(400, f"event must be one of {', '.join(WEBHOOK_EVENTS)}")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ApiError(400, "url must be an http(s) URL")
    if not isinstance(secret, str) or not secret:
        raise ApiError(400, "secret is required (it signs every delivery in X-Signature)")
    hook = call.sandbox.store.add_webhook(event, url, secret)
    return ok(
        "Webhook created",
        {"id": hook.id, "event": hook.event, "url": hook.url, "createdAt": iso(hook.created_at)},
    )


async def list_webhooks(call: Call) -> Response:
    hooks = call.sandbox.store.list_webhooks()
    rows = [{"id": h.id, "event": h.event, "url": h.url, "createdAt": iso(h.created_at)} for h in hooks]
    return ok("Webhooks retrieved", {"rows": rows, "page": 1, "pageSize": len(rows), "total": len(rows)})


async def delete_webhook(call: Call) -> Response:
    raw = call.request.path_params["webhook_id"]
    if not str(raw).isdigit() or not call.sandbox.store.delete_webhook(int(raw)):
        raise ApiError(404, f"webhook {raw} not found")
    return ok("Webhook deleted", {"id": int(raw)})


async def create_group(call: Call) -> Response:
    """Sandbox-only: ``{"name": str, "members": [phone or email, ...]}`` -> ``{"id", "name", "members"}``."""
    body = await json_body(call)
    if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not body["name"].strip():
        raise ApiError(400, "name is required")
    members = body.get("members", [])
    if not isinstance(members, list):
        raise ApiError(400, "members must be a list of phone numbers or emails")
    try:
        normalized = list(dict.fromkeys(normalize_recipient(m, region="US") for m in members))
    except InvalidRecipientError as exc:
        raise ApiError(400, f"invalid member: {exc}") from None
    group_id = call.sandbox.store.add_group(body["name"].strip(), normalized)
    return ok("Group created", {"id": group_id, "name": body["name"].strip(), "members": normalized})


async def list_groups(call: Call) -> Response:
    groups = call.sandbox.store.list_groups()
    rows = [{"id": gid, "name": name, "members": members} for gid, name, members in groups]
    return ok("Groups retrieved", {"rows": rows, "page": 1, "pageSize": len(rows), "total": len(rows)})


ROUTES = [
    Route("/v3/auth/verify-api-key", v3_endpoint(verify_api_key), methods=["GET"]),
    Route("/v3/send", v3_endpoint(send, general_limit=False), methods=["POST"]),  # has its own limit
    Route("/v3/send/cost", v3_endpoint(send_cost), methods=["POST"]),
    Route("/v3/sent-messages/{outbound_id}", v3_endpoint(sent_message), methods=["GET"]),
    Route("/v3/sent-messages/{outbound_id}/delivery-report", v3_endpoint(delivery_report), methods=["GET"]),
    Route("/v3/deliveries", v3_endpoint(deliveries), methods=["GET"]),
    Route("/v3/webhooks", v3_endpoint(create_webhook), methods=["POST"]),
    Route("/v3/webhooks", v3_endpoint(list_webhooks), methods=["GET"]),
    Route("/v3/webhooks/{webhook_id}", v3_endpoint(delete_webhook), methods=["DELETE"]),
    Route("/v3/groups", v3_endpoint(create_group), methods=["POST"]),
    Route("/v3/groups", v3_endpoint(list_groups), methods=["GET"]),
]
