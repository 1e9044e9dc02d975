"""The Starlette app factory: ``create_app(settings)`` wires the MTA routes (``/v3``), the Telnyx routes
(``/v2``), Bird's routes (``/workspaces``), admin routes and lifespan."""

from __future__ import annotations

import uuid
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.exceptions import HTTPException

from airflow_provider_mta.sandbox import admin, bird, replies, telnyx, v3
from airflow_provider_mta.sandbox.errors import error_response
from airflow_provider_mta.sandbox.faults import install_log_filter
from airflow_provider_mta.sandbox.settings import Settings
from airflow_provider_mta.sandbox.state import Sandbox

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from starlette.requests import Request
    from starlette.responses import Response


async def _http_error(request: Request, exc: Exception) -> Response:
    """Unknown paths (404) and wrong methods (405) answer with MTA's error body too (Telnyx's under /v2,
    Bird's under /workspaces)."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if request.url.path.startswith("/v2/") and status in (404, 405):
        return telnyx.not_found(request, status)
    if (request.url.path + "/").startswith("/workspaces/") and status in (404, 405):
        return bird.not_found(request, status)
    messages = {404: f"Cannot {request.method} {request.url.path}", 405: "Method not allowed"}
    message = messages.get(status, "error")
    return error_response(status, message, request.headers.get("x-request-id") or str(uuid.uuid4()))


def create_app(settings: Settings | None = None) -> Starlette:
    """A new sandbox app. Its ledger opens now; webhooks start and everything closes with the lifespan."""
    settings = settings or Settings()
    sandbox = Sandbox(settings)
    install_log_filter()
    admin.install_access_log_redaction()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await sandbox.webhooks.start()
        try:
            yield
        finally:
            await sandbox.webhooks.stop()
            sandbox.close()

    app = Starlette(
        routes=[*v3.ROUTES, *telnyx.ROUTES, *bird.ROUTES, *admin.ROUTES, *replies.ROUTES],
        exception_handlers={HTTPException: _http_error},
        lifespan=lifespan,
    )
    app.state.sandbox = sandbox
    return app
