"""MTA webhook bodies as :class:`SmsEvent`: V1 ``delivery-status``, ``message-reply`` and ``number-opt-in``.

- delivery-status (no ``event`` field, or ``"delivery-status"``): ``destinationNumber``, ``messageId`` (the
  **outbound** id, an integer), ``externalId``, ``status`` (MTA's number, named and classed by
  :func:`~airflow_provider_mta.backends.mta.deliveries.classify`). V1 carries no time: ``occurred_at`` is None.
- message-reply: ``fromNumber``, ``message``, ``replyId`` (the ``outbound_id`` of the reply), ``receivedAt``;
  a STOP/START text adds an ``opt_out``/``opt_in`` event.
- number-opt-in: ``number``, ``optIn`` (a JSON boolean), ``keyword`` (kept as ``text``), ``receivedAt``.

MTA gives no event id: ``event_id`` is the SHA-256 hex of the raw body, so a byte-identical replay is the same event.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from airflow_provider_mta.backends.mta.deliveries import classify
from airflow_provider_mta.core import webhook_parsing as wp
from airflow_provider_mta.core.sms_event import EventKind, SmsEvent

PROVIDER = "mta"
DELIVERY_EVENT = "delivery-status"
REPLY_EVENT = "message-reply"
OPT_IN_EVENT = "number-opt-in"


def parse_events(body: bytes) -> list[SmsEvent]:
    """The events of one verified MTA webhook body; :class:`MalformedBody` when it is not JSON."""
    data = wp.obj(wp.load_json(body))
    event_id = hashlib.sha256(body).hexdigest()
    event = data.get("event")
    if event == REPLY_EVENT:
        return _reply(data, event_id)
    if event == OPT_IN_EVENT:
        return _opt_in(data, event_id)
    if event in (None, DELIVERY_EVENT) and "status" in data and ("messageId" in data or "destinationNumber" in data):
        return [_delivery(data, event_id)]
    return []


def _delivery(data: Mapping[str, Any], event_id: str) -> SmsEvent:
    status = classify(data.get("status"))
    return SmsEvent(
        provider=PROVIDER,
        kind="delivery",
        event_id=event_id,
        number=wp.phone(data.get("destinationNumber")),
        outbound_id=wp.text_or_none(data.get("messageId")),
        external_id=wp.text_or_none(data.get("externalId")),
        status=status.name,
        outcome=status.outcome.value,
    )


def _inbound(
    data: Mapping[str, Any], event_id: str, *, kind: EventKind, number: str, text: Any, **ids: Any
) -> SmsEvent:
    """An event a person's text caused (``receivedAt`` its time); ``ids`` the optional id fields."""
    return SmsEvent(
        provider=PROVIDER,
        kind=kind,
        event_id=event_id,
        number=wp.phone(data.get(number)),
        occurred_at=wp.unix_time(data.get("receivedAt")),
        text=text if isinstance(text, str) else None,
        **ids,
    )


def _reply(data: Mapping[str, Any], event_id: str) -> list[SmsEvent]:
    reply = _inbound(
        data, event_id, kind="reply", number="fromNumber", text=data.get("message"),
        outbound_id=wp.text_or_none(data.get("replyId")),
    )  # fmt: skip
    return wp.with_keyword_events(reply)


def _opt_in(data: Mapping[str, Any], event_id: str) -> list[SmsEvent]:
    flag = data.get("optIn")
    if not isinstance(flag, bool):
        return []
    return [_inbound(data, event_id, kind="opt_in" if flag else "opt_out", number="number", text=data.get("keyword"))]
