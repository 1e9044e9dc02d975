"""MtaNotifier: text on-call from ``on_failure_callback`` and friends (sync ``notify``, async ``async_notify``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseNotifier

from airflow_provider_mta.core.length import SMS_MAX_CHARS as SMS_LIMIT
from airflow_provider_mta.hooks.sms import SmsHook, get_sms_hook, resolve_conn_id
from airflow_provider_mta.notifications.callback_event import callback_event

if TYPE_CHECKING:
    import jinja2
    from airflow.sdk import Context

    from airflow_provider_mta.hooks.failover import FailoverResult, FailoverSender
    from airflow_provider_mta.notifications.page_storm import StormControl, Triage


class MtaNotifier(BaseNotifier):
    """
    Send an SMS when a task or DAG run fails, retries or succeeds, or a deadline is missed.

    With ``message=None`` the text is built to fit one SMS: state, dag, task, try, run and, when
    it fits, the log link. A callback fired again for the same dag/run/task/try/state reuses its
    request id, so nobody is texted twice by the same vendor; a failed SMS is logged, never raised, so it
    cannot hide the error of the task it reports.

    Failover: when the connection's vendor cannot text now (network error or timeout after retries, 5xx,
    401/402/403, 429 beyond the retry budget) the page goes through each of ``fallback_conn_ids`` in turn;
    a refused request (an invalid number) is not failed over. When the failure was ambiguous (the vendor
    may have texted) the page still goes through the fallback: twice beats never. A vendor that failed is
    skipped by later pages of this process for ``circuit_breaker``.

    :param subscribers: Phone numbers (or emails) to text.
    :param groups: MTA group ids to text (instead of ``subscribers``).
    :param message: Text, templated with the callback's context; default: the one-segment summary.
    :param sms_conn_id: The SMS API's connection: of type ``mta``, ``telnyx`` or ``bird``.
    :param mta_conn_id: The older name of ``sms_conn_id``.
    :param fallback_conn_ids: SMS connections to page through, in order, when the previous one cannot.
    :param cooldown: Storm control: pages to the same recipient within this window after a text fold into
        one digest sent when it closes (``timedelta(minutes=5)``); ``None`` (default) texts every page.
    :param state_conn_id: The SQL connection holding storm control's and the circuit breaker's state, shared
        by every worker (default: a SQLite file in ``$AIRFLOW_HOME``, shared by the processes of one machine).
    :param only_final_failure: Do not page for a failure callback fired while the task will still be
        retried (Airflow fires some after a worker restart); default True.
    :param circuit_breaker: How long a vendor that just failed is skipped by later pages (of every worker
        process that shares the state; default two minutes).
    :param retries_before_failover: With fallbacks, each vendor's retries before the page moves on
        (default 1, instead of the connection's ``max_retries``: a page with somewhere else to go should not
        wait out a long back-off); ``None`` keeps each connection's own.
    """

    template_fields: Sequence[str] = ("message", "subscribers", "groups", "sms_conn_id", "fallback_conn_ids")
    _render_error: str | None = None  # why a templated field did not render (logged by notify)

    def __init__(
        self,
        *,
        subscribers: list[str | int] | str | None = None,
        groups: list[int] | None = None,
        message: str | None = None,
        sms_conn_id: str | None = None,
        mta_conn_id: str | None = None,
        fallback_conn_ids: list[str] | None = None,
        cooldown: dt.timedelta | None = None,
        state_conn_id: str | None = None,
        only_final_failure: bool = True,
        circuit_breaker: dt.timedelta | None = None,
        retries_before_failover: int | None = 1,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        from airflow_provider_mta.core.errors import MtaConfigError
        from airflow_provider_mta.hooks.failover import fallback_conn_ids_of

        self.subscribers = subscribers
        self.groups = groups
        self.message = message
        self.sms_conn_id = resolve_conn_id(sms_conn_id=sms_conn_id, mta_conn_id=mta_conn_id, owner="MtaNotifier")
        self.fallback_conn_ids = fallback_conn_ids_of(fallback_conn_ids, primary=self.sms_conn_id, owner="MtaNotifier")
        for name, value in (("cooldown", cooldown), ("circuit_breaker", circuit_breaker)):
            if value is not None and (not isinstance(value, dt.timedelta) or value.total_seconds() <= 0):
                raise MtaConfigError(f"MtaNotifier: {name} must be a positive datetime.timedelta, got {value!r}")
        self.cooldown = cooldown
        self.state_conn_id = state_conn_id
        self.only_final_failure = only_final_failure
        self.circuit_breaker = circuit_breaker
        if retries_before_failover is not None and (
            not isinstance(retries_before_failover, int) or retries_before_failover < 0
        ):
            raise MtaConfigError(
                f"MtaNotifier: retries_before_failover must be an int >= 0 or None, got {retries_before_failover!r}"
            )
        self.retries_before_failover = retries_before_failover
        self.last_result: dict[str, Any] | None = None

    @property
    def mta_conn_id(self) -> str:
        """The older name of ``sms_conn_id``."""
        return self.sms_conn_id

    @cached_property
    def hook(self) -> SmsHook:
        """The hook of the primary connection's type."""
        return self.sender.hook(self.sms_conn_id)

    @cached_property
    def sender(self) -> FailoverSender:
        """The primary connection, then each fallback."""
        from airflow_provider_mta.core.failover import DEFAULT_BREAKER_S, PROCESS_BREAKER, CircuitBreaker
        from airflow_provider_mta.hooks.failover import FailoverSender

        breaker = PROCESS_BREAKER
        if self.fallback_conn_ids:  # only failover has use for a breaker; share it with every task process
            breaker = CircuitBreaker(
                open_for_s=self.circuit_breaker.total_seconds() if self.circuit_breaker else DEFAULT_BREAKER_S,
                shared=self._shared_state(),
            )
        retries = self.retries_before_failover if self.fallback_conn_ids else None
        # a page may use the slots each rate-limit window keeps for pages: it never queues behind a batch
        hook_params: dict[str, Any] = {"send_priority": "page"}
        if retries is not None:
            hook_params["max_retries"] = retries
        return FailoverSender(
            conn_ids=[self.sms_conn_id, *self.fallback_conn_ids],
            hook_params=hook_params,
            failover_on_ambiguous=True,
            breaker=breaker,
            get_hook=get_sms_hook,
        )

    def _shared_state(self) -> Any:
        """The SQL state every worker sees (breaker trips), or None when it cannot be opened (then per process)."""
        from airflow_provider_mta.utils.page_storm_store import PageStormStore

        try:
            return PageStormStore(conn_id=self.state_conn_id).connect()
        except Exception as exc:
            self.log.warning("Shared page state unavailable (%s); the circuit breaker holds per process", exc)
            return None

    def render_template_fields(self, context: Context, jinja_env: jinja2.Environment | None = None) -> None:
        """Render with Jinja; a template error is kept for :meth:`notify` to log, never raised from a callback."""
        self._render_error = None
        try:
            super().render_template_fields(context, jinja_env)
        except Exception as exc:
            self._render_error = f"a templated field (message, subscribers, groups) does not render: {exc}"

    def _fields(self, context: Context) -> dict[str, Any]:
        fields: dict[str, Any] = {"message": self._fitted(self.message) if self.message else default_text(context)}
        if self.subscribers is not None:
            fields["subscribers"] = self.subscribers
        if self.groups is not None:
            fields["groups"] = self.groups
        return fields

    def _fitted(self, message: str) -> str:
        """The user's text, cut to one SMS with a visible marker when MTA would refuse it as too long."""
        from airflow_provider_mta.core.length import CUT_MARKER, SMS_MAX_CHARS, fit_sms, text_length

        fitted = fit_sms(message)
        if fitted != message:
            self.log.warning(
                "Page text is %d characters, over MTA's %d for an SMS: sent cut to fit, ending in %r",
                text_length(message),
                SMS_MAX_CHARS,
                CUT_MARKER,
            )
        return fitted

    def _request_id(self, context: Context, fields: dict[str, Any]) -> str:
        from airflow_provider_mta.core.idempotency import derive_request_id

        return derive_request_id("notify", *callback_event(context), fields.get("subscribers"), fields.get("groups"))

    def notify(self, context: Context) -> None:
        """Page the recipients through the first vendor that can; log (never raise) when none could.

        What happened is kept in :attr:`last_result` (``paged``, ``providers``, ``attempts``, ``folded``).
        """
        try:
            plan = self._plan(context)
            if plan is None:
                return
            _fields, request_id, requests = plan
            triage, storm = self._storm_triage(context, requests, request_id)
            if triage is not None and not triage.lead:
                self._folded(triage, storm, request_id)
                return
            if triage is not None:
                requests = _only(requests, triage.lead, triage.carried)
            outcome = self.sender.send(requests, request_id=request_id)
            if triage is not None and storm is not None:
                if not outcome.sent:
                    storm.lead_failed(triage)
                self._start_digests(triage, storm, request_id)
        except Exception as exc:
            self.log.error("SMS page not sent: %s", exc)
            self.last_result = {"paged": False, "providers": [], "reasons": str(exc)}
            return
        self._report(outcome, folded=len(triage.folded) if triage else 0)

    async def async_notify(self, context: Context) -> None:
        """Async twin of :meth:`notify` (used by the triggerer, e.g. for deadline alerts); no storm control."""
        try:
            plan = self._plan(context)
            if plan is None:
                return
            _fields, request_id, requests = plan
            outcome = await self.sender.asend(requests, request_id=request_id)
        except Exception as exc:
            self.log.error("SMS page not sent: %s", exc)
            self.last_result = {"paged": False, "providers": [], "reasons": str(exc)}
            return
        self._report(outcome, folded=0)

    # -- the steps of a page -------------------------------------------------------------------------

    def _plan(self, context: Context) -> tuple[dict[str, Any], str, dict[str, Any]] | None:
        """The fields, request id and each connection's request; None when this callback must not page."""
        if self.only_final_failure and will_retry(context, self):
            self.log.info(
                "Not paged: this failure callback fired while the task will still be retried "
                "(only_final_failure=True; on_retry_callback reports retries)"
            )
            self.last_result = {"paged": False, "providers": [], "reasons": "task will be retried"}
            return None
        self._raise_render_error()
        fields = self._fields(context)
        request_id = self._request_id(context, fields)
        requests = self.sender.prepare(lambda hook: hook.build_request(**fields))
        return fields, request_id, requests

    def _storm_triage(
        self, context: Context, requests: dict[str, Any], request_id: str
    ) -> tuple[Triage | None, StormControl | None]:
        """Lead or fold each recipient (storm control on); on any storage failure, page as if it were off."""
        if self.cooldown is None:
            return None, None
        primary = requests.get(self.sms_conn_id)
        recipients = _recipients(primary)
        if not recipients:
            return None, None
        try:
            from airflow_provider_mta.notifications.page_storm import StormControl, as_event_summary
            from airflow_provider_mta.utils.page_storm_store import PageStormStore

            storm = StormControl(
                cooldown_s=self.cooldown.total_seconds(), store=PageStormStore(conn_id=self.state_conn_id).connect()
            )
            return storm.triage(recipients, event_id=request_id, summary=as_event_summary(context)), storm
        except Exception as exc:
            self.log.warning("Storm control unavailable (%s); paging without it", exc)
            return None, None

    def _folded(self, triage: Triage, storm: StormControl | None, request_id: str) -> dict[str, Any]:
        from airflow_provider_mta.core.masking import mask_recipient

        if storm is not None:
            self._start_digests(triage, storm, request_id)
        who = ", ".join(mask_recipient(r) for r in triage.folded + triage.duplicate)
        self.log.info(
            "Not texted now (storm control): %s had a page in the last %s; folded into the digest%s",
            who,
            self.cooldown,
            " this worker sends when the window closes" if triage.owned else "",
        )
        self.last_result = {"paged": False, "folded": len(triage.folded), "providers": [], "reasons": "folded"}
        return self.last_result

    def _start_digests(self, triage: Triage, storm: StormControl, request_id: str) -> None:
        if not triage.owned:
            return
        for conn_id in self.sender.conn_ids:  # look connections up now: the thread may outlive the task
            try:
                _ = self.sender.hook(conn_id).settings
            except Exception as exc:
                self.log.warning("Digest fallback %r unusable: %s", conn_id, exc)
        storm.start_digests(triage.owned, event_id=request_id, send=self._send_digest, log=self.log)

    def _send_digest(self, text: str, recipient: str) -> bool:
        """Send one digest text (from the digest thread) through the same vendors; True when one texted."""
        from airflow_provider_mta.core.idempotency import derive_request_id

        fields = _recipient_fields(recipient)
        requests = self.sender.prepare(lambda hook: hook.build_request(message=text, **fields))
        outcome = self.sender.send(requests, request_id=derive_request_id("digest", recipient, text))
        report = self._report(outcome, folded=0, what="Page digest")
        return bool(report["paged"])

    def _report(self, outcome: FailoverResult, *, folded: int, what: str = "Page") -> dict[str, Any]:
        """Log which vendor paged (or, at ERROR, every vendor's reason) and keep the result."""
        result = {
            "paged": outcome.sent,
            "providers": outcome.providers,
            "conn_ids": outcome.conn_ids,
            "attempts": [a.describe() for a in outcome.attempts],
            "already_sent": any(r.already_sent for _, r in outcome.results),
            "folded": folded,
        }
        reasons = outcome.reasons()
        if outcome.sent:
            sent = sum(r.total_sent for _, r in outcome.results)
            if result["already_sent"] and not sent:
                self.log.info("%s for this event was already sent via %s; not sent again", what, outcome.providers[0])
            else:
                self.log.info(
                    "%s sent via %s to %d recipient(s)%s",
                    what,
                    " and ".join(f"{c} ({p})" for c, p in zip(outcome.conn_ids, outcome.providers, strict=True)),
                    sent,
                    f" after: {reasons}" if reasons else "",
                )
        else:
            self.log.error("SMS %s not sent by any vendor: %s", what.lower(), reasons or outcome.error)
        result["reasons"] = reasons
        self.last_result = result
        return result

    def _raise_render_error(self) -> None:
        if self._render_error:
            from airflow_provider_mta.core.errors import MtaValidationError

            raise MtaValidationError(self._render_error, field="message")


def will_retry(context: Any, notifier: Any = None) -> bool:
    """True when a failure callback fired while the task will still be retried.

    The task runner fires ``on_failure_callback`` only for a final failure (state ``failed``); a callback
    Airflow runs elsewhere (after a worker restart, apache/airflow#56942) may carry ``up_for_retry`` or
    ``running`` with tries left. Retrying = state not ``failed`` and ``try_number <= max_tries``; a notifier
    attached as the task's ``on_retry_callback`` seeing ``up_for_retry`` is a retry page, not this case.
    """
    ti = context.get("ti") or context.get("task_instance")
    if ti is None:
        return False  # a DAG-level callback or a deadline alert: no task to be retried
    state = str(getattr(ti, "state", "") or "").split(".")[-1].lower()
    if state in ("failed", "success", "skipped", "upstream_failed", "removed", ""):
        return False
    if state == "up_for_retry" and notifier is not None:
        callbacks = getattr(context.get("task"), "on_retry_callback", None) or []
        callbacks = callbacks if isinstance(callbacks, (list, tuple)) else [callbacks]
        if any(c is notifier for c in callbacks):
            return False
    try_number, max_tries = getattr(ti, "try_number", None), getattr(ti, "max_tries", None)
    if state == "up_for_retry":
        return True
    return isinstance(try_number, int) and isinstance(max_tries, int) and try_number <= max_tries


def _recipients(request: Any) -> list[str]:
    """The E.164 numbers (and ``group:<id>``) of a built request; [] when it could not be built."""
    if request is None or isinstance(request, BaseException):
        return []
    out = list(getattr(request, "subscribers", None) or [])
    out += [f"group:{g}" for g in getattr(request, "groups", None) or []]
    return out


def _recipient_fields(recipient: str) -> dict[str, Any]:
    if recipient.startswith("group:"):
        return {"groups": [int(recipient.partition(":")[2])]}
    return {"subscribers": [recipient]}


def _only(requests: dict[str, Any], lead: list[str], carried: dict[str, list[Any]]) -> dict[str, Any]:
    """Each connection's request cut to the leading recipients (with a note of pages no digest carried)."""
    from airflow_provider_mta.core.length import fit_sms
    from airflow_provider_mta.notifications.page_storm import carried_suffix

    keep = set(lead)
    out: dict[str, Any] = {}
    for conn_id, request in requests.items():
        if isinstance(request, BaseException):
            out[conn_id] = request
            continue
        update: dict[str, Any] = {}
        if request.subscribers:
            update["subscribers"] = [r for r in request.subscribers if r in keep]
        if getattr(request, "groups", None):
            update["groups"] = [g for g in request.groups if f"group:{g}" in keep]
        if carried and request.message:
            longest = max(carried.values(), key=len)
            update["message"] = fit_sms(request.message + carried_suffix(longest))
        out[conn_id] = request.model_copy(update=update)
    return out


send_mta_notification = MtaNotifier


def default_text(context: Any) -> str:
    """One GSM-7 SMS (<= 160 characters) that says where to look: state, dag.task, try, run, and a link.

    The link is the first that fits: ``ti.log_url``, else the task instance's page (that URL without its
    ``?try_number=`` query; the text names the try), else the DAG's page (``<base url>/dags/<dag_id>``),
    else the UI's base URL. An Airflow 3 log URL of a scheduled run is about 140 characters, so the task's
    page fits only with short names. A link to the task's page may replace the run id (it holds it); the
    DAG's page and the base URL come with the run id.
    """
    dag_id, run_id, task_id, map_index, try_number, state = callback_event(context)
    state_word = str(state or "event").split(".")[-1].replace("_", " ").upper()
    where = _clip(str(dag_id or "?"), 40) + (f".{_clip(str(task_id), 40)}" if task_id else "")
    if map_index is not None and map_index >= 0:
        where += f"[{map_index}]"
    text = f"Airflow {state_word}: {where}"
    if try_number:
        text += f" try {try_number}"
    run = f" run {_clip(str(run_id), 40)}" if run_id else ""
    ti = context.get("ti") or context.get("task_instance")
    candidates = []
    for link, to_the_task in _links(getattr(ti, "log_url", None), dag_id):
        # The task's page names the run itself; the DAG's page and the base URL need the run id beside them.
        if to_the_task:
            candidates += [f"{text}{run} log: {link}", f"{text} log: {link}"]
        else:
            candidates += [f"{text}{run}, logs at {link}"]
    for candidate in [*candidates, text + run]:
        if len(candidate) <= SMS_LIMIT:
            return _ascii(candidate)
    return _ascii(text)[:SMS_LIMIT]


def _links(log_url: str | None, dag_id: object) -> list[tuple[str, bool]]:
    """Airflow UI links, most precise first, each with whether it opens the task's log itself: ``log_url``, the
    task's page (without the query), the DAG's page, the base URL."""
    if not log_url:
        return []
    page = log_url.split("?", 1)[0]
    links = dict.fromkeys([log_url, page], True)
    base, found, _ = page.partition("/dags/")
    if found and base:
        links.update({f"{base}/dags/{dag_id}": False, base: False})
    return list(links.items())


def _clip(value: str, width: int) -> str:
    return value if len(value) <= width else value[: width - 2] + ".."


def _ascii(text: str) -> str:
    """Keep the default text GSM-7 (one part is 160 characters only in GSM-7)."""
    from airflow_provider_mta.core.segments import GSM7_BASIC

    return "".join(c if c in GSM7_BASIC else "?" for c in text)
