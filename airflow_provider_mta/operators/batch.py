"""BatchPersonalizedSmsOperator: personalized texts to many recipients from XCom rows or SQL, exactly once."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from airflow.sdk import BaseOperator

from airflow_provider_mta.hooks.mta import MtaHook

if TYPE_CHECKING:
    import jinja2
    from airflow.sdk import Context

    from airflow_provider_mta.core.batch_plan import BatchPlan
    from airflow_provider_mta.core.checkpoint import Checkpoint

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


class BatchPersonalizedSmsOperator(BaseOperator):
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
    :param progress_interval: Seconds between progress lines in the task log.
    :param mta_conn_id: The ``mta`` connection.

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
        "mta_conn_id",
    )
    template_ext: Sequence[str] = (".sql", ".txt", ".liquid")
    template_fields_renderers = {"sql": "sql", "parameters": "json", "tags": "json", "defaults": "json"}
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
        progress_interval: float = 10.0,
        mta_conn_id: str = MtaHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if (rows is None) == (sql is None):
            raise ValueError(f"{self.task_id}: give exactly one of rows=... (XCom) or sql=... with conn_id=...")
        if sql is not None and not conn_id:
            raise ValueError(f"{self.task_id}: sql=... needs conn_id=... (a common.sql connection)")
        if not 1 <= chunk_size <= 1_000:
            raise ValueError(f"{self.task_id}: chunk_size must be between 1 and 1000, not {chunk_size}")
        if on_invalid not in ("fail", "skip"):
            raise ValueError(f"{self.task_id}: on_invalid must be 'fail' or 'skip', not {on_invalid!r}")
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
        self.mta_conn_id = mta_conn_id

    @cached_property
    def hook(self) -> MtaHook:
        """The MTA hook (built on first use, never at DAG parse)."""
        return MtaHook(mta_conn_id=self.mta_conn_id, default_region=self.default_region)

    def render_template_fields(self, context: Context, jinja_env: jinja2.Environment | None = None) -> None:
        """Render every field with Jinja, then ``message`` keeping the rows' property names for Liquid."""
        from airflow_provider_mta.operators.message_template import render_message

        jinja_env = jinja_env or self.get_template_env()
        others = [name for name in self.template_fields if name != "message"]
        self._do_render_template_fields(self, others, context, jinja_env, set())
        rename = self.rename_columns or {}
        names = (
            {rename.get(c, c) for c in self.property_columns or ()} | set(rename.values()) | set(self.defaults or {})
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
            return iter_mappings(self.rows, columns=self.columns)
        from airflow_provider_mta.operators.sql_rows import get_db_hook, iter_sql_rows

        db_hook = get_db_hook(str(self.conn_id), self.hook_params)
        self.log.info("Reading rows from %s connection %r", type(db_hook).__name__, self.conn_id)
        return iter_sql_rows(db_hook, self.sql, self.parameters, fetch_size=self.fetch_size)

    def plan(self) -> BatchPlan:
        """Read and validate every row; raises (naming rows and fields) before anything is sent."""
        from airflow_provider_mta.core.batch_plan import plan_batch
        from airflow_provider_mta.core.models import SendRequest
        from airflow_provider_mta.core.rows import ColumnMapping

        shared = self._shared_fields()
        # Validate the shared fields once, with a stand-in recipient, before reading any row.
        probe = SendRequest.build(subscribers=["+10000000000"], message=self.message, **shared)
        mapping = ColumnMapping(
            phone_column=self.phone_column,
            property_columns=self.property_columns,
            rename=dict(self.rename_columns or {}),
        )
        return plan_batch(
            self.iter_rows(),
            mapping=mapping,
            message=self.message,
            header=self.header,
            footer=self.footer,
            is_mms=probe.sends_as_mms,
            region=self.hook.region,
            defaults=self.defaults,
            send_all_properties=self.template_id is not None,
            on_invalid=self.on_invalid,
            identity={"message": self.message, **shared},
            on_progress=lambda n: self.log.info("Validated %s rows so far", f"{n:,}"),
        )

    def _shared_fields(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in SHARED_FIELDS if getattr(self, name) is not None}

    # -- execution ------------------------------------------------------------------------------

    def execute(self, context: Context) -> dict[str, Any]:
        started = time.monotonic()
        plan = self.plan()
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
            if self.max_credits is not None and plan.credits > self.max_credits:
                from airflow_provider_mta.core.errors import MtaValidationError

                raise MtaValidationError(
                    f"max_credits: the batch would use an estimated {plan.credits:,} credits for "
                    f"{plan.recipients:,} recipients, more than max_credits={self.max_credits:,}; nothing was sent",
                    field="max_credits",
                )
            return self._send(plan, context)
        finally:
            plan.close()

    def _send(self, plan: BatchPlan, context: Context) -> dict[str, Any]:
        from airflow_provider_mta.core.checkpoint import Checkpoint, resume_point
        from airflow_provider_mta.core.idempotency import derive_request_id
        from airflow_provider_mta.core.models import SendRequest
        from airflow_provider_mta.operators.checkpoint_store import VariableCheckpointStore, checkpoint_store

        ti = context["ti"]
        store = checkpoint_store(context)
        checkpoint = resume_point(Checkpoint.from_json(store.load()), fingerprint=plan.fingerprint, store=store)
        if checkpoint is None:
            checkpoint = Checkpoint(
                fingerprint=plan.fingerprint,
                chunk_size=self.chunk_size,
                chunks=math.ceil(plan.recipients / self.chunk_size),
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
                "Resuming: an earlier try (try %s) had %d of %d chunk(s) confirmed by MTA (%d recipients); "
                "sending from chunk %d on",
                checkpoint.started_try,
                checkpoint.confirmed,
                checkpoint.chunks,
                checkpoint.sent,
                checkpoint.confirmed + 1,
            )
        resumed_from = checkpoint.confirmed
        shared = self._shared_fields()
        send_properties = bool(plan.variables) or self.template_id is not None
        progress = _Progress(self.log, checkpoint, plan.credits, plan.recipients, self.progress_interval)
        for index, chunk in plan.spool.chunks(checkpoint.chunk_size, start=checkpoint.confirmed):
            subscribers = [recipient for recipient, _ in chunk]
            properties = {r: p for r, p in chunk if p} if send_properties else None
            request = SendRequest.build(
                subscribers=subscribers, properties=properties or None, message=self.message, **shared
            )
            request_id = derive_request_id(
                ti.dag_id, ti.task_id, ti.run_id, ti.map_index, plan.fingerprint, checkpoint.chunk_size, index
            )
            result = self.hook.send(request, request_id=request_id)
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
            store.save(checkpoint.to_json())
            progress.chunk_done(len(chunk))
        checkpoint.completed = True
        if isinstance(store, VariableCheckpointStore):
            store.delete()  # no retention on Variables; MTA's 409 still guards a re-run
        else:
            store.save(checkpoint.to_json())
        self.log.info(
            "Batch done: %d recipient(s) in %d chunk(s), %d already sent by an earlier try",
            checkpoint.sent,
            checkpoint.chunks,
            checkpoint.already_sent_chunks,
        )
        return self._result(plan, checkpoint, resumed_from=resumed_from)

    # -- reporting ------------------------------------------------------------------------------

    def _totals(self, plan: BatchPlan) -> dict[str, Any]:
        return {
            "rows": plan.rows,
            "recipients": plan.recipients,
            "invalid": plan.invalid,
            "duplicates": plan.duplicates,
            "skipped": plan.invalid + plan.duplicates,
            "credits": plan.credits,
            "parts": plan.parts,
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
        }

    def _log_plan(self, plan: BatchPlan, seconds: float) -> None:
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
        for problem in plan.conflicting_duplicates:
            self.log.warning("Duplicate %s", problem)
        from airflow_provider_mta.operators.message_template import log_previews

        log_previews(self.log, plan.previews)


class _Progress:
    """Progress lines (chunks, recipients, credits, rate, ETA) at most every ``interval`` seconds."""

    def __init__(self, log: Any, checkpoint: Checkpoint, credits: int, recipients: int, interval: float) -> None:
        self.log, self.checkpoint, self.credits, self.recipients = log, checkpoint, credits, recipients
        self.interval = interval
        self.started = self.last = time.monotonic()
        self.done_here = 0

    def chunk_done(self, size: int) -> None:
        self.done_here += size
        now = time.monotonic()
        last_chunk = self.checkpoint.confirmed == self.checkpoint.chunks
        if now - self.last < self.interval and not last_chunk and self.checkpoint.confirmed != 1:
            return
        self.last = now
        elapsed = max(now - self.started, 1e-9)
        rate = self.done_here / elapsed
        done = min(self.checkpoint.confirmed * self.checkpoint.chunk_size, self.recipients)
        eta = (self.recipients - done) / rate if rate else float("inf")
        self.log.info(
            "Progress: chunk %d/%d, %s/%s recipients, ~%s/%s credits, %.1f recipients/s, ETA %s",
            self.checkpoint.confirmed,
            self.checkpoint.chunks,
            f"{done:,}",
            f"{self.recipients:,}",
            f"{round(self.credits * done / self.recipients):,}",
            f"{self.credits:,}",
            rate,
            _duration(eta),
        )


def _duration(seconds: float) -> str:
    if math.isinf(seconds):
        return "unknown"
    seconds = int(seconds)
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"
