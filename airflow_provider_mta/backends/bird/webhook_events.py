"""Bird webhook bodies as :class:`SmsEvent`: ``sms.outbound`` (a status of a text we sent) and ``sms.inbound``.

The envelope is ``{"service": "channels", "event": ..., "payload": <message object>}``.

- ``sms.outbound``: one ``delivery`` per ``payload.receiver.contacts[]`` (``identifierValue``), status
  ``payload.status`` (the Bird word; outcome by :mod:`.statuses`), ``external_id`` ``payload.reference``.
  A message has several status events, so ``event_id`` is ``<payload.id>:<status>`` (``#<index>`` added for
  the second and later contacts). With no contact listed there is still one event, its ``number`` ``""``.
- ``sms.inbound``: a ``reply`` from ``payload.sender.contact.identifierValue`` with ``payload.body.text.text``
  (``event_id`` ``payload.id``); a STOP/START text adds an ``opt_out``/``opt_in`` event.

``outbound_id`` is ``payload.id``; ``occurred_at`` is ``payload.updatedAt``, else ``payload.createdAt``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_mta.backends.bird.statuses import classify
from airflow_provider_mta.core import webhook_parsing as wp
from airflow_provider_mta.core.sms_event import SmsEvent

PROVIDER = "bird"
DELIVERY_EVENT = "sms.outbound"
REPLY_EVENT = "sms.inbound"


def parse_events(body: bytes) -> list[SmsEvent]:
    """The events of one verified Bird webhook body; :class:`MalformedBody` when it is not JSON."""
    envelope = wp.obj(wp.load_json(body))
    payload = wp.obj(envelope.get("payload"))
    message_id = wp.text_or_none(payload.get("id"))
    if message_id is None:
        return []
    if envelope.get("event") == DELIVERY_EVENT:
        return _deliveries(payload, message_id)
    if envelope.get("event") == REPLY_EVENT:
        return _reply(payload, message_id)
    return []


def _when(payload: Mapping[str, Any]) -> float | None:
    return wp.unix_time(payload.get("updatedAt")) or wp.unix_time(payload.get("createdAt"))


def _deliveries(payload: Mapping[str, Any], message_id: str) -> list[SmsEvent]:
    word = wp.text_or_none(payload.get("status"))
    if word is None:
        return []
    contacts = [wp.obj(c) for c in wp.obj(payload.get("receiver")).get("contacts") or () if isinstance(c, Mapping)] or [
        {}
    ]
    return [
        SmsEvent(
            provider=PROVIDER,
            kind="delivery",
            event_id=f"{message_id}:{word}" + (f"#{index}" if index else ""),
            number=wp.phone(contact.get("identifierValue")),
            occurred_at=_when(payload),
            outbound_id=message_id,
            external_id=wp.text_or_none(payload.get("reference")),
            status=word,
            outcome=classify(word).outcome.value,
        )
        for index, contact in enumerate(contacts)
    ]


def _reply(payload: Mapping[str, Any], message_id: str) -> list[SmsEvent]:
    body = wp.obj(payload.get("body"))
    text = wp.obj(body.get("text")).get("text")
    reply = SmsEvent(
        provider=PROVIDER,
        kind="reply",
        event_id=message_id,
        number=wp.phone(wp.obj(wp.obj(payload.get("sender")).get("contact")).get("identifierValue")),
        occurred_at=_when(payload),
        outbound_id=message_id,
        text=text if isinstance(text, str) else None,
    )
    return wp.with_keyword_events(reply)
