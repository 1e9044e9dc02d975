"""The webhook receiver: ``POST /sms-webhooks/{conn_id}`` on the Airflow API server (see ``webhooks/plugin.py``).

For each request: look the connection up (404 when it is not an SMS connection), read at most
``max_body`` bytes (413 beyond), verify the vendor's signature with the connection's secret and parse
(:func:`~airflow_provider_mta.webhooks.receive.verify_and_parse`: 401 unsigned, wrongly signed, stale or
no secret configured; 400 not JSON), then store each event once (:class:`SmsEventStore`, so a replay is
stored once), add opt-outs to the connection's opt-out table, and record one Airflow asset event per
new event. Nothing is stored for a rejected request. The answer is 200 ``{"stored": n, "duplicates": m}``.
Neither the secret nor a full phone number is ever logged or answered.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from airflow_provider_mta.webhooks.receive import WebhookRejected, verify_and_parse, webhook_secret_of, webhook_url_of

log = logging.getLogger("airflow_provider_mta.webhooks")

SMS_CONN_TYPES = ("mta", "telnyx", "bird")
DEFAULT_MAX_BODY = 256 * 1024


def create_app(*, max_body: int = DEFAULT_MAX_BODY) -> FastAPI:
    """The FastAPI app the plugin mounts at ``/sms-webhooks``."""
    app = FastAPI(title="SMS webhooks", docs_url=None, redoc_url=None, openapi_url=None)

    @app.post("/{conn_id}")
    async def receive(conn_id: str, request: Request) -> JSONResponse:
        try:
            body = await _read_capped(request, max_body)
            result = await run_in_threadpool(
                _handle, conn_id=conn_id, headers=dict(request.headers), body=body, url=str(request.url)
            )
        except WebhookRejected as exc:
            log.warning("SMS webhook for %r refused (%d): %s", conn_id, exc.status, exc.reason)
            return JSONResponse({"error": exc.reason}, status_code=exc.status)
        return JSONResponse(result)

    return app


async def _read_capped(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise WebhookRejected(413, f"body over {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise WebhookRejected(413, f"body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _connection(conn_id: str) -> Any:
    from airflow.models.connection import Connection

    try:
        conn = Connection.get_connection_from_secrets(conn_id)
    except Exception:  # AirflowNotFoundException, or a secrets backend error: the same answer either way
        raise WebhookRejected(404, "no SMS connection by that id") from None
    if conn.conn_type not in SMS_CONN_TYPES:
        raise WebhookRejected(404, "no SMS connection by that id")
    return conn


def _handle(*, conn_id: str, headers: dict[str, str], body: bytes, url: str) -> dict[str, Any]:
    from airflow_provider_mta.utils.sms_event_store import SmsEventStore
    from airflow_provider_mta.webhooks.asset_events import emit_asset_events

    conn = _connection(conn_id)
    extra = conn.extra_dejson
    events = verify_and_parse(
        conn_type=conn.conn_type,
        headers=headers,
        body=body,
        url=webhook_url_of(conn, request_url=url),
        secret=webhook_secret_of(conn),
        now=time.time(),
    )
    store = SmsEventStore(conn_id=extra.get("webhook_store_conn_id") or None)
    try:
        new = store.record(conn_id=conn_id, events=events)
    finally:
        store.close()
    opted_out = [e.number for e in new if e.kind == "opt_out"]
    if opted_out and extra.get("opt_out_conn_id"):
        from airflow_provider_mta.compliance.opt_out_table import OptOutTable

        OptOutTable(conn_id=str(extra["opt_out_conn_id"])).record(opted_out, source=f"{conn.conn_type}:webhook")
    assets = emit_asset_events(conn_id=conn_id, events=new) if new else 0
    log.info(
        "SMS webhook for %r: %d event(s), %d new (%s), %d asset event(s)",
        conn_id,
        len(events),
        len(new),
        ", ".join(sorted({e.kind for e in new})) or "none",
        assets,
    )
    return {"stored": len(new), "duplicates": len(events) - len(new), "asset_events": assets}
