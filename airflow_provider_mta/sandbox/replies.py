"""``POST /_sandbox/reply``: the sandbox plays a person's phone texting the account back.

The reply is stored (the inbox lists it), counted (``repliesReceived``) and posted, through the webhook
dispatcher's queue, as the chosen vendor's inbound event: MTA's ``message-reply`` to every webhook
registered for it, Telnyx's ``message.received`` to the messaging profile's webhook, Bird's
``sms.inbound`` to Bird's webhook. A STOP word (:func:`~airflow_provider_mta.core.sms_event.is_stop_reply`)
opts the number out, as each vendor does, so later sends to it are refused as the sandbox refuses
opted-out numbers; a START word opts it back in. For MTA either one also posts ``number-opt-in`` to the
webhooks registered for that event. MTA's ``message-reply`` and ``number-opt-in`` shapes are not in MTA's
public docs: they are the sandbox's reading, kept here in one place.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from airflow_provider_mta.core.sms_event import is_start_reply, is_stop_reply
from airflow_provider_mta.sandbox.admin import phone_number
from airflow_provider_mta.sandbox.bird_payload import SANDBOX_SENDER, inbound_event
from airflow_provider_mta.sandbox.endpoint import Call, admin_endpoint
from airflow_provider_mta.sandbox.errors import ApiError
from airflow_provider_mta.sandbox.statuses import iso
from airflow_provider_mta.sandbox.store import PROVIDERS
from airflow_provider_mta.sandbox.telnyx_payload import SANDBOX_POOL_NUMBER, inbound_payload

if TYPE_CHECKING:
    from airflow_provider_mta.sandbox.state import Sandbox
    from airflow_provider_mta.sandbox.store import Reply
    from airflow_provider_mta.sandbox.webhook_dispatcher import Outgoing

MTA_ACCOUNT_NUMBER = "+13175550100"
"""The account's number an MTA reply is sent to when the request gives no ``to``."""
ACCOUNT_NUMBERS = {"mta": MTA_ACCOUNT_NUMBER, "telnyx": SANDBOX_POOL_NUMBER, "bird": SANDBOX_SENDER}
REPLY_EVENT = "message-reply"
OPT_IN_EVENT = "number-opt-in"
FORM_TYPE = "application/x-www-form-urlencoded"
_HINT = 'post {"from": PHONE, "text": TEXT, "provider": "mta" | "telnyx" | "bird", "to": PHONE (optional)}'


@dataclass(frozen=True)
class ReplyRequest:
    """A validated ``POST /_sandbox/reply``: numbers in E.164, ``to`` defaulted to the vendor's number."""

    provider: str
    from_number: str
    to_number: str
    text: str

    @property
    def opt_out(self) -> bool | None:
        """True for a STOP word, False for a START word, None for any other text."""
        if is_stop_reply(self.text):
            return True
        return False if is_start_reply(self.text) else None


def parse_reply(body: Any) -> ReplyRequest:
    """Validate a decoded body; 400 (numbers masked) on the first problem."""
    if not isinstance(body, dict):
        raise ApiError(400, _HINT)
    provider = body.get("provider") or "mta"
    if provider not in PROVIDERS:
        raise ApiError(400, f"provider must be one of {', '.join(PROVIDERS)}")
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ApiError(400, "text must be a non-empty string")
    if body.get("from") is None:
        raise ApiError(400, f"from is required: {_HINT}")
    sender = phone_number(body["from"], "from")
    to = body.get("to")
    receiver = phone_number(to, "to") if to else ACCOUNT_NUMBERS[provider]
    return ReplyRequest(provider, sender, receiver, text)


def mta_reply_payload(reply: Reply) -> dict[str, Any]:
    """MTA's ``message-reply`` body (the sandbox's reading)."""
    return {
        "event": REPLY_EVENT,
        "fromNumber": reply.from_number,
        "toNumber": reply.to_number,
        "message": reply.text,
        "threadId": reply.thread_id,
        "replyId": reply.reply_id,
        "receivedAt": iso(reply.received_at),
    }


def mta_opt_in_payload(reply: Reply, *, opt_in: bool) -> dict[str, Any]:
    """MTA's ``number-opt-in`` body (the sandbox's reading): ``keyword`` is the text as sent."""
    return {
        "event": OPT_IN_EVENT,
        "number": reply.from_number,
        "optIn": opt_in,
        "keyword": reply.text,
        "receivedAt": iso(reply.received_at),
    }


def reply_jobs(sandbox: Sandbox, reply: Reply, opt_out: bool | None) -> list[Outgoing]:
    """The webhook posts of one reply for its vendor (none where no webhook is configured)."""
    dispatcher = sandbox.webhooks
    label = f"{reply.provider} reply {reply.reply_id}"
    if reply.provider == "mta":
        jobs = dispatcher.mta_jobs(REPLY_EVENT, mta_reply_payload(reply))
        if opt_out is not None:
            jobs += dispatcher.mta_jobs(OPT_IN_EVENT, mta_opt_in_payload(reply, opt_in=not opt_out))
        return jobs
    if reply.provider == "telnyx":
        url = dispatcher.telnyx_profile_url
        if url is None:
            return []
        payload = inbound_payload(reply.from_number, reply.to_number, reply.text, reply.received_at)
        return [dispatcher.telnyx_job(label, "message.received", payload, reply.received_at, [url])]
    event = inbound_event(
        str(uuid.uuid4()),
        sandbox.settings.bird_channel_id,
        reply.from_number,
        reply.to_number,
        reply.text,
        reply.received_at,
    )
    job = dispatcher.bird_job(label, event)
    return [job] if job is not None else []


def receive(sandbox: Sandbox, request: ReplyRequest, now: float) -> tuple[int, bool | None]:
    """Store the reply, apply a STOP/START word to the opt-outs, queue its webhooks; ``(queued, optOut)``."""
    store, opt_out = sandbox.store, request.opt_out
    reply = store.record_reply(request.provider, request.from_number, request.to_number, request.text, now)
    if opt_out is True:
        store.add_opt_outs([request.from_number])
    elif opt_out is False:
        store.remove_opt_out(request.from_number)
    sandbox.stats.incr("repliesReceived")
    return sandbox.webhooks.enqueue(reply_jobs(sandbox, reply, opt_out)), opt_out


def _decode(raw: bytes, *, form: bool) -> Any:
    if form:
        return dict(parse_qsl(raw.decode("utf-8", errors="replace")))
    try:
        return json.loads(raw) if raw.strip() else None
    except ValueError:
        raise ApiError(400, "the request body is not valid JSON") from None


async def reply(call: Call) -> Response:
    """202 ``{"queued": N, "optOut": true | false | null}``; the inbox's form (form-encoded) is sent back to
    the inbox instead (303)."""
    headers = call.request.headers
    origin = headers.get("origin")
    if origin and urlsplit(origin).netloc != headers.get("host"):  # another site's page posting here
        raise ApiError(403, "cross-origin replies are refused")
    form = headers.get("content-type", "").split(";")[0].strip().lower() == FORM_TYPE
    request = parse_reply(_decode(await call.request.body(), form=form))
    queued, opt_out = receive(call.sandbox, request, time.time())
    if form:
        return RedirectResponse("/", status_code=303)
    return JSONResponse({"queued": queued, "optOut": opt_out}, status_code=202)


ROUTES = [Route("/_sandbox/reply", admin_endpoint(reply), methods=["POST"])]
