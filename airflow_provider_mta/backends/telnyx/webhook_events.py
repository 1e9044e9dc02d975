"""Telnyx webhook bodies as :class:`SmsEvent`: ``message.sent``, ``message.finalized`` and ``message.received``.

The envelope is ``{"data": {"event_type", "id", "occurred_at", "payload": <message>}}``.

- ``message.sent`` / ``message.finalized``: one ``delivery`` per ``payload.to[]`` entry, its status that entry's
  ``status`` (the Telnyx word; outcome by :mod:`.statuses`). ``event_id`` is ``data.id``; when ``to`` lists
  several numbers, the second and later get ``data.id#<index>`` so that each has its own key.
- ``message.received``: a ``reply`` from ``payload.from.phone_number`` with ``payload.text``; a STOP/START text
  adds an ``opt_out``/``opt_in`` event (``event_id`` ``data.id:opt_out``...).

``outbound_id`` is the message's ``payload.id``; ``occurred_at`` is ``data.occurred_at`` (for a reply, else
``payload.received_at``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_mta.backends.telnyx.statuses import classify
from airflow_provider_mta.core import webhook_parsing as wp
from airflow_provider_mta.core.sms_event import SmsEvent

PROVIDER = "telnyx"
DELIVERY_EVENTS = ("message.sent", "message.finalized")
REPLY_EVENT = "message.received"


def parse_events(body: bytes) -> list[SmsEvent]:
    """The events of one verified Telnyx webhook body; :class:`MalformedBody` when it is not JSON."""
    data = wp.obj(wp.obj(wp.load_json(body)).get("data"))
    event_id = wp.text_or_none(data.get("id"))
    payload = wp.obj(data.get("payload"))
    if event_id is None:
        return []
    event_type = data.get("event_type")
    if event_type in DELIVERY_EVENTS:
        return _deliveries(data, payload, event_id)
    if event_type == REPLY_EVENT:
        return _reply(data, payload, event_id)
    return []


def _deliveries(data: Mapping[str, Any], payload: Mapping[str, Any], event_id: str) -> list[SmsEvent]:
    recipients = [wp.obj(entry) for entry in payload.get("to") or () if isinstance(entry, Mapping)]
    events = []
    for index, entry in enumerate(recipients):
        word = wp.text_or_none(entry.get("status"))
        events.append(
            SmsEvent(
                provider=PROVIDER,
                kind="delivery",
                event_id=event_id if index == 0 else f"{event_id}#{index}",
                number=wp.phone(entry.get("phone_number")),
                occurred_at=wp.unix_time(data.get("occurred_at")),
                outbound_id=wp.text_or_none(payload.get("id")),
                status=word,
                outcome=classify(word).outcome.value,
            )
        )
    return events


def _reply(data: Mapping[str, Any], payload: Mapping[str, Any], event_id: str) -> list[SmsEvent]:
    text = payload.get("text")
    reply = SmsEvent(
        provider=PROVIDER,
        kind="reply",
        event_id=event_id,
        number=wp.phone(wp.obj(payload.get("from")).get("phone_number")),
        occurred_at=wp.unix_time(data.get("occurred_at")) or wp.unix_time(payload.get("received_at")),
        outbound_id=wp.text_or_none(payload.get("id")),
        text=text if isinstance(text, str) else None,
    )
    return wp.with_keyword_events(reply)
