"""MtaNotifier: text on-call from ``on_failure_callback`` and friends (sync ``notify``, async ``async_notify``)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseNotifier

from airflow_provider_mta.core.length import SMS_MAX_CHARS as SMS_LIMIT
from airflow_provider_mta.hooks.sms import SmsHook, get_sms_hook, resolve_conn_id

if TYPE_CHECKING:
    import jinja2
    from airflow.sdk import Context


class MtaNotifier(BaseNotifier):
    """
    Send an SMS when a task or DAG run fails, retries or succeeds, or a deadline is missed.

    With ``message=None`` the text is built to fit one SMS: state, dag, task, try, run and, when
    it fits, the log link. A callback fired again for the same dag/run/task/try/state reuses its
    ``X-Request-Id``, so nobody is texted twice; a failed SMS is logged, never raised, so it cannot
    hide the error of the task it reports.

    :param subscribers: Phone numbers (or emails) to text.
    :param groups: MTA group ids to text (instead of ``subscribers``).
    :param message: Text, templated with the callback's context; default: the one-segment summary.
    :param sms_conn_id: The SMS API's connection: of type ``mta``, ``telnyx`` or ``bird`` (its hook is picked by type).
    :param mta_conn_id: The older name of ``sms_conn_id``.
    """

    template_fields: Sequence[str] = ("message", "subscribers", "groups", "sms_conn_id")
    _render_error: str | None = None  # why a templated field did not render (logged by notify)

    def __init__(
        self,
        *,
        subscribers: list[str | int] | str | None = None,
        groups: list[int] | None = None,
        message: str | None = None,
        sms_conn_id: str | None = None,
        mta_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.subscribers = subscribers
        self.groups = groups
        self.message = message
        self.sms_conn_id = resolve_conn_id(sms_conn_id=sms_conn_id, mta_conn_id=mta_conn_id, owner="MtaNotifier")

    @property
    def mta_conn_id(self) -> str:
        """The older name of ``sms_conn_id``."""
        return self.sms_conn_id

    @cached_property
    def hook(self) -> SmsHook:
        """The hook of the connection's type."""
        return get_sms_hook(self.sms_conn_id)

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
                "MTA notification text is %d characters, over MTA's %d for an SMS: sent cut to fit, ending in %r",
                text_length(message),
                SMS_MAX_CHARS,
                CUT_MARKER,
            )
        return fitted

    def _request_id(self, context: Context, fields: dict[str, Any]) -> str:
        from airflow_provider_mta.core.idempotency import derive_request_id

        return derive_request_id("notify", *_event(context), fields.get("subscribers"), fields.get("groups"))

    def notify(self, context: Context) -> None:
        """Text the recipients; log (never raise) when MTA cannot be reached or refuses."""
        try:
            self._raise_render_error()
            fields = self._fields(context)
            result = self.hook.send_message(request_id=self._request_id(context, fields), **fields)
        except Exception as exc:
            self.log.error("MTA notification not sent: %s", exc)
            return
        self._log_result(result.already_sent, result.total_sent)

    async def async_notify(self, context: Context) -> None:
        """Async twin of :meth:`notify` (used by the triggerer, e.g. for deadline alerts)."""
        try:
            self._raise_render_error()
            fields = self._fields(context)
            result = await self.hook.asend_message(request_id=self._request_id(context, fields), **fields)
        except Exception as exc:
            self.log.error("MTA notification not sent: %s", exc)
            return
        self._log_result(result.already_sent, result.total_sent)

    def _raise_render_error(self) -> None:
        if self._render_error:
            from airflow_provider_mta.core.errors import MtaValidationError

            raise MtaValidationError(self._render_error, field="message")

    def _log_result(self, already_sent: bool, total: int) -> None:
        if already_sent:
            self.log.info("MTA notification for this event was already sent; not sent again")
        else:
            self.log.info("MTA notification sent to %d recipient(s)", total)


send_mta_notification = MtaNotifier


def _event(context: Any) -> tuple[Any, ...]:
    """What identifies one callback event: dag, run, task, map index, try and state."""
    ti = context.get("ti") or context.get("task_instance")
    dag_run = context.get("dag_run")
    dag = context.get("dag")
    dag_id = getattr(ti, "dag_id", None) or getattr(dag_run, "dag_id", None) or getattr(dag, "dag_id", None)
    run_id = getattr(ti, "run_id", None) or getattr(dag_run, "run_id", None) or context.get("run_id")
    state = getattr(ti, "state", None) if ti is not None else getattr(dag_run, "state", None)
    return (
        dag_id,
        run_id,
        getattr(ti, "task_id", None),
        getattr(ti, "map_index", None),
        getattr(ti, "try_number", None),
        str(state) if state is not None else context.get("reason"),
    )


def default_text(context: Any) -> str:
    """One GSM-7 SMS (<= 160 characters): state, dag.task, try, run and the log link if it fits."""
    dag_id, run_id, task_id, map_index, try_number, state = _event(context)
    state_word = str(state or "event").split(".")[-1].replace("_", " ").upper()
    where = _clip(str(dag_id or "?"), 40) + (f".{_clip(str(task_id), 40)}" if task_id else "")
    if map_index is not None and map_index >= 0:
        where += f"[{map_index}]"
    text = f"Airflow {state_word}: {where}"
    if try_number:
        text += f" try {try_number}"
    run = f" run {_clip(str(run_id), 40)}" if run_id else ""
    ti = context.get("ti") or context.get("task_instance")
    url = f" {ti.log_url}" if getattr(ti, "log_url", None) else ""
    # The log link already names the run: prefer it, then the run id, when they fit in one SMS.
    for candidate in (text + run + url, text + url, text + run):
        if len(candidate) <= SMS_LIMIT:
            text = candidate
            break
    return _ascii(text)[:SMS_LIMIT]


def _clip(value: str, width: int) -> str:
    return value if len(value) <= width else value[: width - 2] + ".."


def _ascii(text: str) -> str:
    """Keep the default text GSM-7 (one part is 160 characters only in GSM-7)."""
    from airflow_provider_mta.core.segments import GSM7_BASIC

    return "".join(c if c in GSM7_BASIC else "?" for c in text)
