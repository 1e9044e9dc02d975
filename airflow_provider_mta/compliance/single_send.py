"""Opt-outs and quiet hours applied to one ``POST /send`` (SendSmsOperator) before it leaves."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_mta.core.errors import MtaValidationError
from airflow_provider_mta.core.masking import mask_recipient

if TYPE_CHECKING:
    from airflow_provider_mta.core.outgoing import OutgoingRequest
    from airflow_provider_mta.operators.send import SendSmsOperator


@dataclass
class SendCompliance:
    """The request to send (None: nobody left) and what opt-outs and quiet hours changed."""

    request: OutgoingRequest | None
    suppressed: int = 0
    deferred: int = 0
    deferred_until: str | None = None
    quiet_hours_skipped: int = 0
    notes: list[str] = field(default_factory=list)

    def xcom(self) -> dict[str, Any]:
        return {
            "suppressed": self.suppressed,
            "deferred": self.deferred,
            "deferred_until": self.deferred_until,
            "quiet_hours_skipped": self.quiet_hours_skipped,
        }

    def describe(self) -> str:
        return "; ".join(self.notes) or "no recipient left"


def apply_compliance(op: SendSmsOperator, request: OutgoingRequest) -> SendCompliance:
    """Drop opted-out recipients, then hold, drop or refuse those outside their quiet-hours window."""
    from airflow_provider_mta.compliance.suppression_sources import load_suppression

    outcome = SendCompliance(request=request)
    suppression = load_suppression(
        suppress=op.unmasked("suppress"),
        suppress_sql=op.suppress_sql,
        suppress_conn_id=op.suppress_conn_id,
        opt_out_conn_id=op.opt_out_conn_id or op.hook.opt_out_conn_id,
        opt_out_table=op.opt_out_table,
        region=op.hook.region,
    )
    if suppression is not None and request.subscribers:
        stopped = [r for r in request.subscribers if r in suppression]
        if stopped:
            outcome.suppressed = len(stopped)
            outcome.notes.append(f"{len(stopped)} opted-out recipient(s) left out ({_masked(stopped)})")
            op.log.warning("Not texting %d opted-out recipient(s): %s", len(stopped), _masked(stopped))
            remaining = _without(request, set(stopped))
            if remaining is None:
                outcome.request = None
                return outcome
            request = remaining
    outcome.request = _quiet_hours(op, request, outcome)
    return outcome


def _quiet_hours(op: SendSmsOperator, request: OutgoingRequest, outcome: SendCompliance) -> OutgoingRequest | None:
    quiet = op.quiet_rule
    if quiet is None:
        return request
    if not request.subscribers:
        raise MtaValidationError(
            "quiet_hours: needs subscribers (phone numbers); MTA alone knows where members of groups, subscriber "
            "ids or all subscribers are. Set quiet_hours=None or list the numbers",
            field="quiet_hours",
        )
    from airflow_provider_mta.core.outgoing import parse_scheduled_date
    from airflow_provider_mta.core.send_window import common_opening

    now = op.clock() if op.clock is not None else dt.datetime.now(dt.timezone.utc)
    at = parse_scheduled_date(request.scheduled_date) if request.scheduled_date else now
    groups = {r: quiet.group_of(r) for r in request.subscribers}
    for recipient, group in groups.items():
        problem = quiet.problem(group)
        if problem:
            raise MtaValidationError(f"quiet_hours: {mask_recipient(recipient)}: {problem}", field="quiet_hours")
    closed = {r: o for r, g in groups.items() if (o := quiet.next_open(g, at=at)) is not None}
    if not closed:
        return request
    detail = ", ".join(f"{mask_recipient(r)} until {o:%Y-%m-%d %H:%M} UTC" for r, o in list(closed.items())[:5])
    if quiet.action == "fail":
        raise MtaValidationError(
            f"quiet_hours: {len(closed)} recipient(s) are outside {quiet.describe()} at their location ({detail}); "
            "quiet_hours_action='fail', so nothing was sent",
            field="quiet_hours",
        )
    if quiet.action == "skip":
        outcome.quiet_hours_skipped = len(closed)
        outcome.notes.append(f"{len(closed)} recipient(s) outside their quiet-hours window skipped ({detail})")
        op.log.warning("quiet_hours: skipping %d recipient(s) outside their window: %s", len(closed), detail)
        return _without(request, set(closed))
    opening = common_opening(quiet, groups.values(), at=at)
    if opening is None:  # cannot happen: some recipient is outside their window at `at`
        return request
    when = type(request).format_date(opening)
    outcome.deferred, outcome.deferred_until = len(request.subscribers), when
    op.log.warning(
        "quiet_hours: %d recipient(s) outside their window (%s); the send is scheduled for %s, when every "
        "recipient's window is open",
        len(closed),
        detail,
        when,
    )
    return request.model_copy(update={"scheduled_date": when})


def _without(request: OutgoingRequest, drop: set[str]) -> OutgoingRequest | None:
    """The request without some subscribers (and their properties); None when nobody is left."""
    keep = [r for r in request.subscribers or () if r not in drop]
    if not keep:
        return None
    properties = {r: p for r, p in (request.properties or {}).items() if r not in drop} or None
    return request.model_copy(update={"subscribers": keep, "properties": properties})


def _masked(recipients: list[str]) -> str:
    shown = ", ".join(mask_recipient(r) for r in recipients[:5])
    return shown + (f" and {len(recipients) - 5} more" if len(recipients) > 5 else "")
