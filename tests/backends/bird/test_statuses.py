"""Bird's message statuses onto the neutral outcomes: the table, tolerance of unknown and odd input."""

from __future__ import annotations

import pytest

from airflow_provider_mta.backends.bird.statuses import classify
from airflow_provider_mta.core.delivery import Outcome


@pytest.mark.parametrize(
    ("status", "name", "outcome"),
    [
        ("accepted", "ACCEPTED", Outcome.PENDING),
        ("sent", "SENT", Outcome.PENDING),
        ("delivered", "DELIVERED", Outcome.DELIVERED),
        ("sending_failed", "SENDING_FAILED", Outcome.FAILED),
        ("delivery_failed", "DELIVERY_FAILED", Outcome.FAILED),
        ("Delivery-Failed", "DELIVERY_FAILED", Outcome.FAILED),
        (" DELIVERED ", "DELIVERED", Outcome.DELIVERED),
    ],
)
def test_the_table(status, name, outcome):
    classified = classify(status)
    assert (classified.name, classified.outcome, classified.known, classified.code) == (name, outcome, True, None)


@pytest.mark.parametrize("status", ["processing", "something_new"])
def test_an_unknown_status_is_pending_and_marked_unknown(status):
    classified = classify(status)
    assert classified.outcome is Outcome.PENDING and not classified.known
    assert classified.name == status.upper()


@pytest.mark.parametrize("status", [None, "", "  ", 3, ["delivered"]])
def test_no_status_is_pending(status):
    classified = classify(status)
    assert (classified.name, classified.outcome, classified.known) == ("NO_STATUS", Outcome.PENDING, False)
