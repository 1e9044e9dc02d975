"""MtaDeliverySensor: wait until MTA reports a send's texts as delivered (poke or deferrable)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue

from airflow_provider_mta.core.delivery import MAX_PAGE_SIZE, DeliveryRule, describe_failures
from airflow_provider_mta.hooks.sms import SmsHook, get_sms_hook, resolve_conn_id

try:
    from airflow.sdk import conf
except ImportError:  # Airflow 3.1
    from airflow.configuration import conf  # type: ignore[no-redef,assignment]

try:
    from airflow.sdk.exceptions import (
        AirflowException,
        AirflowFailException,
        AirflowSensorTimeout,
        AirflowSkipException,
    )
except ImportError:  # Airflow 3.1
    from airflow.exceptions import (  # type: ignore[no-redef,attr-defined]
        AirflowException,
        AirflowFailException,
        AirflowSensorTimeout,
        AirflowSkipException,
    )

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_mta.core.delivery_tracker import DeliveryTarget, DeliveryTracker
    from airflow_provider_mta.triggers.delivery import MtaDeliveryTrigger


class MtaDeliverySensor(BaseSensorOperator):
    """
    Wait until the texts of a send are delivered (or a delivery rule says enough of them are).

    A 200 from ``/send`` only means "queued". This sensor reads MTA's delivery statuses (1 QUEUED ...
    4 DELIVERED ... 13 SEND_REJECTED) as pending, delivered or failed and applies the rule of
    :class:`~airflow_provider_mta.core.delivery.DeliveryRule`. Its XCom is a small summary: counts per
    outcome and status, and the failed recipients (masked) with their reasons. A dry-run result
    succeeds at once (nothing was sent). With ``deferrable=True`` it checks once, then hands the
    polling to :class:`~airflow_provider_mta.triggers.delivery.MtaDeliveryTrigger`.

    :param send_result: The XCom of ``SendSmsOperator`` or ``BatchPersonalizedSmsOperator``
        (``send_result=send.output``), or a list of them (mapped sends).
    :param outbound_ids: Instead of ``send_result``: outbound ids to watch.
    :param message_ids: Instead of ``send_result``: message ids (one per ``/send``) to watch.
    :param min_delivered: None: every message must be final and delivered (failures per ``fail_on``);
        an int: succeed once that many are delivered; a float in (0, 1]: that fraction.
    :param fail_on: ``"any"`` (default): fail once a failure makes the rule impossible; ``"never"``;
        an int: fail when more messages than that failed; a float in [0, 1): more than that fraction.
    :param deferrable: Defer to the triggerer between checks (default ``[operators] default_deferrable``).
    :param sms_conn_id: The SMS API's connection: of type ``mta``, ``telnyx`` or ``bird`` (its hook is picked by type).
    :param mta_conn_id: The older name of ``sms_conn_id``.
    :param poll_interval: Seconds (or a timedelta) between checks, in both modes.
    :param page_size: Rows per ``GET /deliveries`` request (up to 1000).
    :param max_requests_per_check: Requests one check may make (default: the API's, 10 for MTA so that
        polling stays under its general limit of 30 a minute); a large send is read over several
        checks, each carrying on where the last stopped, and the log says how far each got.
    :param use_webhooks: Read the statuses the connection's webhooks stored (``POST /sms-webhooks/<conn_id>``)
        and ask the API only about what they have not told (default: when the connection has a webhook secret).
    :param webhook_grace: Seconds (or a timedelta) to wait for a webhook before asking the API about a
        message still pending that nothing was heard of.
    :param opt_out_conn_id: A common.sql connection holding the shared opt-out table: numbers MTA reports
        as 11 STOPPED_NUMBER are added to it when the sensor finishes, so no later send texts them
        (default: the ``mta`` connection's extra ``opt_out_conn_id``; neither: nothing is recorded).
    :param opt_out_table: That table's name (default ``mta_opt_outs``).
    """

    template_fields: Sequence[str] = ("send_result", "outbound_ids", "message_ids", "sms_conn_id")
    template_fields_renderers = {"send_result": "json"}
    ui_color = "#b5e3d6"

    def __init__(
        self,
        *,
        send_result: Any = None,
        outbound_ids: list[int] | None = None,
        message_ids: list[str] | None = None,
        min_delivered: int | float | None = None,
        fail_on: str | int | float = "any",
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        sms_conn_id: str | None = None,
        mta_conn_id: str | None = None,
        poll_interval: float | timedelta = 30.0,
        page_size: int = MAX_PAGE_SIZE,
        max_requests_per_check: int | None = None,
        use_webhooks: bool | None = None,
        webhook_grace: float | timedelta = 300.0,
        opt_out_conn_id: str | None = None,
        opt_out_table: str | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("poke_interval", poll_interval)
        super().__init__(**kwargs)
        if send_result is None and outbound_ids is None and message_ids is None:
            raise ValueError(f"{self.task_id}: give send_result=<a send task's output> or outbound_ids/message_ids")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"{self.task_id}: page_size must be 1..{MAX_PAGE_SIZE}")
        if max_requests_per_check is not None and max_requests_per_check < 1:
            raise ValueError(f"{self.task_id}: max_requests_per_check must be 1 or more")
        rule = DeliveryRule(min_delivered=min_delivered, fail_on=fail_on)  # checked when the DAG is parsed
        self.send_result = send_result
        self.outbound_ids = outbound_ids
        self.message_ids = message_ids
        self.min_delivered = rule.min_delivered
        self.fail_on = rule.fail_on
        self.deferrable = deferrable
        self.sms_conn_id = resolve_conn_id(sms_conn_id=sms_conn_id, mta_conn_id=mta_conn_id, owner="MtaDeliverySensor")
        self.page_size = page_size
        self.max_requests_per_check = max_requests_per_check
        self.use_webhooks = use_webhooks
        self.webhook_grace = webhook_grace.total_seconds() if isinstance(webhook_grace, timedelta) else webhook_grace
        self.opt_out_conn_id = opt_out_conn_id
        self.opt_out_table = opt_out_table

    @property
    def mta_conn_id(self) -> str:
        """The older name of ``sms_conn_id``."""
        return self.sms_conn_id

    @cached_property
    def hook(self) -> SmsHook:
        """The hook of the connection's type (built on first use, never at DAG parse)."""
        return get_sms_hook(self.sms_conn_id)

    @cached_property
    def rule(self) -> DeliveryRule:
        return DeliveryRule(min_delivered=self.min_delivered, fail_on=self.fail_on)

    @cached_property
    def target(self) -> DeliveryTarget:
        """What to watch, from the rendered ``send_result`` or ids (read on first use, after rendering)."""
        from airflow_provider_mta.core.delivery_tracker import DeliveryTarget

        return DeliveryTarget.from_inputs(
            send_result=self.send_result, outbound_ids=self.outbound_ids, message_ids=self.message_ids
        )

    @cached_property
    def tracker(self) -> DeliveryTracker:
        from airflow_provider_mta.core.delivery_tracker import DeliveryTracker

        tracker = DeliveryTracker(
            self.target,
            page_size=self.page_size,
            max_requests_per_check=self.requests_per_check,
            webhook_grace_s=self.webhook_grace if self.webhooks[0] else None,
        )
        if not tracker.uses_pages and len(self.target.outbound_ids or ()) > 25:
            self.log.warning(
                "Watching %d outbound ids without message ids costs one request per id and check; "
                "pass send_result (or message_ids) to page GET /deliveries instead",
                len(self.target.outbound_ids or ()),
            )
        return tracker

    @cached_property
    def webhooks(self) -> tuple[bool, str | None]:
        """Whether statuses come from the connection's webhooks, and the event store's connection."""
        from airflow_provider_mta.utils.delivery_webhooks import webhooks_configured

        configured, store_conn_id = webhooks_configured(self.sms_conn_id)
        enabled = configured if self.use_webhooks is None else self.use_webhooks
        if enabled and not configured:
            self.log.warning(
                "use_webhooks=True but connection %r has no webhook secret: no event can be verified, so "
                "statuses will come from polling once the grace period passes",
                self.sms_conn_id,
            )
        return enabled, store_conn_id

    @property
    def requests_per_check(self) -> int | None:
        """The request budget of one check: the argument, else the API's default."""
        if self.max_requests_per_check is not None:
            return self.max_requests_per_check
        return self.hook.requests_per_check

    # -- checking -------------------------------------------------------------------------------

    def check(self) -> dict[str, Any]:
        """One check through the sync hook; returns the summary (``state`` pending/success/failed)."""
        from airflow_provider_mta.core.delivery_tracker import PageRequest

        tracker = self.tracker
        if self.webhooks[0]:
            from airflow_provider_mta.utils.delivery_webhooks import refresh_from_webhooks

            refresh_from_webhooks(tracker, conn_id=self.sms_conn_id, store_conn_id=self.webhooks[1])
        tracker.start_check()
        while (request := tracker.next_request()) is not None:
            try:
                if isinstance(request, PageRequest):
                    answer: Any = self.hook.list_deliveries(
                        message_id=request.message_id, page=request.page, page_size=request.page_size
                    )
                else:
                    answer = self.hook.get_delivery_report(request.outbound_id)
            except Exception:
                tracker.retry(request)  # what this check learned so far is kept; the next one asks again
                raise
            tracker.feed(request, answer)
        return tracker.summary(self.rule)

    def poke(self, context: Context) -> PokeReturnValue:
        if self.target.nothing_sent:
            why = "dry run" if self.target.dry_run else "the send reached no recipient"
            self.log.info("Nothing was sent (%s): nothing to wait for", why)
            return PokeReturnValue(is_done=True, xcom_value=_nothing_sent(why))
        summary = self.check()
        self.log.info(
            "%s deliveries of %s: %s (%s)",
            self.hook.api_name,
            self.target.describe(),
            summary["reason"],
            self.tracker.progress(),
        )
        return self._judge(summary)

    def record_opt_outs(self, summary: dict[str, Any]) -> int:
        """Add the numbers MTA reported as STOPPED to the opt-out table (when one is configured)."""
        stopped = int((summary.get("statuses") or {}).get("STOPPED_NUMBER", 0))
        if not stopped:
            return 0
        conn_id = self.opt_out_conn_id or self.hook.opt_out_conn_id
        if not conn_id:
            if stopped:
                self.log.warning(
                    "%d recipient(s) texted STOP; set opt_out_conn_id (or the connection extra) to remember them",
                    stopped,
                )
            return 0
        from airflow_provider_mta.compliance.opt_out_table import DEFAULT_TABLE, OptOutTable

        target = self.target
        failed_ids = [f["outbound_id"] for f in summary.get("failures") or () if f.get("status") == 11]
        numbers = self.hook.stopped_recipients(
            message_ids=list(target.message_ids),
            outbound_ids=[] if target.message_ids else [i for i in failed_ids if i is not None],
        )
        table = OptOutTable(conn_id=conn_id, table=self.opt_out_table or DEFAULT_TABLE)
        added = table.record(numbers, source="mta:STOPPED_NUMBER")
        self.log.info(
            "%d recipient(s) texted STOP: %d new in %s, never texted again by sends that read it",
            len(numbers),
            added,
            table,
        )
        return added

    def _judge(self, summary: dict[str, Any]) -> PokeReturnValue:
        if summary["state"] != "pending":
            self.record_opt_outs(summary)
        if summary["failures"]:
            self.log.warning("Failed deliveries: %s", describe_failures(summary))
        if summary["state"] == "failed":
            raise AirflowFailException(_failure_message(summary))
        return PokeReturnValue(is_done=summary["state"] == "success", xcom_value=summary)

    # -- deferrable -----------------------------------------------------------------------------

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        try:
            done = self.poke(context)
        except AirflowFailException as exc:
            if self.soft_fail or getattr(self, "never_fail", False):
                raise AirflowSkipException(f"Skipping due to soft_fail: {exc}") from exc
            raise
        if done:
            return done.xcom_value
        self.defer(
            trigger=self.build_trigger(deadline=time.time() + self.timeout),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout),
        )

    def build_trigger(self, *, deadline: float | None) -> MtaDeliveryTrigger:
        """The trigger that carries on polling (JSON-safe kwargs only)."""
        from airflow_provider_mta.triggers.delivery import MtaDeliveryTrigger

        target = self.target
        return MtaDeliveryTrigger(
            outbound_ids=list(target.outbound_ids) if target.outbound_ids is not None else None,
            message_ids=list(target.message_ids),
            expected=target.expected,
            min_delivered=self.min_delivered,
            fail_on=self.fail_on,
            sms_conn_id=self.sms_conn_id,
            provider=self.hook.conn_type,
            poll_interval=float(self.poke_interval),
            deadline=deadline,
            page_size=self.page_size,
            max_requests_per_check=self.requests_per_check,
            webhook_grace_s=self.webhook_grace if self.webhooks[0] else None,
            webhook_store_conn_id=self.webhooks[1],
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Resume after the trigger: return the summary, or raise (``soft_fail`` turns it into a skip)."""
        event = event or {}
        status, summary = event.get("status"), event.get("summary")
        message = str(event.get("message") or f"unexpected trigger event {event!r}")
        if status in ("success", "failed") and isinstance(summary, dict):
            self.record_opt_outs(summary)
        if status == "success" and isinstance(summary, dict):
            self.log.info("MTA deliveries of %s: %s", self.target.describe(), summary["reason"])
            if summary.get("failures"):
                self.log.warning("Failed deliveries: %s", describe_failures(summary))
            return summary
        if status == "failed" and isinstance(summary, dict):
            self.log.warning("Failed deliveries: %s", describe_failures(summary))
            raise AirflowFailException(_failure_message(summary))
        if status == "timeout":
            raise AirflowSensorTimeout(message)
        raise AirflowException(f"MTA delivery check failed: {message}")


def _failure_message(summary: dict[str, Any]) -> str:
    return f"MTA delivery failed: {summary['reason']}; failed: {describe_failures(summary)}"


def _nothing_sent(why: str) -> dict[str, Any]:
    return {
        "state": "success",
        "reason": f"nothing was sent ({why})",
        "total": 0,
        "delivered": 0,
        "failed": 0,
        "pending": 0,
        "statuses": {},
        "failures": [],
        "failures_not_shown": 0,
    }
