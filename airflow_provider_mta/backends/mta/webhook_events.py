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
from airflow_provider_mta.core.sms_event import SmsEvent
from airflow_provider_mta.core.webhook_parsing import (
    load_json,
    obj,
    phone,
    text_or_none,
    unix_time,
    with_keyword_events,
)

PROVIDER = "mta"
DELIVERY_EVENT = "delivery-status"
REPLY_EVENT = "message-reply"
OPT_IN_EVENT = "number-opt-in"


def parse_events(body: bytes) -> list[SmsEvent]:
    """The events of one verified MTA webhook body; :class:`MalformedBody` when it is not JSON."""
    data = obj(load_json(body))
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
        number=phone(data.get("destinationNumber")),
        outbound_id=text_or_none(data.get("messageId")),
        external_id=text_or_none(data.get("externalId")),
        status=status.name,
        outcome=status.outcome.value,
    )


def _reply(data: Mapping[str, Any], event_id: str) -> list[SmsEvent]:
    text = data.get("message")
    reply = SmsEvent(
        provider=PROVIDER,
        kind="reply",
        event_id=event_id,
        number=phone(data.get("fromNumber")),
        occurred_at=unix_time(data.get("receivedAt")),
        outbound_id=text_or_none(data.get("replyId")),
        text=text if isinstance(text, str) else None,
    )
    return with_keyword_events(reply)


def _opt_in(data: Mapping[str, Any], event_id: str) -> list[SmsEvent]:
    flag = data.get("optIn")
    if not isinstance(flag, bool):
        return []
    keyword = data.get("keyword")
    return [
        SmsEvent(
            provider=PROVIDER,
            kind="opt_in" if flag else "opt_out",
            event_id=event_id,
            number=phone(data.get("number")),
            occurred_at=unix_time(data.get("receivedAt")),
            text=keyword if isinstance(keyword, str) else None,
        )
    ]
