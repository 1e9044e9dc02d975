"""MtaReplySensor: wait until given recipients answer a text ("Reply YES to publish tonight's numbers")."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue

from airflow_provider_mta.core.reply_rule import DEFAULT_PATTERN, ReplyRule
from airflow_provider_mta.hooks.sms import resolve_conn_id
from airflow_provider_mta.utils.masked_fields import MaskedRendering

try:
    from airflow.sdk import conf
except ImportError:  # Airflow 3.1
    from airflow.configuration import conf  # type: ignore[no-redef,assignment]

try:
    from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSensorTimeout
except ImportError:  # Airflow 3.1
    from airflow.exceptions import (  # type: ignore[no-redef,attr-defined]
        AirflowException,
        AirflowFailException,
        AirflowSensorTimeout,
    )

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_mta.triggers.reply import MtaReplyTrigger


class MtaReplySensor(MaskedRendering, BaseSensorOperator):
    """
    Wait for a reply from ``recipients`` that matches ``pattern``, received through the SMS connection's
    webhooks (``POST /sms-webhooks/<conn_id>`` on the Airflow API server; see docs/webhooks.md).

    Replies count when received after ``since`` (default: when this DAG run started). With
    ``require="any"`` the first approving reply succeeds; with ``"all"`` every recipient must approve. A
    reply matching ``reject_pattern`` fails the task. The XCom lists every reply read (number masked, text,
    time, verdict). It reads the provider's webhook event store only: no request to the SMS API.

    :param recipients: The numbers whose answers count (one or a list; templated).
    :param pattern: Approving answer, a case-insensitive regular expression matched against the whole
        trimmed reply (default ``yes|y|approve|approved``).
    :param reject_pattern: A rejecting answer (e.g. ``no|n|reject``), or None.
    :param require: ``"any"`` or ``"all"``.
    :param since: A datetime, ISO 8601 text or Unix time (templated); default the DAG run's start.
    :param sms_conn_id: The SMS connection whose webhooks bring the replies.
    :param poll_interval: Seconds between reads of the event store.
    :param deferrable: Wait in the triggerer (default ``[operators] default_deferrable``).
    """

    template_fields: Sequence[str] = ("recipients", "since", "pattern", "reject_pattern", "sms_conn_id")
    masked_template_fields: Sequence[str] = ("recipients",)
    ui_color = "#b5e3d6"

    def __init__(
        self,
        *,
        recipients: str | list[str],
        pattern: str = DEFAULT_PATTERN,
        reject_pattern: str | None = None,
        require: str = "any",
        since: dt.datetime | str | float | None = None,
        sms_conn_id: str | None = None,
        mta_conn_id: str | None = None,
        poll_interval: float | timedelta = 10.0,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("poke_interval", poll_interval)
        super().__init__(**kwargs)
        ReplyRule(pattern=pattern, reject_pattern=reject_pattern, require=require)  # checked when the DAG is parsed
        self.recipients = recipients
        self.pattern = pattern
        self.reject_pattern = reject_pattern
        self.require = require
        self.since = since
        self.sms_conn_id = resolve_conn_id(sms_conn_id=sms_conn_id, mta_conn_id=mta_conn_id, owner="MtaReplySensor")
        self.deferrable = deferrable

    @cached_property
    def rule(self) -> ReplyRule:
        return ReplyRule(pattern=self.pattern, reject_pattern=self.reject_pattern, require=self.require)

    def number_keys(self) -> list[str]:
        """SHA-256 keys of the awaited numbers (normalized with the connection's default region)."""
        from airflow_provider_mta.core.phones import normalize_recipient
        from airflow_provider_mta.hooks.sms import get_sms_hook
        from airflow_provider_mta.utils.sms_event_store import number_key

        raw = self.unmasked("recipients")
        numbers = [raw] if isinstance(raw, (str, int)) else list(raw or ())
        if not numbers:
            raise AirflowFailException(f"{self.task_id}: recipients is empty: give the numbers whose reply counts")
        region = get_sms_hook(self.sms_conn_id).region
        return sorted({number_key(normalize_recipient(n, region=region)) for n in numbers})

    def since_timestamp(self, context: Context) -> float:
        """``since`` as Unix time; default the DAG run's start (else now)."""
        value = self.since
        if value is None or value == "":
            dag_run = context.get("dag_run")
            start = getattr(dag_run, "start_date", None)
            return start.timestamp() if start is not None else time.time()
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, dt.datetime):
            return value.timestamp()
        try:
            parsed = dt.datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            raise AirflowFailException(
                f"{self.task_id}: since {value!r} is not a datetime, ISO 8601 text or Unix time"
            ) from None
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)).timestamp()

    def build_trigger(self, context: Context, *, deadline: float | None) -> MtaReplyTrigger:
        from airflow.sdk import BaseHook

        from airflow_provider_mta.triggers.reply import MtaReplyTrigger

        extra = BaseHook.get_connection(self.sms_conn_id).extra_dejson or {}
        return MtaReplyTrigger(
            sms_conn_id=self.sms_conn_id,
            number_keys=self.number_keys(),
            since=self.since_timestamp(context),
            store_conn_id=extra.get("webhook_store_conn_id") or None,
            pattern=self.pattern,
            reject_pattern=self.reject_pattern,
            require=self.require,
            poll_interval=float(self.poke_interval),
            deadline=deadline,
        )

    def poke(self, context: Context) -> PokeReturnValue:
        summary = self.build_trigger(context, deadline=None).check()
        self.log.info("Replies: %s (%d read)", summary["reason"], len(summary["replies"]))
        if summary["state"] == "failed":
            raise AirflowFailException(f"Reply rejected: {summary['reason']}")
        return PokeReturnValue(is_done=summary["state"] == "success", xcom_value=summary)

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        done = self.poke(context)
        if done:
            return done.xcom_value
        self.defer(
            trigger=self.build_trigger(context, deadline=time.time() + self.timeout),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout),
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        event = event or {}
        status, summary = event.get("status"), event.get("summary")
        message = str(event.get("message") or f"unexpected trigger event {event!r}")
        if status == "success" and isinstance(summary, dict):
            self.log.info("Replies: %s", summary["reason"])
            return summary
        if status == "failed":
            raise AirflowFailException(f"Reply rejected: {message}")
        if status == "timeout":
            raise AirflowSensorTimeout(message)
        raise AirflowException(f"Reply check failed: {message}")
