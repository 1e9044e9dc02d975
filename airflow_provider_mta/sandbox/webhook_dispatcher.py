"""Delivery-status webhooks: a ticker finds status changes, a worker POSTs them.

MTA messages (``/v3``) go to the registered delivery-status webhooks as signed V1 payloads; Telnyx
messages (``/v2``) go to their own ``webhook_url`` (then ``webhook_failover_url``, then the sandbox's
profile webhook) as ``message.sent`` and ``message.finalized`` events signed with Ed25519. Bird
messages go, when a Bird webhook is configured, to its URL as ``sms.outbound`` events signed with Bird's
scheme (``messagebird-signature`` over timestamp, URL and body). Other events (the replies of
``POST /_sandbox/reply``) are built with :meth:`WebhookDispatcher.mta_jobs`, :meth:`~WebhookDispatcher.telnyx_job`
and :meth:`~WebhookDispatcher.bird_job` and queued with :meth:`~WebhookDispatcher.enqueue`.

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

from airflow_provider_mta.backends.bird import webhook_signature as bird_signature
from airflow_provider_mta.backends.mta import webhook_signature as webhooks
from airflow_provider_mta.sandbox.bird_payload import bird_word, outbound_event
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
    for a ``/v2`` message with ``use_profile_webhooks`` (after its own URLs). ``bird_url`` and
    ``bird_signing_key`` are Bird's webhook subscription (None: no Bird webhooks).
    """

    def __init__(
        self,
        store: Store,
        stats: Stats,
        *,
        signer: WebhookSigner | None = None,
        telnyx_default_url: str | None = None,
        bird_url: str | None = None,
        bird_signing_key: str | None = None,
        interval_s: float = 0.05,
        timeout_s: float = 5.0,
        max_queue: int = 100_000,
    ) -> None:
        self._store = store
        self._stats = stats
        self._signer = signer
        self._telnyx_default_url = telnyx_default_url
        self._bird_url = bird_url
        self._bird_key = bird_signing_key
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
            elif message.provider == "bird":
                jobs = self._bird_jobs(at, status, message)
            elif not hooks:
                continue
            else:
                body = _compact(delivery_payload(message, status))
                jobs = [self._mta_job(hook, body) for hook in hooks]
            queued += self.enqueue(jobs)
        return queued

    def enqueue(self, jobs: list[Outgoing]) -> int:
        """Queue ``jobs`` without waiting; returns how many were queued (a full queue drops and counts
        the rest as failed)."""
        queued = 0
        for job in jobs:
            try:
                self._queue.put_nowait(job)
                queued += 1
            except asyncio.QueueFull:
                log.warning("webhook queue full; dropped %s", job.label)
                self._stats.incr("webhooksFailed")
        return queued

    def mta_jobs(self, event: str, payload: dict[str, Any]) -> list[Outgoing]:
        """``payload`` to every MTA webhook registered for ``event``, signed with its secret."""
        body = _compact(payload)
        return [self._mta_job(hook, body) for hook in self._store.list_webhooks() if hook.event == event]

    @staticmethod
    def _mta_job(hook: Webhook, body: bytes) -> Outgoing:
        def build(url: str) -> tuple[bytes, dict[str, str]]:
            return body, {"Content-Type": "application/json", "X-Signature": sign(hook.secret, body)}

        return Outgoing(f"webhook {hook.id}", (hook.url,), build)

    def telnyx_job(self, label: str, event_type: str, payload: dict[str, Any], at: float, urls: list[str]) -> Outgoing:
        """One Telnyx event around ``payload``, tried at ``urls`` in order, each try signed for its URL."""
        signer = self._signer
        assert signer is not None

        def build(url: str) -> tuple[bytes, dict[str, str]]:
            body = _compact(event_envelope(event_type, payload, at, url))
            return body, {"Content-Type": "application/json", **signer.headers(body)}

        return Outgoing(label, tuple(dict.fromkeys(urls)), build)

    @property
    def telnyx_profile_url(self) -> str | None:
        """The messaging profile's webhook URL (None: not configured)."""
        return self._telnyx_default_url

    def bird_job(self, label: str, event: dict[str, Any]) -> Outgoing | None:
        """``event`` to Bird's webhook URL, signed over that exact URL; None without a Bird webhook."""
        key = self._bird_key
        if self._bird_url is None or key is None:
            return None
        body = _compact(event)

        def build(url: str) -> tuple[bytes, dict[str, str]]:
            stamp = str(int(time.time()))
            signature = bird_signature.sign(body=body, url=url, timestamp=stamp, signing_key=key)
            return body, {
                "Content-Type": "application/json",
                bird_signature.SIGNATURE_HEADER: signature,
                bird_signature.TIMESTAMP_HEADER: stamp,
            }

        return Outgoing(label, (self._bird_url,), build)

    def _bird_jobs(self, at: float, status: int, message: MessageRow) -> list[Outgoing]:
        """``sent`` when it reaches SENT and its final word (``sending_failed``, ``delivered``,
        ``delivery_failed``) at its final status; nothing for a word already posted or not reached."""
        word = bird_word(status, message.timeline.final_status)
        if word == "accepted" or (word == "sent" and status != SENT) or self._bird_url is None:
            return []
        found = self._store.get_bird(message.message_id)
        if found is None:
            return []
        job = self.bird_job(f"bird {word} of {message.message_id}", outbound_event(message, found[1], word, at))
        return [job] if job is not None else []

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
        return [self.telnyx_job(f"telnyx {event_type} of {message.message_id}", event_type, payload, at, urls)]

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
