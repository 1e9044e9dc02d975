"""MtaReplyTrigger: waits in the triggerer until stored webhook replies decide (reads the event store, not the API)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_mta.core.reply_rule import DEFAULT_PATTERN, ReplyRule

CLASSPATH = "airflow_provider_mta.triggers.reply.MtaReplyTrigger"


class MtaReplyTrigger(BaseTrigger):
    """
    Read the replies the webhook receiver stored every ``poll_interval`` seconds; yield one event when
    the rule decides or at ``deadline``: ``{"status": "success" | "failed" | "timeout" | "error", "summary",
    "message"}``. Its kwargs hold SHA-256 keys of the awaited numbers, never the numbers.

    :param sms_conn_id: The SMS connection whose webhook events to read.
    :param store_conn_id: The event store's common.sql connection (None: the default SQLite file).
    :param number_keys: SHA-256 of each awaited number's E.164 form.
    :param since: Unix time; only replies received after it count.
    """

    def __init__(
        self,
        *,
        sms_conn_id: str,
        number_keys: list[str],
        since: float,
        store_conn_id: str | None = None,
        pattern: str = DEFAULT_PATTERN,
        reject_pattern: str | None = None,
        require: str = "any",
        poll_interval: float = 10.0,
        deadline: float | None = None,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.sms_conn_id = sms_conn_id
        self.number_keys = list(number_keys)
        self.since = float(since)
        self.store_conn_id = store_conn_id
        self.rule = ReplyRule(pattern=pattern, reject_pattern=reject_pattern, require=require)
        self.poll_interval = float(poll_interval)
        self.deadline = float(deadline) if deadline is not None else None

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            CLASSPATH,
            {
                "sms_conn_id": self.sms_conn_id,
                "number_keys": self.number_keys,
                "since": self.since,
                "store_conn_id": self.store_conn_id,
                "pattern": self.rule.pattern,
                "reject_pattern": self.rule.reject_pattern,
                "require": self.rule.require,
                "poll_interval": self.poll_interval,
                "deadline": self.deadline,
            },
        )

    def check(self) -> dict[str, Any]:
        """One read of the store (blocking: run it in a thread)."""
        from airflow_provider_mta.utils.sms_event_store import SmsEventStore

        store = SmsEventStore(conn_id=self.store_conn_id)
        try:
            replies = store.events_since(
                conn_id=self.sms_conn_id, kinds=["reply"], since=self.since, number_keys=self.number_keys
            )
        finally:
            store.close()
        return self.rule.decide(replies, awaited=len(set(self.number_keys)))

    async def run(self) -> AsyncIterator[TriggerEvent]:
        yield TriggerEvent(await self._wait())  # type: ignore[no-untyped-call]

    async def _wait(self) -> dict[str, Any]:
        summary: dict[str, Any] | None = None
        while True:
            try:
                summary = await asyncio.to_thread(self.check)
            except Exception as exc:  # the store is unreachable or misconfigured: say so, do not spin
                return {"status": "error", "summary": summary, "message": f"{type(exc).__name__}: {exc}"}
            if summary["state"] != "pending":
                return {"status": summary["state"], "summary": summary, "message": summary["reason"]}
            if self.deadline is not None and time.time() >= self.deadline:
                return {
                    "status": "timeout",
                    "summary": summary,
                    "message": f"Sensor has timed out ({summary['reason']})",
                }
            wait = self.poll_interval
            if self.deadline is not None:
                wait = max(min(wait, self.deadline - time.time()), 0.0)
            await asyncio.sleep(wait)
