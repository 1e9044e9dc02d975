"""Delivery-status webhooks: a ticker finds status changes, a worker POSTs them.

MTA messages (``/v3``) go to the registered delivery-status webhooks as signed V1 payloads; Telnyx
messages (``/v2``) go to their own ``webhook_url`` (then ``webhook_failover_url``, then the sandbox's
profile webhook) as ``message.sent`` and ``message.finalized`` events signed with Ed25519. Bird
messages post nothing (Bird's webhooks are not simulated).

Statuses themselves are computed lazily from each message's timeline; the ticker only looks at the
time window since its last tick, so it costs two indexed queries per tick. Changes that happened
while the server was stopped are not re-sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from airflow_provider_mta.backends.mta import webhook_signature as webhooks
from airflow_provider_mta.sandbox.statuses import SENT
from airflow_provider_mta.sandbox.telnyx_payload import SENDING_FAILED_STATUSES, event_envelope, message_payload

if TYPE_CHECKING:
    from airflow_provider_mta.sandbox.stats import Stats
    from airflow_provider_mta.sandbox.store import MessageRow, Store, Webhook
    from airflow_provider_mta.sandbox.telnyx_signing import WebhookSigner

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


def _compact(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Outgoing:
    """One event to post: ``build(url)`` gives the body and headers for each URL, tried in order
    until one answers 2xx."""

    label: str
    urls: tuple[str, ...]
    build: Callable[[str], tuple[bytes, dict[str, str]]]


class WebhookDispatcher:
    """Fires a webhook for every SENT and final status reached while the server runs.

    ``signer`` signs the Telnyx events; ``telnyx_default_url`` is the "messaging profile" webhook used
    for a ``/v2`` message with ``use_profile_webhooks`` (after its own URLs).
    """

    def __init__(
        self,
        store: Store,
        stats: Stats,
        *,
        signer: WebhookSigner | None = None,
        telnyx_default_url: str | None = None,
        interval_s: float = 0.05,
        timeout_s: float = 5.0,
        max_queue: int = 100_000,
    ) -> None:
        self._store = store
        self._stats = stats
        self._signer = signer
        self._telnyx_default_url = telnyx_default_url
        self._interval = interval_s
        self._timeout = timeout_s
        self._queue: asyncio.Queue[Outgoing] = asyncio.Queue(maxsize=max_queue)
        self._last = time.time()
        self._seen_up_to = store.highest_outbound_id()
        self._tasks: list[asyncio.Task[None]] = []
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        self._last = time.time()
        self._seen_up_to = self._store.highest_outbound_id()
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
        queued = 0
        transitions, self._seen_up_to = self._store.transitions(after, now, seen_up_to=self._seen_up_to)
        for at, status, message in transitions:
            if message.provider == "telnyx":
                jobs = self._telnyx_jobs(at, status, message)
            elif message.provider != "mta" or not hooks:  # Bird's webhooks are not simulated
                continue
            else:
                body = _compact(delivery_payload(message, status))
                jobs = [self._mta_job(hook, body, message) for hook in hooks]
            for job in jobs:
                try:
                    self._queue.put_nowait(job)
                    queued += 1
                except asyncio.QueueFull:
                    log.warning("webhook queue full; dropped event of outbound id %s", message.outbound_id)
                    self._stats.incr("webhooksFailed")
        return queued

    @staticmethod
    def _mta_job(hook: Webhook, body: bytes, message: MessageRow) -> Outgoing:
        def build(url: str) -> tuple[bytes, dict[str, str]]:
            return body, {"Content-Type": "application/json", "X-Signature": sign(hook.secret, body)}

        return Outgoing(f"webhook {hook.id}", (hook.url,), build)

    def _telnyx_jobs(self, at: float, status: int, message: MessageRow) -> list[Outgoing]:
        """``message.sent`` when it reaches SENT (not for one that fails sending), ``message.finalized``
        at its final status; none when the message has no URL to go to."""
        if status == SENT and message.timeline.final_status in SENDING_FAILED_STATUSES:
            return []
        found = self._store.get_telnyx(message.message_id)
        if found is None or self._signer is None:
            return []
        _, data = found
        urls = [u for u in (data.get("webhook_url"), data.get("webhook_failover_url")) if u]
        if data.get("use_profile_webhooks", True) and self._telnyx_default_url:
            urls.append(self._telnyx_default_url)
        if not urls:
            return []
        event_type = "message.sent" if status == SENT else "message.finalized"
        payload = message_payload(message, data, at)
        signer = self._signer

        def build(url: str) -> tuple[bytes, dict[str, str]]:
            body = _compact(event_envelope(event_type, payload, at, url))
            return body, {"Content-Type": "application/json", **signer.headers(body)}

        return [Outgoing(f"telnyx {event_type} of {message.message_id}", tuple(dict.fromkeys(urls)), build)]

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                self.tick()
            except Exception:
                log.exception("webhook ticker failed; continuing")

    async def _work_loop(self) -> None:
        while True:
            job = await self._queue.get()
            await self._post(job)

    async def _post(self, job: Outgoing) -> None:
        assert self._client is not None
        for url in job.urls:
            body, headers = job.build(url)
            try:
                response = await self._client.post(url, content=body, headers=headers)
            except Exception as exc:  # never let a receiver crash the server
                log.warning("%s to %s failed: %s: %s", job.label, url, type(exc).__name__, exc)
                continue
            if response.is_success:
                self._stats.incr("webhooksDelivered")
                return
            log.warning("%s to %s answered HTTP %s", job.label, url, response.status_code)
        self._stats.incr("webhooksFailed")
