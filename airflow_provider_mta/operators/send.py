"""SendSmsOperator: one ``POST /send`` with every MTA field, templated, idempotent across retries."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from airflow.sdk import BaseOperator

from airflow_provider_mta.hooks.sms import SmsHook, get_sms_hook, resolve_conn_id
from airflow_provider_mta.utils.masked_fields import MaskedTemplateFields

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Callable

    import jinja2
    from airflow.sdk import Context

    from airflow_provider_mta.core.outgoing import OutgoingRequest, SendResult
    from airflow_provider_mta.core.quiet_hours import QuietHours

SEND_FIELDS = (
    "subscribers",
    "subscriber_ids",
    "groups",
    "thread_id",
    "all_subscribers",
    "message",
    "image",
    "template_id",
    "link_id",
    "is_mms",
    "header",
    "footer",
    "longcode_id",
    "sender_name",
    "external_id",
    "tags",
    "properties",
    "scheduled_date",
    "repeat",
)


class SendSmsOperator(MaskedTemplateFields, BaseOperator):
    """
    Send one SMS/MMS through Mobile Text Alerts' ``POST /send``.

    Every MTA field is a keyword argument (snake_case). ``message`` may mix Airflow's Jinja
    (``{{ ds }}``, ``{{ params.x }}``) with MTA's Liquid recipient ``properties`` (``{{ first_name }}``):
    context names are rendered when the task runs, property names are left for MTA, and any other
    name is an error. Phone numbers are normalized to E.164 and everything is validated before
    sending. The ``X-Request-Id`` is derived from dag, task, run, map index and the request, so an
    Airflow retry after a lost answer gets MTA's 409 and succeeds as "already sent".

    :param subscribers: Phone numbers or emails. Exactly one kind of recipient may be given.
    :param subscriber_ids: MTA subscriber ids.
    :param groups: MTA group ids.
    :param thread_id: Reply in this inbox thread.
    :param all_subscribers: Send to every subscriber of the account.
    :param message: Text (or a ``.txt``/``.liquid`` template file).
    :param image: Public URL of an attachment (sends an MMS).
    :param template_id: A saved MTA template; ``link_id`` when the template needs a link.
    :param link_id: The link of a template that requires one.
    :param is_mms: Force MMS (true) or SMS (false).
    :param header: Text put before the message, followed by a newline.
    :param footer: Text put after the message, after a space.
    :param longcode_id: Dedicated number to send from.
    :param sender_name: iMessage sender name.
    :param external_id: Your id, echoed in MTA's webhooks.
    :param tags: Text key/values attached to the message.
    :param properties: Recipient -> {variable: value} for Liquid variables in ``message``.
    :param scheduled_date: When MTA should send (ISO 8601, e.g. ``20250306T193000-0000``); passed through.
    :param repeat: Repeat schedule of a scheduled send; passed through.
    :param request_id: Your own ``X-Request-Id`` (wins over the derived one).
    :param dry_run: Validate, preview and estimate credits; send nothing.
    :param default_region: Region for numbers without ``+`` (default: the connection's, else ``US``).
    :param quiet_hours: ``("08:00", "21:00")``: the local wall-clock window (at each number) in which the
        text may arrive; default ``None`` (off: a single send is usually operational, opt in for others).
    :param quiet_hours_action: ``"defer"`` (one request, scheduled for when every recipient's window is
        open), ``"skip"`` (recipients outside their window are left out) or ``"fail"``.
    :param quiet_hours_overrides: Windows by region: ``{"US-FL": ("08:00", "20:00")}``.
    :param clock: Returns "now" (timezone-aware); for tests. Default: the system clock.
    :param suppress: Recipients never to text (numbers in any format).
    :param suppress_sql: A query whose first column lists recipients never to text, on ``suppress_conn_id``.
    :param suppress_conn_id: The common.sql connection of ``suppress_sql``.
    :param opt_out_conn_id: The SQL connection of the shared opt-out table (default: the ``mta``
        connection's extra ``opt_out_conn_id``).
    :param opt_out_table: That table's name (default ``mta_opt_outs``).
    :param sms_conn_id: The SMS API's connection: of type ``mta``, ``telnyx`` or ``bird`` (its hook is picked
        by type).
    :param mta_conn_id: The older name of ``sms_conn_id``.
    :param fallback_conn_ids: SMS connections to send through, in order, when the previous vendor cannot
        text now (network error or timeout after retries, 5xx, 401/402/403, 429 beyond the retry budget).
        Each fallback's request is built and checked before anything is sent.
    :param failover_on_ambiguous: Also fail over when the previous vendor may have texted (a lost answer):
        the recipient may get two texts. Default False: such a send is reported, never sent again.
    """

    template_fields: Sequence[str] = (
        "message",
        "subscribers",
        "subscriber_ids",
        "groups",
        "properties",
        "tags",
        "external_id",
        "scheduled_date",
        "image",
        "header",
        "footer",
        "sender_name",
        "request_id",
        "suppress",
        "suppress_sql",
        "sms_conn_id",
        "fallback_conn_ids",
    )
    template_ext: Sequence[str] = (".txt", ".liquid")
    template_fields_renderers = {"properties": "json", "tags": "json"}
    # Stored and shown masked (Rendered Templates tab); the task reads the real values (utils/masked_fields.py).
    masked_template_fields: Sequence[str] = ("subscribers", "properties", "suppress")
    ui_color = "#7fd1b9"

    def __init__(
        self,
        *,
        subscribers: list[str | int] | str | None = None,
        subscriber_ids: list[int] | None = None,
        groups: list[int] | None = None,
        thread_id: int | None = None,
        all_subscribers: bool | None = None,
        message: str | None = None,
        image: str | None = None,
        template_id: int | None = None,
        link_id: int | None = None,
        is_mms: bool | None = None,
        header: str | None = None,
        footer: str | None = None,
        longcode_id: int | None = None,
        sender_name: str | None = None,
        external_id: str | int | None = None,
        tags: dict[str, str] | None = None,
        properties: dict[str, dict[str, Any]] | None = None,
        scheduled_date: str | None = None,
        repeat: dict[str, Any] | None = None,
        request_id: str | None = None,
        dry_run: bool = False,
        default_region: str | None = None,
        quiet_hours: tuple[str, str] | str | None = None,
        quiet_hours_action: Literal["defer", "skip", "fail"] = "defer",
        quiet_hours_overrides: Mapping[str, tuple[str, str] | str] | None = None,
        clock: Callable[[], dt.datetime] | None = None,
        suppress: Any = None,
        suppress_sql: str | None = None,
        suppress_conn_id: str | None = None,
        opt_out_conn_id: str | None = None,
        opt_out_table: str | None = None,
        sms_conn_id: str | None = None,
        mta_conn_id: str | None = None,
        fallback_conn_ids: list[str] | None = None,
        failover_on_ambiguous: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.quiet_rule: QuietHours | None = None
        if quiet_hours is not None or quiet_hours_overrides is not None:
            from airflow_provider_mta.core.quiet_hours import QuietHours

            # A malformed window, action or override fails at DAG parse, naming the parameter.
            self.quiet_rule = QuietHours.build(
                quiet_hours=quiet_hours, action=quiet_hours_action, overrides=quiet_hours_overrides
            )
        self.subscribers = subscribers
        self.subscriber_ids = subscriber_ids
        self.groups = groups
        self.thread_id = thread_id
        self.all_subscribers = all_subscribers
        self.message = message
        self.image = image
        self.template_id = template_id
        self.link_id = link_id
        self.is_mms = is_mms
        self.header = header
        self.footer = footer
        self.longcode_id = longcode_id
        self.sender_name = sender_name
        self.external_id = external_id
        self.tags = tags
        self.properties = properties
        self.scheduled_date = scheduled_date
        self.repeat = repeat
        self.request_id = request_id
        self.dry_run_only = dry_run  # BaseOperator.dry_run() is a method
        self.default_region = default_region
        self.quiet_hours = quiet_hours
        self.quiet_hours_action = quiet_hours_action
        self.quiet_hours_overrides = quiet_hours_overrides
        self.clock = clock
        self.suppress = suppress
        self.suppress_sql = suppress_sql
        self.suppress_conn_id = suppress_conn_id
        self.opt_out_conn_id = opt_out_conn_id
        self.opt_out_table = opt_out_table
        self.sms_conn_id = resolve_conn_id(sms_conn_id=sms_conn_id, mta_conn_id=mta_conn_id, owner="SendSmsOperator")
        from airflow_provider_mta.hooks.failover import fallback_conn_ids_of

        self.fallback_conn_ids = fallback_conn_ids_of(
            fallback_conn_ids, primary=self.sms_conn_id, owner=f"SendSmsOperator {self.task_id!r}"
        )
        self.failover_on_ambiguous = failover_on_ambiguous

    @property
    def mta_conn_id(self) -> str:
        """The older name of ``sms_conn_id``."""
        return self.sms_conn_id

    @cached_property
    def hook(self) -> SmsHook:
        """The hook of the connection's type (built on first use, never at DAG parse)."""
        return get_sms_hook(self.sms_conn_id, default_region=self.default_region)

    def render_template_fields(self, context: Context, jinja_env: jinja2.Environment | None = None) -> None:
        """Render every field with Jinja, then ``message`` keeping recipient properties for Liquid."""
        self._do_render_template_fields(
            self, self.template_fields, context, jinja_env or self.get_template_env(), set()
        )

    def _do_render_template_fields(
        self,
        parent: Any,
        template_fields: Iterable[str],
        context: Context,
        jinja_env: jinja2.Environment,
        seen_oids: set[int],
    ) -> None:
        """Also the path of a mapped task (``.partial().expand()``), which Airflow renders through this method."""
        fields = list(template_fields)
        if parent is not self:
            super()._do_render_template_fields(parent, fields, context, jinja_env, seen_oids)
            return
        self._restore_unmasked()
        if "message" not in fields:
            super()._do_render_template_fields(parent, fields, context, jinja_env, seen_oids)
            self._mask_rendered()
            return
        others = [name for name in fields if name != "message"]
        super()._do_render_template_fields(parent, others, context, jinja_env, seen_oids)
        from airflow_provider_mta.utils.message_template import check_message_type, render_message

        check_message_type(self.message)
        if self.properties is not None and not isinstance(self.properties, Mapping):
            from airflow_provider_mta.core.errors import MtaValidationError

            raise MtaValidationError(
                f"properties: must be a dict of recipient -> {{variable: value}}, got {type(self.properties).__name__}",
                field="properties",
            )
        properties = self.properties or {}
        names = {name for props in properties.values() if isinstance(props, dict) for name in props}
        self.message = render_message(
            self.message, context=context, jinja_env=jinja_env, liquid_names=names, template_ext=self.template_ext
        )
        self._mask_rendered()

    def masked_view(self, name: str, value: Any) -> Any:
        from airflow_provider_mta.core.masking import mask_properties, mask_recipients

        return mask_properties(value) if name == "properties" else mask_recipients(value)

    def build_request(self) -> OutgoingRequest:
        """Validate and normalize the rendered fields; errors name the field or recipient."""
        from airflow_provider_mta.core import liquid

        fields = {name: value for name in SEND_FIELDS if (value := self.unmasked(name)) is not None}
        request = self.hook.build_request(**fields)
        if request.message:
            liquid.variables(request.message)  # a Liquid syntax error fails here, before sending
            if request.subscribers:
                liquid.check_properties(request.message, request.subscribers, request.properties)
        return request

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_mta.core.estimate import estimate_send
        from airflow_provider_mta.core.idempotency import derive_request_id

        request = self.build_request()
        # The request id is derived from the request as written, before opt-outs and quiet hours change it,
        # so a retry that decides otherwise (a window opened meanwhile) still gets MTA's 409, not a 2nd text.
        written = request.to_payload()
        from airflow_provider_mta.compliance.single_send import apply_compliance

        compliance = apply_compliance(self, request)
        if compliance.request is None:
            self.log.warning("Nothing to send: %s", compliance.describe())
            return {
                **compliance.xcom(),
                "message_id": None,
                "outbound_ids": [],
                "total_sent": 0,
                "credits": 0,
                "request_id": None,
                "already_sent": False,
                "provider": self.hook.provider,
            }
        request = compliance.request
        estimate = estimate_send(request)
        from airflow_provider_mta.utils.message_template import log_previews

        log_previews(self.log, estimate.previews)
        self.log.info(
            "%s recipient(s), estimated %s credit(s)",
            estimate.recipients if estimate.recipients is not None else "an unknown number of",
            estimate.credits if estimate.credits is not None else f"{estimate.credits_per_recipient_max} per",
        )
        if self.dry_run_only:
            self.log.info("dry_run=True: nothing was sent")
            return {
                "dry_run": True,
                "recipients": estimate.recipients,
                "credits": estimate.credits,
                "previews": [{"to": p.to, "text": p.text, "parts": p.parts} for p in estimate.previews],
                **compliance.xcom(),
            }
        ti = context["ti"]
        request_id = self.request_id or derive_request_id(ti.dag_id, ti.task_id, ti.run_id, ti.map_index, written)
        failover: list[str] = []
        if self.fallback_conn_ids:
            result, failover = self._send_with_failover(request, request_id=request_id)
        else:
            result = self.hook.send(request, request_id=request_id)
        if result.already_sent:
            self.log.warning("Already sent by an earlier try (MTA answered 409 for %s); not sent again", request_id)
        else:
            self.log.info(
                "%s accepted %s for %d recipient(s)",
                self.hook.api_name,
                f"message {result.message_id}" if result.message_id else "the message",
                result.total_sent,
            )
        if result.unknown or result.opted_out or result.failures:
            self.log.warning(
                "Not confirmed: %d recipient(s) may or may not have been texted (not resent: %s); %d opted out "
                "(STOP); %d refused: %s",
                len(result.unknown),
                ", ".join(result.unknown) or "-",
                len(result.opted_out),
                len(result.failures),
                "; ".join(f"{f.get('recipient')}: {f.get('reason')}" for f in result.failures[:10]) or "-",
            )
        sent = result.total_sent or estimate.recipients or 0
        return {
            "message_id": result.message_id,
            "outbound_ids": result.outbound_ids,
            "total_sent": result.total_sent,
            "credits": estimate.credits if estimate.credits is not None else estimate.credits_per_recipient_max * sent,
            "request_id": request_id,
            "already_sent": result.already_sent,
            "provider": result.provider,
            "unknown": len(result.unknown),
            "unknown_recipients": result.unknown,
            "opted_out_at_send": len(result.opted_out),
            "failed": len(result.failures),
            "failures": result.failures,
            **({"failover": failover} if failover else {}),
            **compliance.xcom(),
        }

    def _send_with_failover(self, request: OutgoingRequest, *, request_id: str) -> tuple[SendResult, list[str]]:
        """Send through the primary, then each fallback; every fallback's request is checked before any send."""
        from airflow_provider_mta.core.errors import MtaConfigError
        from airflow_provider_mta.core.failover import CircuitBreaker
        from airflow_provider_mta.hooks.failover import FailoverSender

        sender = FailoverSender(
            conn_ids=[self.sms_conn_id, *self.fallback_conn_ids],
            hook_params={"default_region": self.default_region} if self.default_region else {},
            failover_on_ambiguous=self.failover_on_ambiguous,
            breaker=CircuitBreaker(),  # one send per task: always try the primary first
            get_hook=get_sms_hook,
            known_hooks={self.sms_conn_id: self.hook},
        )

        def build(hook: SmsHook) -> OutgoingRequest:
            if hook is self.hook:
                return request
            fields = request.model_dump(exclude_none=True, exclude_defaults=True)
            built: OutgoingRequest = hook.request_type().build(region=hook.region, **fields)
            return built

        requests = sender.prepare(build)
        for conn_id, built in requests.items():
            if isinstance(built, BaseException):
                raise MtaConfigError(
                    f"fallback_conn_ids: connection {conn_id!r} cannot send this request: {built}"
                ) from None
        outcome = sender.send(requests, request_id=request_id)
        attempts = [a.describe() for a in outcome.attempts]
        for line in attempts[:-1] if outcome.sent else ():
            self.log.warning("Failover: %s", line)
        if not outcome.results:
            assert outcome.error is not None
            self.log.error("No SMS vendor sent this request: %s", outcome.reasons())
            raise outcome.error
        conn_id, result = outcome.results[-1]
        if len(outcome.results) > 1:  # an ambiguous vendor, then another: report what every vendor did
            first = outcome.results[0][1]
            result = result.model_copy(
                update={"unknown": [], "total_sent": sum(r.total_sent for _, r in outcome.results)}
            )
            self.log.warning("%d recipient(s) may have been texted by two vendors", len(first.unknown))
        if conn_id != self.sms_conn_id:
            self.log.warning("Sent through fallback connection %r (%s)", conn_id, result.provider)
        return result, attempts if any(a.outcome != "sent" for a in outcome.attempts) else []
