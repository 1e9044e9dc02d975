"""Telnyx's Messaging API under ``/v2``: send (``POST /v2/messages``), retrieve
(``GET /v2/messages/{id}``) and the balance (``GET /v2/balance``), with Bearer authentication, a rate
limit per API key, ``Idempotency-Key`` replay and Telnyx's error bodies.

A send goes: authentication (401 10009), rate limit (429 10011), injected fault (provider
``telnyx``), ``Idempotency-Key`` (replay or 422), body validation (:mod:`.telnyx_body`), STOP
(403 40300), then one SQLite transaction records the message (and the key's answer).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import math
import re
import time
import uuid
from typing import TYPE_CHECKING, Any

import anyio
from starlette.responses import Response
from starlette.routing import Route

from airflow_provider_mta.sandbox.endpoint import Call, Endpoint, Handler, bearer_key, request_id_of
from airflow_provider_mta.sandbox.faults import DroppedResponse, bad_gateway_page, hang_until_disconnect
from airflow_provider_mta.sandbox.state import sandbox_of
from airflow_provider_mta.sandbox.statuses import Timeline, final_status_for
from airflow_provider_mta.sandbox.store import IdempotencyRecord, MessageRow, NewMessage
from airflow_provider_mta.sandbox.telnyx_body import TelnyxSend, check_not_stopped, parse_telnyx_send
from airflow_provider_mta.sandbox.telnyx_errors import TelnyxError, bad_request
from airflow_provider_mta.sandbox.telnyx_payload import balance_payload, cost_of, message_payload

if TYPE_CHECKING:
    from starlette.requests import Request

    from airflow_provider_mta.sandbox.ratelimit import Decision

log = logging.getLogger("airflow_provider_mta.sandbox")

IDEMPOTENCY_KEY_RE = re.compile(r"^[A-Za-z0-9_:-]{1,255}$")
FAULT_CODES = {401: "10009", 404: "10005", 408: "10008", 429: "10011", 504: "10008"}


def _json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """Compact JSON, so that a replayed answer is byte-for-byte the first one."""
    body = json.dumps(payload, separators=(",", ":"))
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def limit_headers(decision: Decision) -> dict[str, str]:
    """Telnyx's ``x-ratelimit-*`` (reset in whole seconds) and ``Retry-After`` on a refusal."""
    reset = max(0, math.ceil(decision.reset_s - 1e-9))
    out = {
        "x-ratelimit-limit": str(decision.limit),
        "x-ratelimit-remaining": str(decision.remaining),
        "x-ratelimit-reset": str(reset),
    }
    if not decision.allowed:
        out["Retry-After"] = str(max(1, reset))
    return out


def telnyx_endpoint(handler: Handler) -> Endpoint:
    """A ``/v2`` route: ``--latency-ms``, the API key (401 10009), the ``/v2`` rate limit (429 10011),
    then the handler; every error has Telnyx's body and every answer the rate-limit headers."""

    async def endpoint(request: Request) -> Response:
        sandbox = sandbox_of(request)
        if sandbox.settings.latency_ms:
            await asyncio.sleep(sandbox.settings.latency_ms / 1000)
        key = bearer_key(request, sandbox.settings.api_keys)
        if key is None:
            sandbox.stats.incr("unauthorized")
            missing = "authorization" not in request.headers
            detail = "No API key was provided." if missing else "Could not understand the provided credentials."
            return TelnyxError(401, "10009", detail).response()
        decision = sandbox.telnyx_limiter.hit(key)
        headers = limit_headers(decision) if decision else {}
        if decision and not decision.allowed:
            sandbox.stats.incr("rateLimited")
            detail = "You have exceeded the maximum number of allowed requests."
            return TelnyxError(429, "10011", detail, headers=headers).response()
        try:
            response = await handler(Call(request, sandbox, key, request_id_of(request)))
        except TelnyxError as exc:
            if exc.status == 400:
                sandbox.stats.incr("badRequests")
            exc.headers = {**headers, **exc.headers}
            return exc.response()
        except Exception:
            log.exception("sandbox handler %s failed", request.url.path)
            return TelnyxError(500, "10007", "An unexpected error occurred.", headers=headers).response()
        response.headers.update(headers)
        return response

    return endpoint


# -- POST /v2/messages ------------------------------------------------------------------------------


async def send_message(call: Call) -> Response:
    """An injected fault if one is pending for ``telnyx``, else the real send."""
    sandbox = call.sandbox
    sandbox.stats.incr("telnyxSendRequests")
    fault = sandbox.faults.take("telnyx")
    if fault is None:
        return await _send(call)
    sandbox.stats.incr("faultsFired")
    if fault.kind == "status":
        code = FAULT_CODES.get(fault.status, "10007" if fault.status >= 500 else "10015")
        raise TelnyxError(fault.status, code, f"sandbox fault: HTTP {fault.status}")
    if fault.kind == "rate_limit":
        sandbox.stats.incr("rateLimited")
        headers = {"Retry-After": "1", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "1"}
        raise TelnyxError(429, "10011", "You have exceeded the maximum number of allowed requests.", headers=headers)
    if fault.kind == "html":
        return bad_gateway_page()
    if fault.kind == "timeout":
        await hang_until_disconnect(call.request)
        raise TelnyxError(504, "10008", "sandbox fault: gateway timeout")
    # drop_after_commit: the send is processed and recorded as usual, then the answer is lost.
    with contextlib.suppress(TelnyxError):
        await _send(call)
    return DroppedResponse()


def _fingerprint(request: Request, raw: bytes) -> str:
    """What makes two requests with one key "the same": the query string and the exact body bytes."""
    digest = hashlib.sha256(request.url.query.encode() + b"\n" + raw)
    return digest.hexdigest()


def _replay(record: IdempotencyRecord, fingerprint: str, call: Call) -> Response:
    if record.fingerprint != fingerprint:
        call.sandbox.stats.incr("conflicts")
        raise TelnyxError(
            422,
            "10015",
            "This Idempotency-Key was already used with a different request; nothing was sent.",
            parameter="Idempotency-Key",
        )
    call.sandbox.stats.incr("telnyxReplays")
    return Response(
        record.body,
        status_code=record.status,
        media_type="application/json",
        headers={"Idempotent-Replayed": "true"},
    )


def _idempotency_key(call: Call) -> str | None:
    key = call.request.headers.get("idempotency-key")
    if key is None:
        return None
    if not IDEMPOTENCY_KEY_RE.match(key):
        raise TelnyxError(
            400,
            "10015",
            "The Idempotency-Key must be 1 to 255 letters, digits, hyphens, underscores or colons.",
            parameter="Idempotency-Key",
        )
    return key


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw.strip() else None
    except ValueError:
        raise bad_request("10015", "The request body is not valid JSON.") from None


def _new_message(send: TelnyxSend, now: float, delay: float) -> tuple[NewMessage, MessageRow, dict[str, Any]]:
    """The ledger row, the same row in memory (for the answer) and the Telnyx-only data."""
    final = final_status_for(send.to)
    kind = send.type.lower()
    message = NewMessage(send.to, send.text or "", send.size.parts, send.size.parts, kind, final)
    release = max(now, send.send_at) if send.send_at is not None else now
    timeline = Timeline(now, release, release + delay / 2, release + delay, final)
    message_id = str(uuid.uuid4())
    row = MessageRow(
        0, message_id, None, send.to, message.text, message.parts, message.credits, kind,
        None, None, None, timeline, provider="telnyx",
    )  # fmt: skip
    data = {
        "type": send.type,
        "from": send.from_,
        "messaging_profile_id": send.messaging_profile_id,
        "text": send.text,
        "subject": send.subject,
        "media_urls": list(send.media_urls),
        "webhook_url": send.webhook_url,
        "webhook_failover_url": send.webhook_failover_url,
        "use_profile_webhooks": send.use_profile_webhooks,
        "encoding": send.size.encoding,
        "cost": cost_of(send.size.parts),
    }
    return message, row, data


async def _send(call: Call) -> Response:
    sandbox, request = call.sandbox, call.request
    key = _idempotency_key(call)
    raw = await request.body()
    fingerprint = _fingerprint(request, raw)
    now = time.time()
    if key is not None:
        earlier = sandbox.store.get_idempotency(key, request.method, request.url.path, now)
        if earlier is not None:
            return _replay(earlier, fingerprint, call)
    try:
        send = parse_telnyx_send(_decode(raw), now)
        check_not_stopped(send, sandbox.store.opted_out())
    except TelnyxError:
        sandbox.stats.incr("telnyxRefused")
        raise
    message, row, data = _new_message(send, now, sandbox.settings.delivery_delay_s)
    body = json.dumps({"data": message_payload(row, data, now, accepted=True)}, separators=(",", ":"))
    record = None
    if key is not None:
        record = IdempotencyRecord(key, request.method, request.url.path, fingerprint, 200, body, now)
    earlier = await anyio.to_thread.run_sync(
        lambda: sandbox.store.record_telnyx(
            message,
            message_id=row.message_id,
            data=data,
            now=now,
            release_at=send.send_at,
            delivery_delay_s=sandbox.settings.delivery_delay_s,
            idempotency=record,
        )
    )
    if earlier is not None:  # a concurrent request with the same key won the race
        return _replay(earlier, fingerprint, call)
    sandbox.stats.incr("telnyxSendsAccepted")
    return Response(body, media_type="application/json")


# -- GET /v2/messages/{id}, GET /v2/balance ------------------------------------------------------------


async def get_message(call: Call) -> Response:
    message_id = call.request.path_params["message_id"]
    found = call.sandbox.store.get_telnyx(message_id)
    if found is None:
        raise TelnyxError(404, "10005", "The requested resource or URL could not be found.", pointer="/id")
    row, data = found
    return _json({"data": message_payload(row, data, time.time())})


async def balance(call: Call) -> Response:
    return _json(balance_payload(call.sandbox.store.telnyx_spent()))


def not_found(request: Request, status: int) -> Response:
    """Unknown ``/v2`` paths (404) and wrong methods (405) with Telnyx's body."""
    if status == 405:
        return TelnyxError(405, "10015", "The HTTP method is not allowed on this path.").response()
    return TelnyxError(404, "10005", "The requested resource or URL could not be found.").response()


ROUTES = [
    Route("/v2/messages", telnyx_endpoint(send_message), methods=["POST"]),
    Route("/v2/messages/{message_id}", telnyx_endpoint(get_message), methods=["GET"]),
    Route("/v2/balance", telnyx_endpoint(balance), methods=["GET"]),
]
