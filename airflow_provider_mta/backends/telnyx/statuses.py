"""Telnyx's per-recipient message statuses (``data.to[].status``) mapped onto the neutral :class:`Outcome`.

``queued``, ``sending`` and ``sent`` are not final (``sent`` only means the carrier took it). ``delivered``
is DELIVERED. ``sending_failed``, ``delivery_failed`` and ``expired`` are FAILED.

``delivery_unconfirmed`` is **FAILED**: it is final on Telnyx's side (the carrier never sent a receipt, and
none will come), so PENDING would keep a sensor waiting until its timeout, and DELIVERED would claim what
nobody confirmed. FAILED matches MTA's 7 DELIVERY_UNCONFIRMED (``backends/mta/deliveries.py``), keeps the
name ``DELIVERY_UNCONFIRMED`` in summaries, and lets a rule's ``fail_on``/``min_delivered`` tolerate it.

Any other string is PENDING with ``known=False`` (logged, never failing a run by itself).
"""

from __future__ import annotations

from typing import Any

from airflow_provider_mta.core.delivery import DeliveryStatus, Outcome, classify_word

OUTCOMES: dict[str, Outcome] = {
    "queued": Outcome.PENDING,
    "sending": Outcome.PENDING,
    "sent": Outcome.PENDING,
    "delivered": Outcome.DELIVERED,
    "sending_failed": Outcome.FAILED,
    "delivery_failed": Outcome.FAILED,
    "delivery_unconfirmed": Outcome.FAILED,
    "expired": Outcome.FAILED,
}


def classify(status: Any) -> DeliveryStatus:
    """``"delivered"`` -> ``DeliveryStatus(None, "DELIVERED", DELIVERED)``; case, spaces and dashes are ignored."""
    return classify_word(status, OUTCOMES)
