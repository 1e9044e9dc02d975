"""Validating a personalized batch before anything is sent: one streaming pass over the rows.

Each row's recipient is normalized (E.164 or email), duplicates are merged (the first row wins),
every Liquid variable must have a value (or a default), each recipient's text is rendered to count
its parts and credits, and accepted recipients go to an on-disk :class:`RecipientSpool`. The
fingerprint identifies exactly what will be sent, so a retry can tell whether its source changed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Container, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING, Any, Literal

from airflow_provider_mta.core import liquid
from airflow_provider_mta.core.errors import MtaValidationError
from airflow_provider_mta.core.estimate import Preview
from airflow_provider_mta.core.length import is_blank, length_fix, units_problem
from airflow_provider_mta.core.masking import mask_recipient
from airflow_provider_mta.core.partition import partition_of, raw_key
from airflow_provider_mta.core.phones import InvalidRecipientError, normalize_recipient
from airflow_provider_mta.core.rows import BadPropertyError, ColumnMapping, property_text
from airflow_provider_mta.core.segments import compose, estimate
from airflow_provider_mta.core.spool import RecipientSpool

if TYPE_CHECKING:
    from airflow_provider_mta.core.quiet_hours import QuietHours

OnInvalid = Literal["fail", "skip"]
PROGRESS_EVERY_ROWS = 50_000
NORMALIZE_BLOCK_ROWS = 1_000
# Canonical JSON of a recipient's properties (spool, duplicate check, fingerprint); the same text as
# json.dumps(props, sort_keys=True, separators=(",", ":")), without building an encoder per row.
_PROPS_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":")).encode


@dataclass
class RowProblem:
    """Why one source row (1-based) cannot be sent; the recipient is masked."""

    row: int
    recipient: str | None
    problem: str

    def __str__(self) -> str:
        who = f" ({self.recipient})" if self.recipient else ""
        return f"row {self.row}{who}: {self.problem}"


@dataclass
class BatchPlan:
    """What a batch will send: totals, a few previews, the spool of recipients and its fingerprint."""

    spool: RecipientSpool
    fingerprint: str
    rows: int = 0
    recipients: int = 0
    invalid: int = 0
    duplicates: int = 0
    credits: int = 0
    parts: int = 0
    variables: list[str] = field(default_factory=list)
    previews: list[Preview] = field(default_factory=list)
    invalid_rows: list[RowProblem] = field(default_factory=list)
    conflicting_duplicates: list[RowProblem] = field(default_factory=list)
    suppressed: int = 0
    too_long: int = 0
    blank: int = 0
    no_send_window: int = 0
    exempt_from_quiet_hours: int = 0
    refused_rows: list[RowProblem] = field(default_factory=list)
    other_partitions: int = 0  # rows another partition owns (``partition=``): read, never counted above

    @property
    def own_rows(self) -> int:
        """The rows this batch owns: every row read, less those of other partitions."""
        return self.rows - self.other_partitions

    @property
    def refused(self) -> int:
        """Recipients that cannot be sent as given: a text over MTA's limit, or no send window."""
        return self.too_long + self.blank + self.no_send_window

    def close(self) -> None:
        self.spool.close()


def plan_batch(
    rows: Iterable[Mapping[str, Any]],
    *,
    mapping: ColumnMapping,
    message: str | None,
    header: str | None = None,
    footer: str | None = None,
    is_mms: bool = False,
    region: str | None = None,
    defaults: Mapping[str, Any] | None = None,
    send_all_properties: bool = False,
    on_invalid: OnInvalid = "fail",
    identity: Any = None,
    previews: int = 5,
    report_limit: int = 5,
    spool_dir: str | None = None,
    on_progress: Callable[[int], None] | None = None,
    suppressed: Container[str] | None = None,
    quiet_hours: QuietHours | None = None,
    check_length: bool = True,
    partition: tuple[int, int] | None = None,
) -> BatchPlan:
    """Validate every row and spool the accepted recipients; raise before sending on any error.

    ``on_invalid="fail"`` raises naming the first ``report_limit`` bad rows (and the count);
    ``"skip"`` leaves them out and counts them. A recipient that lacks a variable the message uses
    always fails (give it in ``defaults`` instead). Only the variables the message uses are kept as
    properties, unless ``send_all_properties`` (a saved MTA template whose variables are unknown here).

    Each text (after Liquid, header and footer) must fit MTA's length limit (``check_length``; off only
    for a saved template, whose text MTA alone knows), and with ``quiet_hours`` each number must have
    a send window; recipients that fail either are refused like invalid rows (``on_invalid``).
    Recipients in ``suppressed`` (normalized, opted out) are spooled in their place but never sent.

    With ``partition=(index, count)`` only the rows this partition owns are validated, counted and spooled
    (:mod:`~airflow_provider_mta.core.partition`: by the normalized recipient, or an invalid row's raw value);
    the others are counted in ``other_partitions`` alone. Row numbers stay those of the whole source.
    """
    if on_invalid not in ("fail", "skip"):
        raise MtaValidationError(f"on_invalid: must be 'fail' or 'skip', not {on_invalid!r}", field="on_invalid")
    needed = liquid.variables(message) if message else []
    keep = None if send_all_properties else set(needed)
    defaults = dict(defaults or {})
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode())
    plan = BatchPlan(spool=RecipientSpool(directory=spool_dir), fingerprint="", variables=needed)
    missing: list[RowProblem] = []
    missing_count = 0
    checked_columns = False
    refused: set[str] = set()  # recipients whose first row cannot be sent (bounded by those rows)
    check_length = check_length and message is not None  # a saved template's text is MTA's to measure
    index, count = partition if partition is not None else (0, 1)
    valid_elsewhere = 0  # valid rows of other partitions: the table is not without valid recipients
    try:
        for row_no, row, recipient in _with_recipients(rows, mapping.phone_column, region, NORMALIZE_BLOCK_ROWS):
            plan.rows = row_no
            if on_progress is not None and row_no % PROGRESS_EVERY_ROWS == 0:
                on_progress(row_no)
            if not checked_columns:
                _check_columns(mapping, list(row.keys()), needed, defaults)
                checked_columns = True
            if count > 1:
                invalid = isinstance(recipient, InvalidRecipientError)
                key = raw_key(row.get(mapping.phone_column)) if invalid else str(recipient)
                if partition_of(key, count) != index:
                    plan.other_partitions += 1
                    valid_elsewhere += not invalid
                    continue
            if isinstance(recipient, InvalidRecipientError):
                plan.invalid += 1
                if len(plan.invalid_rows) < report_limit:
                    plan.invalid_rows.append(RowProblem(row_no, None, str(recipient)))
                continue
            try:
                props = {**defaults, **mapping.properties(row)}
            except BadPropertyError as exc:
                raise MtaValidationError(
                    f"properties: row {row_no} ({mask_recipient(recipient)}): {exc}; nothing was sent",
                    field="properties",
                ) from None
            if keep is not None:
                props = {k: v for k, v in props.items() if k in keep}
            lacking = [v for v in needed if v not in props]
            if lacking and plan.spool.props_of(recipient) is not None:
                plan.duplicates += 1  # merged into an earlier row, so its gaps do not matter
                continue
            if lacking:
                missing_count += 1
                if len(missing) < report_limit:
                    missing.append(RowProblem(row_no, mask_recipient(recipient), f"lacks {', '.join(lacking)}"))
                continue
            if recipient in refused:
                plan.duplicates += 1  # the first row of this recipient could not be sent; it wins
                continue
            props_json = _PROPS_JSON(props)
            is_suppressed = suppressed is not None and recipient in suppressed
            group = quiet_hours.group_of(recipient) if quiet_hours is not None else ""
            first = plan.spool.add(recipient, row_no, props_json, group=group, suppressed=is_suppressed)
            if first is not None:
                plan.duplicates += 1
                if plan.spool.props_of(recipient) != props_json and len(plan.conflicting_duplicates) < report_limit:
                    kept = f"same recipient as row {first} with other properties; row {first} is kept"
                    plan.conflicting_duplicates.append(RowProblem(row_no, mask_recipient(recipient), kept))
                continue
            digest.update(f"{recipient}\x1f{props_json}\x1e".encode())
            if is_suppressed:
                plan.suppressed += 1  # keeps its place in the chunks; never rendered, counted or sent
                continue
            problem = quiet_hours.problem(group) if quiet_hours is not None else None
            text = ""
            if problem is None:
                text = compose(
                    _render(message, props, row_no, recipient) if needed else (message or ""),
                    header=header,
                    footer=footer,
                )
                cost = estimate(text, is_mms=is_mms)
                problem = units_problem(cost.units, is_mms=is_mms) if check_length else None
                if problem is not None:
                    plan.too_long += 1
                elif check_length and is_blank(text):
                    problem = "the text is blank (only spaces or invisible characters); MTA would send an empty SMS"
                    plan.blank += 1
            else:
                plan.no_send_window += 1
            if problem is not None:
                plan.spool.discard_last()
                refused.add(recipient)
                if len(plan.refused_rows) < report_limit:
                    plan.refused_rows.append(RowProblem(row_no, mask_recipient(recipient), problem))
                continue
            if group == "" and quiet_hours is not None and "@" in recipient:
                plan.exempt_from_quiet_hours += 1
            plan.credits += cost.credits
            plan.parts += cost.parts
            if len(plan.previews) < previews:
                plan.previews.append(Preview(mask_recipient(recipient), text, cost.parts, cost.credits, cost.encoding))
        plan.spool.finish()
        plan.recipients = plan.spool.count - plan.suppressed
        plan.fingerprint = digest.hexdigest()
        _raise_on_problems(plan, on_invalid, missing, missing_count, needed, is_mms=is_mms, elsewhere=valid_elsewhere)
    except BaseException:
        plan.close()
        raise
    return plan


def _with_recipients(
    rows: Iterable[Mapping[str, Any]], phone_column: str, region: str | None, block: int
) -> Iterator[tuple[int, Mapping[str, Any], str | InvalidRecipientError]]:
    """``(row number, row, E.164 recipient or why it is invalid)`` for every row, in order.

    The recipients of ``block`` rows are normalized in one go before those rows are processed:
    phonenumbers' code and metadata then stay in the CPU caches, where interleaving each call with
    the rendering and the spool makes the same calls about a quarter slower. Every recipient is still
    validated by phonenumbers; only the order of the work changes.
    """
    source = iter(rows)
    row_no = 0
    size = 1  # the first row alone: its columns are checked before any other row is read
    while chunk := list(islice(source, size)):
        size = block
        recipients = [_normalize(row.get(phone_column), region) for row in chunk]
        for row, recipient in zip(chunk, recipients, strict=True):
            row_no += 1
            yield row_no, row, recipient


def _normalize(raw: Any, region: str | None) -> str | InvalidRecipientError:
    try:
        return normalize_recipient(raw, region=region)
    except InvalidRecipientError as exc:
        return exc.with_traceback(None)


def _check_columns(mapping: ColumnMapping, columns: list[str], needed: list[str], defaults: Mapping[str, Any]) -> None:
    mapping.check_columns(columns)
    available = set(mapping.property_names(columns)) | set(defaults)
    unknown = [name for name in needed if name not in available]
    if unknown:
        # ds, ts, logical_date ...: a context name the run lacks (no logical date), not a mistyped column
        problems = [hint for hint in map(liquid.absent_context_name, unknown) if hint]
        others = [name for name in unknown if name not in liquid.LOGICAL_DATE_NAMES]
        if others:
            problems.append(
                f"{', '.join('{{ ' + n + ' }}' for n in others)} is neither an Airflow context name nor a "
                f"property of the rows ({', '.join(sorted(available)) or 'none'}); check the column names, "
                "property_columns, rename_columns and defaults"
            )
        raise MtaValidationError(f"message: {'; '.join(problems)}", field="message")


def _render(message: str | None, props: Mapping[str, Any], row_no: int, recipient: str) -> str:
    """The row's text as MTA renders it: from the properties' text, as they are sent (``false`` is text)."""
    try:
        return liquid.render(message or "", {k: property_text(v) for k, v in props.items()})
    except Exception as exc:  # a Liquid filter or type error in this row's values
        raise MtaValidationError(
            f"message: row {row_no} ({mask_recipient(recipient)}) does not render: {str(exc).splitlines()[0]}",
            field="message",
        ) from None


def _raise_on_problems(
    plan: BatchPlan,
    on_invalid: OnInvalid,
    missing: list[RowProblem],
    missing_count: int,
    needed: list[str],
    *,
    is_mms: bool,
    elsewhere: int = 0,
) -> None:
    if plan.invalid and on_invalid == "fail":
        shown = "; ".join(str(p) for p in plan.invalid_rows)
        more = f" and {plan.invalid - len(plan.invalid_rows)} more" if plan.invalid > len(plan.invalid_rows) else ""
        raise MtaValidationError(
            f"rows: {plan.invalid} of {plan.own_rows} row(s){_of_partition(plan)} have no valid recipient: "
            f"{shown}{more}. "
            "Nothing was sent; fix them or set on_invalid='skip'",
            field="rows",
        )
    if plan.refused and on_invalid == "fail":
        shown = "; ".join(str(p) for p in plan.refused_rows)
        more = f" and {plan.refused - len(plan.refused_rows)} more" if plan.refused > len(plan.refused_rows) else ""
        field_name = "message" if plan.too_long or plan.blank else "quiet_hours"
        fix = f" ({length_fix(is_mms=is_mms)})" if plan.too_long else ""
        raise MtaValidationError(
            f"{field_name}: {plan.refused} recipient(s) cannot be sent as given: {shown}{more}{fix}. "
            "Nothing was sent; fix them or set on_invalid='skip'",
            field=field_name,
        )
    if missing_count:
        shown = "; ".join(str(p) for p in missing)
        more = f" and {missing_count - len(missing)} more" if missing_count > len(missing) else ""
        raise MtaValidationError(
            f"properties: the message uses {', '.join(needed)}, but {missing_count} recipient(s) lack a value: "
            f"{shown}{more}. Nothing was sent; fill the column(s) or declare defaults={{...}}",
            field="properties",
        )
    if plan.rows and not plan.recipients and not plan.suppressed and not elsewhere:
        raise MtaValidationError(f"rows: none of the {plan.rows} row(s) has a valid recipient", field="rows")


def _of_partition(plan: BatchPlan) -> str:
    return f" of this partition ({plan.rows} read)" if plan.other_partitions else ""
