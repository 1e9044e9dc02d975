"""Bird's message statuses (``status`` of a Channels API message) mapped onto the neutral :class:`Outcome`.

``accepted`` and ``sent`` are not final (``sent`` only means the carrier took it); ``delivered`` is DELIVERED;
``sending_failed`` and ``delivery_failed`` are FAILED. Any other string is PENDING with ``known=False``
(logged, never failing a run by itself).
"""

from __future__ import annotations

from typing import Any

from airflow_provider_mta.core.delivery import DeliveryStatus, Outcome, classify_word

OUTCOMES: dict[str, Outcome] = {
    "accepted": Outcome.PENDING,
    "sent": Outcome.PENDING,
    "delivered": Outcome.DELIVERED,
    "sending_failed": Outcome.FAILED,
    "delivery_failed": Outcome.FAILED,
}


def classify(status: Any) -> DeliveryStatus:
    """``"delivered"`` -> ``DeliveryStatus(None, "DELIVERED", DELIVERED)``; case, spaces and dashes are ignored."""
    return classify_word(status, OUTCOMES)
