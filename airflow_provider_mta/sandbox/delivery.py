"""Delivery-status webhooks: a ticker finds status changes, a worker POSTs signed V1 payloads.

Statuses themselves are computed lazily from each message's timeline; the ticker only looks at the
time window since its last tick, so it costs two indexed queries per tick and nothing when no
webhook is registered. Changes that happened while the server was stopped are not re-sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import TYPE_CHECKING, Any

import httpx

from airflow_provider_mta.backends.mta import webhook_signature as webhooks

if TYPE_CHECKING:
    from airflow_provider_mta.sandbox.stats import Stats
    from airflow_provider_mta.sandbox.store import MessageRow, Store, Webhook

log = logging.getLogger("airflow_provider_mta.sandbox.delivery")

DELIVERY_STATUS_EVENT = "delivery-status"


def sign(secret: str, body: bytes) -> str:
    """``X-Signature``: lowercase hex HMAC-SHA256 of the raw body with the webhook's secret."""
    return webhooks.sign(secret, body)


def delivery_payload(message: MessageRow, status: int) -> dict[str, Any]:
    """MTA's V1 delivery-status payload; ``messageId`` is the outbound id."""
    return {
        "destinationNumber": message.recipient,
        "messageId": message.outbound_id,
        "externalId": message.external_id,
        "status": status,
        "tags": message.tags or {},
        "senderName": message.sender_name,
        "type": message.type,
    }


class WebhookDispatcher:
    """Fires a webhook for every SENT and final status reached while the server runs."""

    def __init__(
        self,
        store: Store,
        stats: Stats,
        *,
        interval_s: float = 0.05,
        timeout_s: float = 5.0,
        max_queue: int = 100_000,
    ) -> None:
        self._store = store
        self._stats = stats
        self._interval = interval_s
        self._timeout = timeout_s
        self._queue: asyncio.Queue[tuple[Webhook, bytes]] = asyncio.Queue(maxsize=max_queue)
        self._last = time.time()
        self._tasks: list[asyncio.Task[None]] = []
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        self._last = time.time()
        self._client = httpx.AsyncClient(timeout=self._timeout, trust_env=False, follow_redirects=False)
        self._tasks = [asyncio.create_task(self._tick_loop()), asyncio.create_task(self._work_loop())]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def clear(self) -> None:
        """Forget queued deliveries (``POST /_sandbox/reset``)."""
        while not self._queue.empty():
            self._queue.get_nowait()

    def tick(self, now: float | None = None) -> int:
        """Queue the webhooks for status changes since the last tick; returns how many were queued."""
        now = time.time() if now is None else now
        after, self._last = self._last, now
        hooks = [w for w in self._store.list_webhooks() if w.event == DELIVERY_STATUS_EVENT]
        if not hooks:
            return 0
        queued = 0
        for _, status, message in self._store.transitions(after, now):
            body = json.dumps(delivery_payload(message, status), separators=(",", ":")).encode()
            for hook in hooks:
                try:
                    self._queue.put_nowait((hook, body))
                    queued += 1
                except asyncio.QueueFull:
                    log.warning("webhook queue full; dropped event of outbound id %s", message.outbound_id)
                    self._stats.incr("webhooksFailed")
        return queued

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                self.tick()
            except Exception:
                log.exception("webhook ticker failed; continuing")

    async def _work_loop(self) -> None:
        while True:
            hook, body = await self._queue.get()
            await self._post(hook, body)

    async def _post(self, hook: Webhook, body: bytes) -> None:
        assert self._client is not None
        headers = {"Content-Type": "application/json", "X-Signature": sign(hook.secret, body)}
        try:
            response = await self._client.post(hook.url, content=body, headers=headers)
        except Exception as exc:  # never let a receiver crash the server
            log.warning("webhook %s to %s failed: %s: %s", hook.id, hook.url, type(exc).__name__, exc)
            self._stats.incr("webhooksFailed")
            return
        if response.is_success:
            self._stats.incr("webhooksDelivered")
        else:
            log.warning("webhook %s to %s answered HTTP %s", hook.id, hook.url, response.status_code)
            self._stats.incr("webhooksFailed")
