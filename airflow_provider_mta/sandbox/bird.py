"""Bird's Channels API (SMS only): send (``POST /workspaces/{ws}/channels/{ch}/messages``), retrieve
(``GET .../messages/{id}``) and the channel (``GET /workspaces/{ws}/channels/{ch}``), with
``Authorization: AccessKey <key>``, a rate limit per workspace on sends and Bird's error bodies.

A send goes: authentication (401 ``Unauthorized``), workspace and channel (404 ``NotFound``), rate limit
(429 ``TooManyRequests``), injected fault (provider ``bird``), body validation (:mod:`.bird_body`, 400
``BadRequest`` / 422 ``InvalidPayload``), STOP (422), then one SQLite transaction records one ledger row
per contact. Bird has no idempotency header: the same body (same ``reference`` too) twice is two texts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
import uuid
from typing import TYPE_CHECKING, Any

import anyio
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from airflow_provider_mta.core.segments import estimate
from airflow_provider_mta.sandbox.bird_body import BirdSend, check_not_stopped, parse_bird_send
from airflow_provider_mta.sandbox.bird_errors import BirdError, bad_request, code_for
from airflow_provider_mta.sandbox.bird_payload import channel_object, contact, message_object, stored_message
from airflow_provider_mta.sandbox.endpoint import Call, Endpoint, Handler, access_key, request_id_of
from airflow_provider_mta.sandbox.faults import DroppedResponse, bad_gateway_page, hang_until_disconnect
from airflow_provider_mta.sandbox.state import sandbox_of
from airflow_provider_mta.sandbox.statuses import final_status_for
from airflow_provider_mta.sandbox.store import NewMessage

if TYPE_CHECKING:
    from starlette.requests import Request

log = logging.getLogger("airflow_provider_mta.sandbox")

TOO_MANY = "too many requests; the request was not processed, retry after Retry-After seconds"


def bird_endpoint(handler: Handler, *, send: bool = False) -> Endpoint:
    """A Bird route: ``--latency-ms``, the access key (401), the workspace and channel (404), for a send
    the rate limit per workspace (429), then the handler; every error has Bird's body."""

    async def endpoint(request: Request) -> Response:
        sandbox = sandbox_of(request)
        settings = sandbox.settings
        if settings.latency_ms:
            await asyncio.sleep(settings.latency_ms / 1000)
        key = access_key(request, settings.api_keys)
        if key is None:
            sandbox.stats.incr("unauthorized")
            missing = "authorization" not in request.headers
            message = "no access key given (Authorization: AccessKey <key>)" if missing else "invalid access key"
            return BirdError(401, "Unauthorized", message).response()
        workspace = request.path_params["workspace_id"]
        channel = request.path_params["channel_id"]
        if workspace != settings.bird_workspace_id or channel != settings.bird_channel_id:
            return BirdError(404, "NotFound", "channel not found").response()
        if send:
            decision = sandbox.bird_limiter.hit(workspace)
            if decision and not decision.allowed:
                sandbox.stats.incr("rateLimited")
                retry_after = str(max(1, math.ceil(decision.reset_s - 1e-9)))
                return BirdError(429, "TooManyRequests", TOO_MANY, headers={"Retry-After": retry_after}).response()
        try:
            return await handler(Call(request, sandbox, key, request_id_of(request)))
        except BirdError as exc:
            if exc.status == 400:
                sandbox.stats.incr("badRequests")
            return exc.response()
        except Exception:
            log.exception("sandbox handler %s failed", request.url.path)
            return BirdError(500, "InternalServerError", "an unexpected error occurred").response()

    return endpoint


# -- POST /workspaces/{ws}/channels/{ch}/messages ---------------------------------------------------


async def send_message(call: Call) -> Response:
    """An injected fault if one is pending for ``bird``, else the real send."""
    sandbox = call.sandbox
    sandbox.stats.incr("birdSendRequests")
    fault = sandbox.faults.take("bird")
    if fault is None:
        return await _send(call)
    sandbox.stats.incr("faultsFired")
    if fault.kind == "status":
        raise BirdError(fault.status, code_for(fault.status), f"sandbox fault: HTTP {fault.status}")
    if fault.kind == "rate_limit":
        sandbox.stats.incr("rateLimited")
        raise BirdError(429, "TooManyRequests", TOO_MANY, headers={"Retry-After": "1"})
    if fault.kind == "html":
        return bad_gateway_page()
    if fault.kind == "timeout":
        await hang_until_disconnect(call.request)
        raise BirdError(504, "GatewayTimeout", "sandbox fault: gateway timeout")
    # drop_after_commit: the send is processed and recorded as usual, then the answer is lost.
    with contextlib.suppress(BirdError):
        await _send(call)
    return DroppedResponse(202)


def _decode(raw: bytes) -> Any:
    if not raw.strip():
        raise bad_request("the request body is empty; send a JSON object")
    try:
        return json.loads(raw)
    except ValueError:
        raise bad_request("the request body is not valid JSON") from None


def _rows(send: BirdSend, channel_id: str) -> list[tuple[str, NewMessage, dict[str, Any]]]:
    """Per contact: its message id, its ledger row and the data its ``GET`` answer needs."""
    cost = estimate(send.text)
    rows = []
    for number in send.recipients:
        data = {
            "channelId": channel_id,
            "contactId": str(uuid.uuid4()),
            "body": send.body,
            "reference": send.reference,
        }
        message = NewMessage(number, send.text, cost.parts, cost.credits, "sms", final_status_for(number))
        rows.append((str(uuid.uuid4()), message, data))
    return rows


async def _send(call: Call) -> Response:
    sandbox, request = call.sandbox, call.request
    channel_id = request.path_params["channel_id"]
    raw = await request.body()
    try:
        send = parse_bird_send(_decode(raw))
        check_not_stopped(send, sandbox.store.opted_out())
    except BirdError:
        sandbox.stats.incr("birdRefused")
        raise
    rows = _rows(send, channel_id)
    now = time.time()
    await anyio.to_thread.run_sync(
        lambda: sandbox.store.record_bird(
            rows, reference=send.reference, now=now, delivery_delay_s=sandbox.settings.delivery_delay_s
        )
    )
    sandbox.stats.incr("birdSendsAccepted")
    first_id, _, first_data = rows[0]
    contacts = [contact(data["contactId"], message.recipient) for _, message, data in rows]
    answer = message_object(
        first_id, channel_id, contacts, first_data, status="accepted", created_at=now, updated_at=now
    )
    return JSONResponse(answer, status_code=202)


# -- GET .../messages/{id}, GET /workspaces/{ws}/channels/{ch} --------------------------------------


async def get_message(call: Call) -> Response:
    found = call.sandbox.store.get_bird(call.request.path_params["message_id"])
    if found is None:
        raise BirdError(404, "NotFound", "message not found")
    row, data = found
    return JSONResponse(stored_message(row, data, time.time()))


async def get_channel(call: Call) -> Response:
    return JSONResponse(channel_object(call.request.path_params["channel_id"]))


def not_found(request: Request, status: int) -> Response:
    """Unknown paths under ``/workspaces`` (404) and wrong methods (405) with Bird's body."""
    if status == 405:
        return BirdError(405, "MethodNotAllowed", "the HTTP method is not allowed on this path").response()
    return BirdError(404, "NotFound", "not found").response()


_CHANNEL = "/workspaces/{workspace_id}/channels/{channel_id}"
ROUTES = [
    Route(_CHANNEL, bird_endpoint(get_channel), methods=["GET"]),
    Route(_CHANNEL + "/messages", bird_endpoint(send_message, send=True), methods=["POST"]),
    Route(_CHANNEL + "/messages/{message_id}", bird_endpoint(get_message), methods=["GET"]),
]
