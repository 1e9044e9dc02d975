"""BatchPersonalizedSmsOperator: personalized texts to many recipients from XCom rows or SQL, exactly once."""

from __future__ import annotations

import itertools
import logging
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from airflow.sdk import BaseOperator

from airflow_provider_mta.compliance.quiet_hours_settings import FROM_CONFIG
from airflow_provider_mta.hooks.sms import SmsHook, get_sms_hook, resolve_conn_id
from airflow_provider_mta.utils.masked_fields import MaskedTemplateFields

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Callable

    import jinja2
    from airflow.sdk import Context

    from airflow_provider_mta.core.batch_plan import BatchPlan
    from airflow_provider_mta.core.checkpoint import Checkpoint, CheckpointStore
    from airflow_provider_mta.core.quiet_hours import QuietHours
    from airflow_provider_mta.core.suppression import SuppressionList

# /send fields that are the same for every recipient of a batch.
SHARED_FIELDS = (
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
    "scheduled_date",
)


class BatchPersonalizedSmsOperator(MaskedTemplateFields, BaseOperator):
    """
    Text many recipients, each with their own Liquid ``properties``, from XCom rows or a SQL query.

    Rows are streamed (a server-side cursor on PostgreSQL, ``fetchmany`` elsewhere) into an on-disk
    spool while every row is validated: the recipient normalized to E.164 (or kept as an email),
    duplicates merged (the first row wins), every Liquid variable of the message given a value, and
    each text's parts and credits counted. Nothing is sent unless all of that passes. Recipients
    then go out in chunks of ``chunk_size`` (one ``POST /send`` each, paced under the rate limit),
    each with a deterministic ``X-Request-Id``. A checkpoint after every confirmed chunk lets a retry
    resume where the last try stopped; a chunk whose answer was lost comes back 409 and is not resent.

    :param message: The text; Airflow's Jinja (``{{ ds }}``) and MTA's Liquid (``{{ first_name }}``)
        may be mixed. Liquid names are the rows' property columns. ``.txt``/``.liquid`` files work.
    :param rows: Rows from XCom: a list of dicts, a list of tuples with ``columns``, a dict of
        column lists, or a DataFrame. Give ``rows`` or ``sql``, not both.
    :param columns: Column names for rows that are tuples.
    :param sql: A query (or a ``.sql`` file) run on ``conn_id``.
    :param conn_id: Any common.sql (DbApiHook) connection: Postgres, SQLite, MySQL, Snowflake, ...
    :param parameters: Query parameters.
    :param hook_params: Extra arguments for the SQL hook.
    :param phone_column: Column holding the phone number (or email).
    :param property_columns: Columns that become Liquid properties (default: all the others).
    :param rename_columns: ``{column: property_name}``.
    :param defaults: Values for properties that a row leaves empty (``None``).
    :param chunk_size: Recipients per ``POST /send``.
    :param on_invalid: ``"fail"`` (default) lists the first bad rows and sends nothing; ``"skip"``
        leaves rows without a valid recipient out and counts them.
    :param max_credits: Send nothing if the estimate is higher.
    :param dry_run: Validate, estimate and preview; send nothing.
    :param default_region: Region for numbers without ``+`` (default: the connection's, else ``US``).
    :param fetch_size: Rows fetched from the database at a time.
    :param max_xcom_ids: Keep at most this many outbound ids in XCom (beyond it, ``outbound_ids`` is
        None and ``message_ids``, one per chunk, point at the deliveries).
    :param progress_interval: Progress lines come every 10 % of the recipients, and at least every
        ``progress_interval`` seconds (default 30).
    :param quiet_hours: ``("08:00", "21:00")``: the local wall-clock window (at each recipient's number)
        in which texts may arrive; ``None`` turns the rule off. Default: Airflow config
        ``[mta] quiet_hours`` (itself ``08:00-21:00``). A number whose prefix spans time zones must be
        inside the window in every one of them.
    :param quiet_hours_action: What happens to recipients outside their window: ``"defer"`` (sent with
        MTA's ``scheduledDate`` for when it opens, one request per chunk; default, or ``[mta]
        quiet_hours_action``), ``"skip"`` (left out and counted) or ``"fail"`` (nothing is sent).
    :param quiet_hours_overrides: Windows by region: ``{"US-FL": ("08:00", "20:00"), "GB": (...)}``.
    :param clock: Returns "now" (timezone-aware); for tests. Default: the system clock.
    :param suppress: Recipients never to text (numbers in any format, or rows with ``phone_column``).
    :param suppress_sql: A query whose first column lists recipients never to text, run on ``suppress_conn_id``
        (default: ``conn_id``).
    :param suppress_conn_id: The common.sql connection of ``suppress_sql``.
    :param opt_out_conn_id: A common.sql connection holding the shared opt-out table (which the delivery
        sensor fills with numbers MTA reported as STOPPED); default: the ``mta`` connection's extra
        ``opt_out_conn_id``.
    :param opt_out_table: That table's name (default ``mta_opt_outs``; created on first use).
    :param verify_cost: Ask MTA's ``POST /send/cost`` for the first chunk and compare it with the estimate.
    :param cost_tolerance: With ``verify_cost``, fail before sending when MTA's credits differ from the
        estimate by more than this fraction (default 0.1); a smaller difference is logged.
    :param partition: ``(index, count)``: send only to the recipients this task owns, one of ``count`` tasks
        reading the same rows (mapped: ``.expand(partition=[(i, 8) for i in range(8)])``). A row belongs to
        the partition its normalized recipient (E.164 or email) hashes to, so one number written two ways
        is merged in one task; a row without a valid recipient, to the one its raw value hashes to. Rows of
        other partitions are counted in ``other_partitions``. Templated.
    :param sms_conn_id: The SMS API's connection: of type ``mta``, ``telnyx`` or ``bird`` (its hook is picked by type).
    :param mta_conn_id: The older name of ``sms_conn_id``.

    Other keyword arguments are MTA ``/send`` fields shared by every chunk: ``image``,
    ``template_id``, ``link_id``, ``is_mms``, ``header``, ``footer``, ``longcode_id``,
    ``sender_name``, ``external_id``, ``tags``, ``scheduled_date``.
    """

    template_fields: Sequence[str] = (
        "message",
        "rows",
        "sql",
        "parameters",
        "conn_id",
        "defaults",
        "header",
        "footer",
        "image",
        "external_id",
        "tags",
        "scheduled_date",
        "suppress",
        "suppress_sql",
        "sms_conn_id",
        "partition",
    )
    template_ext: Sequence[str] = (".sql", ".txt", ".liquid")
    template_fields_renderers = {"sql": "sql", "parameters": "json", "tags": "json", "defaults": "json"}
    # Stored and shown masked (Rendered Templates tab); the task reads the real values (utils/masked_fields.py).
    masked_template_fields: Sequence[str] = ("rows", "suppress")
    ui_color = "#7fd1b9"

    def __init__(
        self,
        *,
        message: str | None = None,
        rows: Any = None,
        columns: Sequence[str] | None = None,
        sql: str | None = None,
        conn_id: str | None = None,
        parameters: Mapping[str, Any] | list[Any] | None = None,
        hook_params: Mapping[str, Any] | None = None,
        phone_column: str = "phone",
        property_columns: Sequence[str] | None = None,
        rename_columns: Mapping[str, str] | None = None,
        defaults: Mapping[str, Any] | None = None,
        chunk_size: int = 500,
        on_invalid: Literal["fail", "skip"] = "fail",
        max_credits: int | None = None,
        dry_run: bool = False,
        default_region: str | None = None,
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
        scheduled_date: str | None = None,
        fetch_size: int = 5_000,
        max_xcom_ids: int = 1_000,
        progress_interval: float = 30.0,
        quiet_hours: tuple[str, str] | str | None = FROM_CONFIG,
        quiet_hours_action: Literal["defer", "skip", "fail"] | None = None,
        quiet_hours_overrides: Mapping[str, tuple[str, str] | str] | None = None,
        clock: Callable[[], dt.datetime] | None = None,
        suppress: Any = None,
        suppress_sql: str | None = None,
        suppress_conn_id: str | None = None,
        opt_out_conn_id: str | None = None,
        opt_out_table: str | None = None,
        verify_cost: bool = False,
        cost_tolerance: float = 0.1,
        partition: tuple[int, int] | list[int] | str | None = None,
        sms_conn_id: str | None = None,
        mta_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if quiet_hours is not FROM_CONFIG or quiet_hours_action is not None or quiet_hours_overrides is not None:
            from airflow_provider_mta.compliance.quiet_hours_settings import DEFAULT_WINDOW, resolve_quiet_hours

            # A malformed window, action or override fails at DAG parse, naming the parameter.
            resolve_quiet_hours(
                quiet_hours=DEFAULT_WINDOW if quiet_hours is FROM_CONFIG else quiet_hours,
                action=quiet_hours_action,
                overrides=quiet_hours_overrides,
            )
        if cost_tolerance < 0:
            raise ValueError(f"{self.task_id}: cost_tolerance must be 0 or more, not {cost_tolerance}")
        if (rows is None) == (sql is None):
            raise ValueError(f"{self.task_id}: give exactly one of rows=... (XCom) or sql=... with conn_id=...")
        if sql is not None and not conn_id:
            raise ValueError(f"{self.task_id}: sql=... needs conn_id=... (a common.sql connection)")
        if not 1 <= chunk_size <= 1_000:
            raise ValueError(f"{self.task_id}: chunk_size must be between 1 and 1000, not {chunk_size}")
        if on_invalid not in ("fail", "skip"):
            raise ValueError(f"{self.task_id}: on_invalid must be 'fail' or 'skip', not {on_invalid!r}")
        if partition is not None and not _rendered_later(partition):
            _partition_or_fail(self.task_id, partition)  # at DAG parse (a mapped task: when it is unmapped)
        self.message = message
        self.rows = rows
        self.columns = columns
        self.sql = sql
        self.conn_id = conn_id
        self.parameters = parameters
        self.hook_params = hook_params
        self.phone_column = phone_column
        self.property_columns = property_columns
        self.rename_columns = rename_columns
        self.defaults = defaults
        self.chunk_size = chunk_size
        self.on_invalid = on_invalid
        self.max_credits = max_credits
        self.dry_run_only = dry_run  # BaseOperator.dry_run() is a method
        self.default_region = default_region
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
        self.scheduled_date = scheduled_date
        self.fetch_size = fetch_size
        self.max_xcom_ids = max_xcom_ids
        self.progress_interval = progress_interval
        self.quiet_hours = quiet_hours
        self.quiet_hours_action = quiet_hours_action
        self.quiet_hours_overrides = quiet_hours_overrides
        self.clock = clock
        self.suppress = suppress
        self.suppress_sql = suppress_sql
        self.suppress_conn_id = suppress_conn_id
        self.opt_out_conn_id = opt_out_conn_id
        self.opt_out_table = opt_out_table
        self.verify_cost = verify_cost
        self.cost_tolerance = cost_tolerance
        self.partition = partition
        self.sms_conn_id = resolve_conn_id(
            sms_conn_id=sms_conn_id, mta_conn_id=mta_conn_id, owner="BatchPersonalizedSmsOperator"
        )

    def masked_view(self, name: str, value: Any) -> Any:
        from airflow_provider_mta.core.masking import mask_recipients, mask_rows

        if name == "rows":
            return mask_rows(value, phone_column=self.phone_column, columns=self.columns)
        return mask_recipients(value, phone_column=self.phone_column)

    @property
    def mta_conn_id(self) -> str:
        """The older name of ``sms_conn_id``."""
        return self.sms_conn_id

    @cached_property
    def hook(self) -> SmsHook:
        """The hook of the connection's type (built on first use, never at DAG parse)."""
        return get_sms_hook(self.sms_conn_id, default_region=self.default_region)

    def render_template_fields(self, context: Context, jinja_env: jinja2.Environment | None = None) -> None:
        """Render every field with Jinja, then ``message`` keeping the rows' property names for Liquid."""
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
        self._render_message(context, jinja_env)
        self._mask_rendered()

    def _render_message(
        self, context: Context, jinja_env: jinja2.Environment, *, columns: Sequence[str] | None = None
    ) -> None:
        from airflow_provider_mta.utils.message_template import check_message_type, render_message

        if columns is None:  # the first rendering: keep the template, in case SQL columns are only known later
            check_message_type(self.message)
            self._message_template: str | None = self.message
        else:
            self.message = self._message_template
        rename = self.rename_columns or {}
        if columns is None:
            columns = (
                self.property_columns if self.property_columns is not None else _xcom_columns(self.unmasked("rows"))
            )
        names = (
            {rename.get(c, c) for c in columns or () if c != self.phone_column}
            | set(rename.values())
            | set(self.defaults or {})
        )
        self.message = render_message(
            self.message,
            context=context,
            jinja_env=jinja_env,
            liquid_names=names,
            template_ext=(".txt", ".liquid"),
            unknown_to_liquid=self.property_columns is None,
        )

    # -- validation -----------------------------------------------------------------------------

    def iter_rows(self) -> Iterable[Mapping[str, Any]]:
        """The source rows, streamed."""
        from airflow_provider_mta.core.rows import iter_mappings

        if self.sql is None:
            return iter_mappings(self.unmasked("rows"), columns=self.columns)
        from airflow_provider_mta.utils.sql_rows import get_db_hook, iter_sql_rows

        db_hook = get_db_hook(str(self.conn_id), self.hook_params)
        self.log.info("Reading rows from %s connection %r", type(db_hook).__name__, self.conn_id)
        return iter_sql_rows(db_hook, self.sql, self.parameters, fetch_size=self.fetch_size)

    def _rows_rendering_by_columns(self, context: Context | None) -> Iterable[Mapping[str, Any]]:
        """The rows; when SQL reveals a column named like a context name the message used, render it again.

        A row's value wins over Airflow's (``{{ task }}`` is the row's ``task``), as with rows from XCom,
        whose columns are known when the task's fields are rendered.
        """
        rows = iter(self.iter_rows())
        template = getattr(self, "_message_template", None)
        if context is None or template is None or self.property_columns is not None or self.sql is None:
            return rows
        first = next(rows, None)
        if first is None:
            return ()
        rename = self.rename_columns or {}
        columns = [c for c in first if c != self.phone_column]
        if {rename.get(c, c) for c in columns} & set(context):
            self._render_message(context, self.get_template_env(), columns=columns)
        return itertools.chain([first], rows)

    def plan(self, context: Context | None = None) -> BatchPlan:
        """Read and validate every row; raises (naming rows and fields) before anything is sent."""
        from airflow_provider_mta.core.batch_plan import plan_batch
        from airflow_provider_mta.core.rows import ColumnMapping

        shared = self._shared_fields()
        # Validate the shared fields once, with a stand-in recipient, before reading any row.
        self.hook.check_fields(list(shared))  # a field only another API has: named with the connection
        probe = self.hook.request_type().build(subscribers=["+10000000000"], message=self.message, **shared)
        quiet = self.quiet_rule
        partition = self.partition_value  # before any row is read
        suppression = self.suppression()
        mapping = ColumnMapping(
            phone_column=self.phone_column,
            property_columns=self.property_columns,
            rename=dict(self.rename_columns or {}),
        )
        rows = self._rows_rendering_by_columns(context)
        return plan_batch(
            rows,
            mapping=mapping,
            message=self.message,
            header=self.header,
            footer=self.footer,
            is_mms=probe.sends_as_mms,
            region=self.hook.region,
            defaults=self.defaults,
            send_all_properties=self.template_id is not None,
            on_invalid=self.on_invalid,
            identity={
                "message": self.message,
                **shared,
                **({"quiet_hours": quiet.to_identity()} if quiet else {}),
                **({"partition": list(partition)} if partition else {}),
            },
            on_progress=lambda n: self.log.info("Validated %s rows so far", f"{n:,}"),
            suppressed=suppression,
            quiet_hours=quiet,
            check_length=self.message is not None,
            partition=partition,
        )

    @property
    def partition_value(self) -> tuple[int, int] | None:
        """``partition`` as rendered, checked: ``(index, count)``, or None for the whole batch."""
        if self.partition is None:
            return None
        return _partition_or_fail(self.task_id, self.partition)

    @cached_property
    def quiet_rule(self) -> QuietHours | None:
        """The quiet hours this task applies (its arguments, else ``[mta] quiet_hours``); None when off."""
        from airflow_provider_mta.compliance.quiet_hours_settings import resolve_quiet_hours

        return resolve_quiet_hours(
            quiet_hours=self.quiet_hours, action=self.quiet_hours_action, overrides=self.quiet_hours_overrides
        )

    def suppression(self) -> SuppressionList | None:
        """Every recipient this task must not text (read before any row; a bad source fails here)."""
        from airflow_provider_mta.compliance.suppression_sources import load_suppression

        suppression = load_suppression(
            suppress=self.unmasked("suppress"),
            suppress_sql=self.suppress_sql,
            suppress_conn_id=self.suppress_conn_id or self.conn_id,
            opt_out_conn_id=self.opt_out_conn_id or self.hook.opt_out_conn_id,
            opt_out_table=self.opt_out_table,
            region=self.hook.region,
            phone_column=self.phone_column,
        )
        if suppression is not None:
            self.log.info("Suppressing %s", suppression.describe())
        return suppression

    def _now(self) -> dt.datetime:
        import datetime as dt

        now = self.clock() if self.clock is not None else dt.datetime.now(dt.timezone.utc)
        if now.tzinfo is None:
            raise ValueError(f"{self.task_id}: clock() must return a timezone-aware datetime")
        return now

    def _shared_fields(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in SHARED_FIELDS if getattr(self, name) is not None}

    # -- execution ------------------------------------------------------------------------------

    def execute(self, context: Context) -> dict[str, Any]:
        started = time.monotonic()
        plan = self.plan(context)
        try:
            self._log_plan(plan, time.monotonic() - started)
            if self.dry_run_only:
                self.log.info("dry_run=True: nothing was sent")
                return {
                    "dry_run": True,
                    **self._totals(plan),
                    "previews": [{"to": p.to, "text": p.text, "parts": p.parts} for p in plan.previews],
                }
            if not plan.recipients:
                self.log.info("No rows, so nothing to send")
                return {**self._totals(plan), "sent": 0, "chunks": 0, "message_ids": [], "outbound_ids": []}
            self._check_max_credits(plan.credits, plan.recipients, what="an estimated")
            self._check_quiet_hours(plan)
            if self.verify_cost:
                self._verify_cost(plan)
            return self._send(plan, context)
        finally:
            plan.close()

    def _check_max_credits(self, credits: int, recipients: int, *, what: str) -> None:
        if self.max_credits is not None and credits > self.max_credits:
            from airflow_provider_mta.core.errors import MtaValidationError

            raise MtaValidationError(
                f"max_credits: the batch would use {what} {credits:,} credits for {recipients:,} recipients, "
                f"more than max_credits={self.max_credits:,}; nothing was sent",
                field="max_credits",
            )

    def _send_base_time(self) -> dt.datetime:
        """When the batch's texts would arrive: ``scheduled_date`` when given, else now."""
        if self.scheduled_date:
            from airflow_provider_mta.backends.mta.models import parse_scheduled_date

            return parse_scheduled_date(self.scheduled_date)
        return self._now()

    def _scheduled_date_passed(self) -> bool:
        """True once ``scheduled_date`` is less than a minute away (logged the first time)."""
        import datetime as dt

        passed = self._send_base_time() <= self._now() + dt.timedelta(minutes=1)
        if passed and not getattr(self, "_said_passed", False):
            self._said_passed = True
            self.log.warning("scheduled_date %s has come: the remaining chunks are sent now", self.scheduled_date)
        return passed

    def _opening(self, group: str) -> dt.datetime | None:
        """None when ``group`` may receive texts at the batch's send time; else when its window opens."""
        quiet = self.quiet_rule
        if quiet is None or not group:
            return None
        return quiet.next_open(group, at=self._send_base_time())

    def _check_quiet_hours(self, plan: BatchPlan) -> None:
        """Say who is outside their window now and what happens to them; ``"fail"`` raises here."""
        quiet = self.quiet_rule
        if quiet is None:
            return
        if plan.exempt_from_quiet_hours:
            self.log.warning(
                "quiet_hours: %s recipient(s) are emails, whose location MTA alone knows; they are not held back",
                f"{plan.exempt_from_quiet_hours:,}",
            )
        closed = [(g, n - s, o) for g, n, s in plan.spool.groups() if n > s and (o := self._opening(g)) is not None]
        if not closed:
            self.log.info("quiet_hours %s: every recipient is inside their window", quiet.describe())
            return
        count = sum(n for _, n, _ in closed)
        detail = "; ".join(
            f"{n:,} in {g.partition('|')[2] or 'unknown zone'} until {o:%Y-%m-%d %H:%M} UTC" for g, n, o in closed
        )
        if quiet.action == "fail":
            from airflow_provider_mta.core.errors import MtaValidationError

            raise MtaValidationError(
                f"quiet_hours: {count:,} recipient(s) are outside {quiet.describe()} at their location ({detail}); "
                "quiet_hours_action='fail', so nothing was sent. Run later, or use 'defer' or 'skip'",
                field="quiet_hours",
            )
        verb = "deferred with MTA's scheduledDate" if quiet.action == "defer" else "skipped"
        self.log.warning("quiet_hours %s: %s recipient(s) %s: %s", quiet.describe(), f"{count:,}", verb, detail)

    def _verify_cost(self, plan: BatchPlan) -> None:
        """Compare MTA's ``/send/cost`` for the first chunk with the local estimate; fail over the tolerance."""
        from airflow_provider_mta.core.estimate import estimate_send

        for _, _, chunk in plan.spool.grouped_chunks(self.chunk_size):
            live = [(r, p) for r, p, suppressed in chunk if not suppressed]
            if live:
                break
        else:
            return
        request = self.hook.request_type().build(
            subscribers=[r for r, _ in live],
            properties={r: p for r, p in live if p} or None,
            message=self.message,
            **{k: v for k, v in self._shared_fields().items() if k != "scheduled_date"},
        )
        local = estimate_send(request, previews=0).credits or 0
        quoted = self.hook.get_send_cost(request)
        if quoted == local:
            self.log.info(
                "verify_cost: MTA prices the first %d recipient(s) at %d credit(s), as estimated", len(live), quoted
            )
            return
        off = abs(quoted - local) / max(local, 1)
        projected = math.ceil(plan.credits * quoted / local) if local else quoted
        self.log.warning(
            "verify_cost: MTA prices the first %d recipient(s) at %d credit(s), the estimate said %d (%.0f%% off); "
            "the whole batch would cost about %s",
            len(live),
            quoted,
            local,
            off * 100,
            f"{projected:,}",
        )
        if off > self.cost_tolerance:
            from airflow_provider_mta.core.errors import MtaValidationError

            raise MtaValidationError(
                f"verify_cost: MTA's /send/cost says {quoted} credit(s) for the first {len(live)} recipient(s), the "
                f"local estimate {local} ({off:.0%} off, over cost_tolerance={self.cost_tolerance:.0%}); "
                "nothing was sent",
                field="verify_cost",
            )
        self._check_max_credits(projected, plan.recipients, what="about (MTA's price)")

    def _send(self, plan: BatchPlan, context: Context) -> dict[str, Any]:
        from airflow_provider_mta.core.checkpoint import Checkpoint, resume_point
        from airflow_provider_mta.core.idempotency import derive_request_id
        from airflow_provider_mta.utils.checkpoint_store import VariableCheckpointStore, checkpoint_store

        ti = context["ti"]
        store = checkpoint_store(context, partition=self.partition_value)
        checkpoint = resume_point(Checkpoint.from_json(store.load()), fingerprint=plan.fingerprint, store=store)
        if checkpoint is None:
            checkpoint = Checkpoint(
                fingerprint=plan.fingerprint,
                chunk_size=self.chunk_size,
                chunks=plan.spool.chunk_count(self.chunk_size),
                recipients=plan.recipients,
                started_try=ti.try_number,
            )
            store.save(checkpoint.to_json())  # before the first send: a retry can always compare its rows
        elif checkpoint.completed:
            self.log.warning(
                "This batch was completed by try %s (%d chunks, %d recipients); nothing is sent again",
                checkpoint.started_try,
                checkpoint.chunks,
                checkpoint.sent,
            )
            return self._result(plan, checkpoint, resumed_from=checkpoint.chunks)
        else:
            self.log.warning(
                "Resuming: an earlier try (try %s) had %s of %s chunk(s) confirmed by MTA (%s recipients); "
                "sending from chunk %s on",
                checkpoint.started_try,
                f"{checkpoint.confirmed:,}",
                f"{checkpoint.chunks:,}",
                f"{checkpoint.sent:,}",
                f"{checkpoint.confirmed + 1:,}",
            )
        resumed_from = checkpoint.confirmed
        shared = self._shared_fields()
        send_properties = bool(plan.variables) or self.template_id is not None
        self.hook.send_log_level = logging.DEBUG  # one line per chunk: DEBUG; the progress lines are INFO
        progress = _Progress(self.log, checkpoint, plan.credits, plan.recipients, self.progress_interval)
        with progress:
            for index, group, rows in plan.spool.grouped_chunks(checkpoint.chunk_size, start=checkpoint.confirmed):
                chunk = [(recipient, props) for recipient, props, suppressed in rows if not suppressed]
                opening = self._opening(group) if chunk else None
                if not chunk or (
                    opening is not None and self.quiet_rule is not None and self.quiet_rule.action == "skip"
                ):
                    # Nothing to send in this chunk: all opted out, or outside their window with action "skip".
                    checkpoint.quiet_hours_skipped += len(chunk)
                    checkpoint.record(
                        sent=0, message_id=None, outbound_ids=[], already=False, keep_ids=self.max_xcom_ids
                    )
                    store.save(checkpoint.to_json())
                    progress.chunk_done(len(rows), 0)
                    continue
                fields = dict(shared)
                if fields.get("scheduled_date") and self._scheduled_date_passed():
                    # Decided once for the batch: the time it asked for has come while sending, so the remaining
                    # chunks go now (MTA refuses a scheduledDate in the past, and would send them now anyway).
                    del fields["scheduled_date"]
                if opening is not None:
                    fields["scheduled_date"] = self.hook.request_type().format_date(opening)
                request_id = derive_request_id(
                    ti.dag_id, ti.task_id, ti.run_id, ti.map_index, plan.fingerprint, checkpoint.chunk_size, index
                )
                if self.hook.sends_per_recipient:
                    sent = self._send_each(chunk, fields, send_properties, request_id, checkpoint, store)
                    checkpoint.record(
                        sent=0, message_id=None, outbound_ids=[], already=False, keep_ids=self.max_xcom_ids
                    )
                    if opening is not None:
                        checkpoint.record_deferred(recipients=sent, until=fields["scheduled_date"])
                    store.save(checkpoint.to_json())
                    progress.chunk_done(len(rows), sent)
                    continue
                subscribers = [recipient for recipient, _ in chunk]
                properties = {r: p for r, p in chunk if p} if send_properties else None
                request = self.hook.request_type().build(
                    subscribers=subscribers, properties=properties or None, message=self.message, **fields
                )
                result = self.hook.send(request, request_id=request_id)
                checkpoint.record_outcomes(result)
                if result.already_sent:
                    self.log.warning("Chunk %d was already sent by an earlier try (409); not sent again", index + 1)
                sent = result.total_sent or (len(chunk) if result.already_sent else 0)
                checkpoint.record(
                    sent=sent,
                    message_id=result.message_id,
                    outbound_ids=result.outbound_ids,
                    already=result.already_sent,
                    keep_ids=self.max_xcom_ids,
                )
                if opening is not None:
                    checkpoint.record_deferred(recipients=sent, until=fields["scheduled_date"])
                store.save(checkpoint.to_json())
                progress.chunk_done(len(rows), sent)
        checkpoint.completed = True
        if isinstance(store, VariableCheckpointStore):
            store.delete()  # no retention on Variables; MTA's 409 still guards a re-run
        else:
            store.save(checkpoint.to_json())
        if checkpoint.unknown or checkpoint.failed or checkpoint.opted_out_at_send:
            self.log.warning(
                "%d recipient(s) may or may not have been texted (not resent): %s; %d refused as opted out (STOP) "
                "by %s; %d refused for another reason: %s",
                checkpoint.unknown,
                ", ".join(checkpoint.unknown_recipients) or "-",
                checkpoint.opted_out_at_send,
                self.hook.api_name,
                checkpoint.failed,
                "; ".join(f"{f.get('recipient')}: {f.get('reason')}" for f in checkpoint.failures[:10]) or "-",
            )
        self.log.info(
            "Batch done: %s recipient(s) in %s chunk(s) %s; %s chunk(s) already sent by an earlier try",
            f"{checkpoint.sent:,}",
            f"{checkpoint.chunks:,}",
            progress.summary(),
            f"{checkpoint.already_sent_chunks:,}",
        )
        return self._result(plan, checkpoint, resumed_from=resumed_from)

    def _send_each(
        self,
        chunk: list[tuple[str, dict[str, str]]],
        fields: dict[str, Any],
        send_properties: bool,
        chunk_request_id: str,
        checkpoint: Checkpoint,
        store: CheckpointStore,
    ) -> int:
        """Send a chunk one recipient per request (APIs without per-recipient properties), checkpointing each.

        Before each request the checkpoint is saved with ``in_flight`` set, so a try that stops mid-request
        leaves a mark: unless the API rejects a repeated request id, the next try reports that recipient as
        unknown rather than risk texting it twice. Returns how many were sent now.
        """
        from airflow_provider_mta.core.errors import MtaError
        from airflow_provider_mta.core.idempotency import derive_request_id
        from airflow_provider_mta.core.masking import mask_recipient

        sent = 0
        build = self.hook.request_type().build
        for position, (recipient, props) in enumerate(chunk):
            if position < checkpoint.in_chunk:
                continue
            if checkpoint.in_flight and not self.hook.resend_is_safe:
                self.log.warning(
                    "%s: an earlier try stopped while sending to this recipient, and %s does not reject a repeat; "
                    "not sent again, reported as unknown",
                    mask_recipient(recipient),
                    self.hook.api_name,
                )
                checkpoint.record_unknown(mask_recipient(recipient))
                continue
            request = build(
                subscribers=[recipient],
                properties={recipient: props} if send_properties and props else None,
                message=self.message,
                **fields,
            )
            checkpoint.in_flight = True
            store.save(checkpoint.to_json())
            try:
                result = self.hook.send(request, request_id=derive_request_id(chunk_request_id, position))
            except MtaError:  # an answer that says nothing was sent (ambiguous failures come back as unknown)
                checkpoint.in_flight = False
                store.save(checkpoint.to_json())
                raise
            checkpoint.record_recipient(result, keep_ids=self.max_xcom_ids)
            sent += result.total_sent
        return sent

    # -- reporting ------------------------------------------------------------------------------

    def _totals(self, plan: BatchPlan) -> dict[str, Any]:
        return {
            "rows": plan.rows,
            "recipients": plan.recipients,
            "invalid": plan.invalid,
            "duplicates": plan.duplicates,
            "skipped": plan.invalid + plan.duplicates + plan.refused,
            "too_long": plan.too_long,
            "no_send_window": plan.no_send_window,
            "suppressed": plan.suppressed,
            "credits": plan.credits,
            "parts": plan.parts,
            "other_partitions": plan.other_partitions,
        }

    def _result(self, plan: BatchPlan, checkpoint: Checkpoint, *, resumed_from: int) -> dict[str, Any]:
        return {
            **self._totals(plan),
            "sent": checkpoint.sent,
            "chunks": checkpoint.chunks,
            "chunk_size": checkpoint.chunk_size,
            "message_ids": checkpoint.message_ids,
            "outbound_ids": checkpoint.outbound_ids,
            "already_sent_chunks": checkpoint.already_sent_chunks,
            "resumed_from_chunk": resumed_from,
            "deferred": checkpoint.deferred,
            "deferred_until": checkpoint.deferred_until,
            "quiet_hours_skipped": checkpoint.quiet_hours_skipped,
            "provider": self.hook.provider,
            "unknown": checkpoint.unknown,
            "unknown_recipients": checkpoint.unknown_recipients,
            "opted_out_at_send": checkpoint.opted_out_at_send,
            "failed": checkpoint.failed,
            "failures": checkpoint.failures,
        }

    def _log_plan(self, plan: BatchPlan, seconds: float) -> None:
        if plan.other_partitions:
            index, count = self.partition_value or (0, 1)
            self.log.info(
                "Partition %d of %d (0-based): %s of the %s row(s) read belong to other partitions; not validated here",
                index,
                count,
                f"{plan.other_partitions:,}",
                f"{plan.rows:,}",
            )
        self.log.info(
            "Validated %s row(s) in %.1f s: %s recipient(s), %s invalid%s, %s duplicate(s) merged; "
            "estimated %s part(s), %s credit(s)",
            f"{plan.rows:,}",
            seconds,
            f"{plan.recipients:,}",
            f"{plan.invalid:,}",
            " (skipped)" if plan.invalid else "",
            f"{plan.duplicates:,}",
            f"{plan.parts:,}",
            f"{plan.credits:,}",
        )
        for problem in plan.invalid_rows:
            self.log.warning("Skipped %s", problem)
        for problem in plan.refused_rows:
            self.log.warning("Skipped %s", problem)
        if plan.suppressed:
            self.log.info("%s recipient(s) opted out: not texted", f"{plan.suppressed:,}")
        for problem in plan.conflicting_duplicates:
            self.log.warning("Duplicate %s", problem)
        from airflow_provider_mta.utils.message_template import log_previews

        log_previews(self.log, plan.previews)


def _rendered_later(value: Any) -> bool:
    """True for a value only known when the task runs: a Jinja string, an XComArg, or a tuple holding one."""
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, (tuple, list)):
        return any(_rendered_later(v) for v in value)
    return not isinstance(value, (int, float, bool, Mapping))


def _partition_or_fail(task_id: str, value: Any) -> tuple[int, int]:
    """``(index, count)``, else an error naming ``partition``.

    Rendered Jinja is text: ``"3, 8"``, ``"(3, 8)"``, ``"[3, 8]"`` and ``("{{ params.part }}", 8)`` are read too.
    """
    from airflow_provider_mta.core.errors import MtaValidationError
    from airflow_provider_mta.core.partition import check_partition

    if isinstance(value, str) and not _rendered_later(value):
        value = value.strip().strip("()[]").split(",")
    if isinstance(value, (tuple, list)) and len(value) == 2:
        value = tuple(_int_text(v) for v in value)
    try:
        return check_partition(value)
    except MtaValidationError as exc:
        raise MtaValidationError(f"{task_id}: {exc}", field="partition") from None


def _int_text(value: Any) -> Any:
    """``" 3 "`` is 3 (rendered Jinja); anything else as it is."""
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return value


def _xcom_columns(rows: Any) -> list[str]:
    """The column names of rows already in memory (XCom): the first row's keys, or a columnar dict's."""
    if isinstance(rows, Mapping):
        return [str(k) for k in rows]
    if isinstance(rows, Sequence) and not isinstance(rows, (str, bytes)) and rows and isinstance(rows[0], Mapping):
        return [str(k) for k in rows[0]]
    return []


class _Progress:
    """INFO progress lines: one each time another 10 % of the recipients is done, and at least every ``interval``
    seconds; a rate and ETA once ``MIN_CHUNKS`` chunks of this try took ``MIN_SECONDS``. Chunk detail is DEBUG.

    While it runs, the client's "429 ... retry" warnings are counted, not logged one by one: each progress line
    (and the final one) says how many there were since the previous line.
    """

    MIN_CHUNKS = 3
    MIN_SECONDS = 1.0
    STEP = 0.1

    def __init__(self, log: Any, checkpoint: Checkpoint, credits: int, recipients: int, interval: float) -> None:
        self.log, self.checkpoint, self.credits, self.recipients = log, checkpoint, credits, recipients
        self.interval = interval
        self.started = self.last = time.monotonic()
        self.done_here = self.chunks_here = 0
        self.next_mark = self._mark_after(self._done())
        self.rate_limited = self.rate_limited_total = 0

    def _done(self) -> int:
        return min(self.checkpoint.confirmed * self.checkpoint.chunk_size, self.recipients)

    def _mark_after(self, done: int) -> int:
        step = max(1, math.ceil(self.recipients * self.STEP))
        return (done // step + 1) * step

    def __enter__(self) -> _Progress:
        import logging

        logging.getLogger("airflow_provider_mta.client").addFilter(self._count_rate_limited)
        return self

    def __exit__(self, *exc: object) -> None:
        import logging

        logging.getLogger("airflow_provider_mta.client").removeFilter(self._count_rate_limited)

    def _count_rate_limited(self, record: Any) -> bool:
        """A logging filter: a retry after a 429 is counted and not logged; every other record passes."""
        from airflow_provider_mta.core.errors import MtaRateLimitError

        args = record.args if isinstance(record.args, tuple) else ()
        if len(args) > 1 and isinstance(args[1], MtaRateLimitError) and "retry" in str(record.msg):
            self.rate_limited += 1
            self.rate_limited_total += 1
            return False
        return True

    def chunk_done(self, size: int, sent: int) -> None:
        self.done_here += size
        self.chunks_here += 1
        now = time.monotonic()
        elapsed = now - self.started
        done = self._done()
        self.log.debug(
            "Chunk %s/%s: %s row(s), %s sent", f"{self.checkpoint.confirmed:,}", f"{self.checkpoint.chunks:,}",
            f"{size:,}", f"{sent:,}",
        )  # fmt: skip
        if self.checkpoint.confirmed >= self.checkpoint.chunks:  # the last one: the "Batch done" line says it
            return
        if done < self.next_mark and now - self.last < self.interval:
            return
        self.last, self.next_mark = now, self._mark_after(done)
        if self.chunks_here >= self.MIN_CHUNKS and elapsed >= self.MIN_SECONDS:
            rate = self.done_here / elapsed
            speed = f"{_number(rate)} recipients/s, ETA {_duration((self.recipients - done) / rate)}"
        else:
            speed = "rate and ETA after a few more chunks"
        self.log.info(
            "Progress: %s/%s recipients (%d%%), chunk %s/%s, ~%s/%s credits, %s%s",
            f"{done:,}",
            f"{self.recipients:,}",
            100 * done // max(self.recipients, 1),
            f"{self.checkpoint.confirmed:,}",
            f"{self.checkpoint.chunks:,}",
            f"{round(self.credits * done / max(self.recipients, 1)):,}",
            f"{self.credits:,}",
            speed,
            self._rate_limited_note(),
        )

    def _rate_limited_note(self) -> str:
        count, self.rate_limited = self.rate_limited, 0
        return f"; {count:,} retr{'y' if count == 1 else 'ies'} after a 429 (rate limited)" if count else ""

    def summary(self) -> str:
        """For the final line: time taken, overall rate of this try, rate-limited retries in all."""
        elapsed = time.monotonic() - self.started
        rate = f", {_number(self.done_here / elapsed)} recipients/s" if elapsed >= self.MIN_SECONDS else ""
        total = self.rate_limited_total
        limited = f", {total:,} retr{'y' if total == 1 else 'ies'} after a 429 (rate limited)" if total else ""
        return f"in {_duration(elapsed)}{rate}{limited}"


def _number(value: float) -> str:
    """``12,500`` (one decimal below 10: ``2.5``)."""
    return f"{value:,.1f}" if value < 10 else f"{round(value):,}"


def _duration(seconds: float) -> str:
    if math.isinf(seconds):
        return "unknown"
    seconds = int(seconds)
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"
