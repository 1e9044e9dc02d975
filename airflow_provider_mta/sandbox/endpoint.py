"""Endpoint wrappers: request id, latency, Bearer authentication and error bodies in one place."""

from __future__ import annotations

import asyncio
import hmac
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from airflow_provider_mta.sandbox.errors import ApiError, error_response
from airflow_provider_mta.sandbox.ratelimit import TOO_MANY_REQUESTS
from airflow_provider_mta.sandbox.state import Sandbox, sandbox_of

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

log = logging.getLogger("airflow_provider_mta.sandbox")


@dataclass(frozen=True)
class Call:
    """One authenticated request: the request, the sandbox, the API key used and the request id."""

    request: Request
    sandbox: Sandbox
    api_key: str | None
    request_id: str


Handler = Callable[[Call], Awaitable["Response"]]
Endpoint = Callable[["Request"], Awaitable["Response"]]


def bearer_key(request: Request, accepted: tuple[str, ...]) -> str | None:
    """The accepted API key in ``Authorization: Bearer <key>``, or None."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return _accepted(token, accepted)


def access_key(request: Request, accepted: tuple[str, ...]) -> str | None:
    """The accepted API key in Bird's ``Authorization: AccessKey <key>`` (the scheme exactly so), or None."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme != "AccessKey":
        return None
    return _accepted(token, accepted)


def _accepted(token: str, accepted: tuple[str, ...]) -> str | None:
    """The accepted key equal to ``token`` (compared in constant time), or None."""
    token = token.strip()
    if not token:
        return None
    matches = [key for key in accepted if hmac.compare_digest(key.encode(), token.encode())]
    return matches[0] if matches else None


def request_id_of(request: Request) -> str:
    return request.headers.get("x-request-id") or str(uuid.uuid4())


async def _run(handler: Handler, call: Call) -> Response:
    try:
        return await handler(call)
    except ApiError as exc:
        if exc.status == 400:
            call.sandbox.stats.incr("badRequests")
        return exc.response(call.request_id)
    except Exception:
        log.exception("sandbox handler %s failed", call.request.url.path)
        return error_response(500, "internal error in the sandbox", call.request_id)


def v3_endpoint(handler: Handler, *, general_limit: bool = True) -> Endpoint:
    """An MTA API route: ``--latency-ms`` first, then MTA's general limit per client address (unless
    ``general_limit`` is False: ``POST /send`` has its own), then the API key (401 with MTA's body).

    A general-limit 429 has the send limit's body and headers; every answer of a counted route carries
    the general limit's ``RateLimit-*`` headers.
    """

    async def endpoint(request: Request) -> Response:
        sandbox = sandbox_of(request)
        request_id = request_id_of(request)
        if sandbox.settings.latency_ms:
            await asyncio.sleep(sandbox.settings.latency_ms / 1000)
        address = request.client.host if request.client else ""
        decision = sandbox.general_limiter.hit(address) if general_limit else None
        headers = decision.headers() if decision else {}
        if decision and not decision.allowed:
            sandbox.stats.incr("generalRateLimited")
            return error_response(429, TOO_MANY_REQUESTS, request_id, headers=headers)
        key = bearer_key(request, sandbox.settings.api_keys)
        if key is None:
            sandbox.stats.incr("unauthorized")
            missing = "authorization" not in request.headers
            message = "No API key provided" if missing else "Invalid API key"
            response: Response = error_response(401, message, request_id)
        else:
            response = await _run(handler, Call(request, sandbox, key, request_id))
        response.headers.update(headers)
        return response

    return endpoint


def admin_endpoint(handler: Handler) -> Endpoint:
    """A ``/_sandbox/`` route: open on loopback, API key required when bound to another host."""

    async def endpoint(request: Request) -> Response:
        sandbox = sandbox_of(request)
        request_id = request_id_of(request)
        key = bearer_key(request, sandbox.settings.api_keys)
        if key is None and sandbox.settings.admin_requires_key:
            return error_response(401, "the sandbox admin routes need an API key on this host", request_id)
        return await _run(handler, Call(request, sandbox, key, request_id))

    return endpoint


def open_endpoint(handler: Handler) -> Endpoint:
    """A route that checks nothing itself; ``Call.api_key`` is the accepted key if one was given."""

    async def endpoint(request: Request) -> Response:
        sandbox = sandbox_of(request)
        key = bearer_key(request, sandbox.settings.api_keys)
        return await _run(handler, Call(request, sandbox, key, request_id_of(request)))

    return endpoint
