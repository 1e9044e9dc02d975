"""Credits estimate and per-recipient previews of a send, computed locally (nothing is sent)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from airflow_provider_mta.core import liquid
from airflow_provider_mta.core.errors import MtaValidationError
from airflow_provider_mta.core.length import is_blank, length_fix, units_problem
from airflow_provider_mta.core.masking import mask_recipient
from airflow_provider_mta.core.segments import compose, estimate

if TYPE_CHECKING:
    from airflow_provider_mta.core.outgoing import OutgoingRequest


@dataclass
class Preview:
    """What one (masked) recipient would receive."""

    to: str
    text: str
    parts: int
    credits: int
    encoding: str


@dataclass
class SendEstimate:
    """Totals for a send; ``recipients`` is None when MTA alone knows them (groups, all subscribers)."""

    recipients: int | None
    credits_per_recipient_max: int
    credits: int | None
    previews: list[Preview] = field(default_factory=list)


def estimate_send(request: OutgoingRequest, *, previews: int = 5) -> SendEstimate:
    """Render each listed recipient's text (Liquid properties, header, footer) and count its credits.

    For groups, subscriber ids, threads and all subscribers only the per-message cost is known.
    Raises :class:`MtaValidationError` naming the (masked) recipient when a text is longer than MTA
    accepts, blank, or does not render (a saved template without ``message`` is MTA's to measure).
    """
    message = request.message or ""
    header, footer = getattr(request, "header", None), getattr(request, "footer", None)  # APIs that add them
    is_mms = request.sends_as_mms
    check = request.message is not None
    shown: list[Preview] = []
    if not request.subscribers:
        text = compose(message, header=header, footer=footer)
        cost = estimate(text, is_mms=is_mms)
        if check:
            _check_length(cost.units, is_mms, "every recipient")
            _check_blank(text, "every recipient")
        shown.append(Preview("(each recipient)", text, cost.parts, cost.credits, cost.encoding))
        subscriber_ids = getattr(request, "subscriber_ids", None)
        count = len(subscriber_ids) if subscriber_ids else None
        return SendEstimate(count, cost.credits, cost.credits * count if count else None, shown)
    uses_liquid = bool(liquid.variables(message)) if message else False
    total = worst = 0
    for recipient in request.subscribers:
        props = (request.properties or {}).get(recipient, {})
        who = mask_recipient(recipient)
        body = _render(message, props, who) if uses_liquid else message
        text = compose(body, header=header, footer=footer)
        cost = estimate(text, is_mms=is_mms)
        if check:
            _check_length(cost.units, is_mms, who)
            _check_blank(text, who)
        total += cost.credits
        worst = max(worst, cost.credits)
        if len(shown) < previews:
            shown.append(Preview(mask_recipient(recipient), text, cost.parts, cost.credits, cost.encoding))
    return SendEstimate(len(request.subscribers), worst, total, shown)


def _render(message: str, properties: dict[str, str], who: str) -> str:
    try:
        return liquid.render(message, properties)
    except Exception as exc:  # a Liquid filter or comparison that fails for this recipient's values
        raise MtaValidationError(
            f"message: for {who}, it does not render: {str(exc).splitlines()[0]}; nothing was sent", field="message"
        ) from None


def _check_blank(text: str, who: str) -> None:
    if is_blank(text):
        raise MtaValidationError(
            f"message: for {who}, the text is blank (only spaces or invisible characters); nothing was sent",
            field="message",
        )


def _check_length(units: int, is_mms: bool, who: str) -> None:
    problem = units_problem(units, is_mms=is_mms)
    if problem is not None:
        raise MtaValidationError(
            f"message: for {who}, {problem}: {length_fix(is_mms=is_mms)}. Nothing was sent", field="message"
        )
