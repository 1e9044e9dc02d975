"""One verified SMS event from a vendor's webhook, in a form that does not depend on the vendor.

Every adapter's webhook parser turns a verified body into a list of :class:`SmsEvent`; the receiver
stores them (keyed by :attr:`SmsEvent.key`, so a replayed event is stored once) and turns them into
Airflow asset events carrying :meth:`SmsEvent.asset_extra`, which never holds a full phone number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from airflow_provider_mta.core.masking import mask_phone_runs, mask_recipient

EventKind = Literal["delivery", "reply", "opt_out", "opt_in"]
EVENT_KINDS: tuple[EventKind, ...] = ("delivery", "reply", "opt_out", "opt_in")

STOP_WORDS = frozenset({"stop", "stopall", "quit", "end", "revoke", "optout", "opt out", "cancel", "unsubscribe"})
START_WORDS = frozenset({"start", "unstop", "yes start", "subscribe"})


def _word(text: str) -> str:
    return re.sub(r"[\s\-_.!]+", " ", text.strip().lower()).strip()


def is_stop_reply(text: str | None) -> bool:
    """A reply that withdraws consent ("STOP", "Opt-out", "unsubscribe"...): whole message, any case."""
    return text is not None and (_word(text) in STOP_WORDS or _word(text).replace(" ", "") in STOP_WORDS)


def is_start_reply(text: str | None) -> bool:
    """A reply that gives consent back ("START", "UNSTOP")."""
    return text is not None and _word(text) in START_WORDS


@dataclass(frozen=True)
class SmsEvent:
    """One event. ``number`` is the other party's phone in E.164 (the recipient of a delivery, the sender
    of a reply): **full, never log it**; use :attr:`masked`.

    :param provider: ``mta``, ``telnyx`` or ``bird``.
    :param kind: ``delivery`` (a status of a text we sent), ``reply`` (a text a person sent us),
        ``opt_out`` / ``opt_in`` (consent withdrawn or given, by a keyword reply or the vendor's own event).
    :param event_id: The vendor's id of this event when it has one, else a digest of the raw body:
        the replay key (with provider and kind).
    :param occurred_at: Unix time the vendor says it happened (None: unknown).
    :param outbound_id: The vendor's id of the one text concerned (MTA's outbound id as text, Telnyx's and
        Bird's message id); for a reply, the id of the inbound message.
    :param message_id: The id of the whole send when the vendor gives it (MTA's ``messageId`` of ``/send``).
    :param external_id: The ``externalId``/``reference`` the send carried, when echoed back.
    :param status: A delivery's status as the vendor names it (``DELIVERED``, ``delivery_failed``...).
    :param outcome: A delivery's outcome: ``pending``, ``delivered`` or ``failed``.
    :param text: A reply's text.
    """

    provider: str
    kind: EventKind
    event_id: str
    number: str
    occurred_at: float | None = None
    outbound_id: str | None = None
    message_id: str | None = None
    external_id: str | None = None
    status: str | None = None
    outcome: str | None = None
    text: str | None = None

    @property
    def masked(self) -> str:
        return mask_recipient(self.number)

    @property
    def key(self) -> str:
        """What makes a replay the same event: provider, kind and the vendor's event id."""
        return f"{self.provider}:{self.kind}:{self.event_id}"

    def asset_extra(self) -> dict[str, Any]:
        """The small JSON extra of the Airflow asset event (the number masked, and any number in the text)."""
        extra: dict[str, Any] = {"provider": self.provider, "kind": self.kind, "number": self.masked}
        for name in ("outbound_id", "message_id", "status", "outcome", "occurred_at"):
            value = getattr(self, name)
            if value is not None:
                extra[name] = value
        if self.text is not None:
            extra["text"] = mask_phone_runs(self.text)
        return extra
