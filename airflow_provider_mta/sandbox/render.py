"""Turn a validated ``POST /send`` body into one rendered message per recipient.

Recipients are normalized with the core's :func:`normalize_recipient`; the message is rendered with
Liquid (strict undefined) per recipient from ``properties``, then header/footer are added with
:func:`~airflow_provider_mta.core.segments.compose`; a text over MTA's limit
(:func:`~airflow_provider_mta.core.length.length_problem`) refuses the whole request with MTA's 400,
and parts/credits come from :func:`~airflow_provider_mta.core.segments.estimate`. An opted-out
number is accepted but ends STOPPED_NUMBER.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from airflow_provider_mta.backends.mta.models import SendRequest, validation_error
from airflow_provider_mta.core.length import MTA_MMS_LIMIT_MESSAGE, MTA_SMS_LIMIT_MESSAGE, length_problem
from airflow_provider_mta.core.masking import mask_recipient
from airflow_provider_mta.core.phones import InvalidRecipientError, normalize_recipient
from airflow_provider_mta.core.segments import MessageCost, compose, estimate
from airflow_provider_mta.sandbox.errors import ApiError
from airflow_provider_mta.sandbox.statuses import STOPPED_NUMBER, final_status_for
from airflow_provider_mta.sandbox.store import NewMessage

if TYPE_CHECKING:
    from liquid import Environment

    from airflow_provider_mta.sandbox.store import Store

TEMPLATE_TEXT = "Sandbox template #{template_id}: this is a test message."
"""What ``templateId`` sends when no ``message`` is given (the sandbox has no real templates)."""


def parse_send(body: Any) -> SendRequest:
    """Validate a ``/send`` body with the core's wire model; 400 with its readable text on failure."""
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object")
    try:
        return SendRequest.model_validate(body)
    except ValidationError as exc:
        raise ApiError(400, str(validation_error(exc))) from None


def resolve_recipients(request: SendRequest, store: Store, max_recipients: int) -> list[tuple[str, str]]:
    """``(as sent, normalized)`` per recipient, in request order."""
    if request.subscribers is not None:
        raw = list(request.subscribers)
    elif request.groups is not None:
        groups = {gid: members for gid, _, members in store.list_groups()}
        unknown = [g for g in request.groups if g not in groups]
        if unknown:
            raise ApiError(400, f"unknown group {unknown[0]} (create groups with POST /v3/groups)")
        raw = list(dict.fromkeys(m for g in request.groups for m in groups[g]))
    elif request.all_subscribers:
        raw = list(dict.fromkeys(m for _, _, members in store.list_groups() for m in members))
        if not raw:
            raise ApiError(400, "allSubscribers: no subscribers (create groups with POST /v3/groups)")
    elif request.subscriber_ids is not None:
        raise ApiError(400, f"unknown subscriber id {request.subscriber_ids[0]} (the sandbox has none)")
    else:
        raise ApiError(400, f"unknown thread {request.thread_id} (the sandbox has no threads)")
    if len(raw) > max_recipients:
        raise ApiError(400, f"too many recipients: {len(raw)} (the limit is {max_recipients} per request)")
    out = []
    for value in raw:
        try:
            out.append((value, normalize_recipient(value, region="US")))
        except InvalidRecipientError as exc:
            raise ApiError(400, f"invalid recipient: {exc}") from None
    return out


@lru_cache(maxsize=1)
def _liquid() -> Environment:
    from liquid import Environment, StrictUndefined

    return Environment(undefined=StrictUndefined)


def check_length(text: str, *, is_mms: bool) -> None:
    """MTA's 400 "Character Limit Exceeded" when ``text`` is over the SMS (or MMS) limit."""
    if length_problem(text, is_mms=is_mms) is not None:
        raise ApiError(400, MTA_MMS_LIMIT_MESSAGE if is_mms else MTA_SMS_LIMIT_MESSAGE)


def final_status(number: str, opted_out: frozenset[str]) -> int:
    """STOPPED_NUMBER for a number that opted out (texted STOP), else the deterministic rule."""
    return STOPPED_NUMBER if number in opted_out else final_status_for(number)


def render_messages(
    request: SendRequest, recipients: list[tuple[str, str]], *, opted_out: frozenset[str] = frozenset()
) -> list[NewMessage]:
    """One :class:`NewMessage` per recipient; a missing variable or a text over MTA's limit is a 400.

    ``opted_out`` holds the normalized numbers that opted out; their messages end STOPPED_NUMBER.
    """
    from liquid.exceptions import LiquidError

    if request.message is not None:
        content = request.message
    elif request.template_id is not None:
        content = TEMPLATE_TEXT.format(template_id=request.template_id)
    else:
        content = ""
    is_mms = request.sends_as_mms
    kind = "mms" if is_mms else "sms"
    properties = request.properties or {}
    template = None
    variables: list[str] = []
    if "{{" in content or "{%" in content:
        try:
            template = _liquid().from_string(content)
            variables = list(template.global_variables())
        except LiquidError as exc:
            raise ApiError(400, f"message is not a valid Liquid template: {exc.message}") from None
    costs: dict[str, MessageCost] = {}
    out = []
    for raw, number in recipients:
        body = content
        if template is not None:
            props = properties.get(raw, {})
            missing = [name for name in variables if name not in props]
            if missing:
                raise ApiError(
                    400,
                    f"message uses the variable '{missing[0]}' but properties has no value for it for "
                    "recipient "
                    f"{mask_recipient(raw)}; nothing was sent",
                )
            try:
                body = template.render(**props)
            except LiquidError as exc:
                raise ApiError(
                    400, f"cannot render the message for recipient {mask_recipient(raw)}: {exc.message}"
                ) from None
        text = compose(body, header=request.header, footer=request.footer)
        cost = costs.get(text)
        if cost is None:  # each distinct text is checked and priced once
            check_length(text, is_mms=is_mms)
            cost = costs[text] = estimate(text, is_mms=is_mms)
        out.append(NewMessage(number, text, cost.parts, cost.credits, kind, final_status(number, opted_out)))
    return out


def prepare_send(request: SendRequest, store: Store, max_recipients: int) -> list[NewMessage]:
    """Resolve recipients and render every message (CPU-bound; run it in a worker thread)."""
    recipients = resolve_recipients(request, store, max_recipients)
    return render_messages(request, recipients, opted_out=store.opted_out())
