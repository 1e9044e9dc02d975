"""MtaDeliveryTrigger: polls the SMS API's delivery data in the triggerer until the delivery rule decides."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_mta.core.delivery import MAX_PAGE_SIZE, DeliveryRule, describe_failures
from airflow_provider_mta.core.delivery_tracker import DeliveryTarget, DeliveryTracker, PageRequest

if TYPE_CHECKING:
    from airflow_provider_mta.hooks.sms import SmsHook

CLASSPATH = "airflow_provider_mta.triggers.delivery.MtaDeliveryTrigger"


class MtaDeliveryTrigger(BaseTrigger):
    """
    Check MTA's delivery statuses every ``poll_interval`` seconds; yield one event when decided.

    The event is ``{"status": "success" | "failed" | "timeout" | "error", "summary": ..., "message": ...}``
    with JSON-safe values only. A check pages ``GET /deliveries`` per message id (one request per page)
    or, with outbound ids only, asks each pending message's delivery report, at most
    ``max_requests_per_check`` requests a check (the next check carries on where it stopped). A 429 is
    waited out (``Retry-After``) and the check goes on from the refused request: it is not a failed
    check. 5xx and network errors end the check, keeping what it learned, and the next one follows
    with exponential backoff, at most ``max_errors`` failed checks in a row; any other error ends the
    trigger at once. The first check waits
    one interval too (the sensor has just checked). Everything needed to resume is in the kwargs, so
    a trigger restarted from :meth:`serialize` (triggerer restart) simply carries on.

    :param outbound_ids: Outbound ids to watch (None: every recipient of ``message_ids``).
    :param message_ids: Message ids (one per ``/send``) whose recipients to watch.
    :param expected: How many recipients the message ids reached, when known.
    :param min_delivered: None (all), a count or a fraction (see ``DeliveryRule``).
    :param fail_on: ``"any"``, ``"never"``, a number or a fraction of failures allowed.
    :param sms_conn_id: The SMS API's connection (looked up asynchronously).
    :param provider: Its connection type (``mta``, ``telnyx``, ``bird``), which picks the hook without a sync lookup.
    :param mta_conn_id: The older name of ``sms_conn_id`` (kept so triggers serialized by older versions resume).
    :param poll_interval: Seconds between checks.
    :param deadline: Unix time after which a ``timeout`` event is yielded (None: none of its own).
    :param page_size: Rows per ``/deliveries`` request (1..1000).
    :param max_requests_per_check: Requests one check may make (None: a whole round).
    :param webhook_grace_s: Read the statuses the connection's webhooks stored before each check, and ask the
        API only about messages nothing was heard of for this long (None: poll only).
    :param webhook_store_conn_id: The webhook event store's connection (None: the default SQLite file).
    :param max_errors: Failed checks in a row (5xx/network) before an ``error`` event.
    :param max_backoff: Longest wait after a failed check, in seconds.
    """

    def __init__(
        self,
        *,
        outbound_ids: list[int | str] | None = None,
        message_ids: list[str] | None = None,
        expected: int | None = None,
        min_delivered: int | float | None = None,
        fail_on: str | int | float = "any",
        sms_conn_id: str | None = None,
        provider: str = "mta",
        mta_conn_id: str | None = None,
        poll_interval: float = 30.0,
        deadline: float | None = None,
        page_size: int = MAX_PAGE_SIZE,
        max_requests_per_check: int | None = None,
        webhook_grace_s: float | None = None,
        webhook_store_conn_id: str | None = None,
        max_errors: int = 5,
        max_backoff: float = 300.0,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.outbound_ids = [_id(i) for i in outbound_ids] if outbound_ids is not None else None
        self.message_ids = [str(m) for m in message_ids or ()]
        self.expected = expected
        self.rule = DeliveryRule(min_delivered=min_delivered, fail_on=fail_on)
        self.sms_conn_id = sms_conn_id or mta_conn_id or "mta_default"
        self.provider = provider
        self.poll_interval = float(poll_interval)
        self.deadline = float(deadline) if deadline is not None else None
        self.page_size = int(page_size)
        self.max_requests_per_check = int(max_requests_per_check) if max_requests_per_check is not None else None
        self.webhook_grace_s = float(webhook_grace_s) if webhook_grace_s is not None else None
        self.webhook_store_conn_id = webhook_store_conn_id
        self.max_errors = int(max_errors)
        self.max_backoff = float(max_backoff)
        self.target = DeliveryTarget(
            outbound_ids=tuple(self.outbound_ids) if self.outbound_ids is not None else None,
            message_ids=tuple(self.message_ids),
            expected=expected,
        )

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            CLASSPATH,
            {
                "outbound_ids": self.outbound_ids,
                "message_ids": self.message_ids,
                "expected": self.expected,
                "min_delivered": self.rule.min_delivered,
                "fail_on": self.rule.fail_on,
                "sms_conn_id": self.sms_conn_id,
                "provider": self.provider,
                "poll_interval": self.poll_interval,
                "deadline": self.deadline,
                "page_size": self.page_size,
                "max_requests_per_check": self.max_requests_per_check,
                "webhook_grace_s": self.webhook_grace_s,
                "webhook_store_conn_id": self.webhook_store_conn_id,
                "max_errors": self.max_errors,
                "max_backoff": self.max_backoff,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll until decided, then yield exactly one event."""
        yield TriggerEvent(await self._poll())  # type: ignore[no-untyped-call]

    async def _poll(self) -> dict[str, Any]:
        from airflow_provider_mta.core.errors import MtaError
        from airflow_provider_mta.core.retry import is_retryable
        from airflow_provider_mta.hooks.sms import hook_class

        try:
            hook = hook_class(self.provider, conn_id=self.sms_conn_id)(self.sms_conn_id, max_retries=0)  # own backoff
            client = await hook.aget_conn()
        except Exception as exc:  # connection missing or misconfigured: nothing to retry
            return {"status": "error", "summary": None, "message": f"{type(exc).__name__}: {exc}"}
        tracker = DeliveryTracker(
            self.target,
            page_size=self.page_size,
            max_requests_per_check=self.max_requests_per_check,
            webhook_grace_s=self.webhook_grace_s,
        )
        summary: dict[str, Any] | None = None
        errors, wait = 0, self.poll_interval
        self.log.info("Waiting for MTA deliveries of %s (%s)", self.target.describe(), self.rule.describe())
        async with client:
            while True:
                await asyncio.sleep(self._bounded(wait))
                if self.deadline is not None and time.time() >= self.deadline:
                    return self._timeout(summary)
                try:
                    summary = await self._check(hook, client, tracker)
                except MtaError as exc:
                    if not is_retryable(exc):
                        return {"status": "error", "summary": summary, "message": str(exc)}
                    errors += 1
                    if errors > self.max_errors:
                        message = f"gave up after {errors} failed checks in a row: {exc}"
                        return {"status": "error", "summary": summary, "message": message}
                    wait = self._backoff(errors, exc)
                    self.log.warning("MTA delivery check failed (%s); next check in %.1fs", exc, wait)
                    continue
                errors, wait = 0, self.poll_interval
                self.log.info("%s deliveries: %s (%s)", hook.api_name, summary["reason"], tracker.progress())
                if summary["state"] != "pending":
                    return self._decided(summary)

    async def _check(self, hook: SmsHook, client: Any, tracker: DeliveryTracker) -> dict[str, Any]:
        from airflow_provider_mta.core.errors import MtaRateLimitError

        if self.webhook_grace_s is not None:
            from airflow_provider_mta.utils.delivery_webhooks import refresh_from_webhooks

            await asyncio.to_thread(
                refresh_from_webhooks, tracker, conn_id=self.sms_conn_id, store_conn_id=self.webhook_store_conn_id
            )
        tracker.start_check()
        while (request := tracker.next_request()) is not None:
            try:
                if isinstance(request, PageRequest):
                    answer: Any = await hook.alist_deliveries(
                        message_id=request.message_id, page=request.page, page_size=request.page_size, client=client
                    )
                else:
                    answer = await hook.aget_delivery_report(request.outbound_id, client=client)
            except MtaRateLimitError as exc:
                tracker.retry(request)
                if self.deadline is not None and time.time() >= self.deadline:
                    raise
                wait = self._bounded(self._backoff(1, exc))
                self.log.info("%s asked to slow down (429); the check goes on in %.1fs", hook.api_name, wait)
                await asyncio.sleep(wait)
                continue
            except Exception:
                tracker.retry(request)  # what this check learned is kept; the next check asks again
                raise
            tracker.feed(request, answer)
        return tracker.summary(self.rule)

    def _bounded(self, wait: float) -> float:
        if self.deadline is None:
            return wait
        return max(min(wait, self.deadline - time.time()), 0.0)

    def _backoff(self, errors: int, exc: Exception) -> float:
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return float(min(retry_after, max(self.max_backoff, self.poll_interval)))
        return float(min(self.poll_interval * 2**errors, max(self.max_backoff, self.poll_interval)))

    def _decided(self, summary: dict[str, Any]) -> dict[str, Any]:
        message = f"MTA deliveries: {summary['reason']}"
        if summary["failures"]:
            message += f"; failed: {describe_failures(summary)}"
        return {"status": summary["state"], "summary": summary, "message": message}

    def _timeout(self, summary: dict[str, Any] | None) -> dict[str, Any]:
        progress = f" ({summary['reason']})" if summary else ""
        return {"status": "timeout", "summary": summary, "message": f"Sensor has timed out{progress}"}


def _id(value: Any) -> int | str:
    """An outbound id as the API gave it: MTA's integers (also when serialized as text), others' strings."""
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        return int(value)
    return str(value)
