"""Telnyx's per-recipient statuses and the outcome each one means for a sensor."""

from __future__ import annotations

import pytest

from airflow_provider_mta.backends.telnyx.statuses import OUTCOMES, classify
from airflow_provider_mta.core.delivery import DeliveryStatus, Outcome


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        ("queued", Outcome.PENDING),
        ("sending", Outcome.PENDING),
        ("sent", Outcome.PENDING),
        ("delivered", Outcome.DELIVERED),
        ("sending_failed", Outcome.FAILED),
        ("delivery_failed", Outcome.FAILED),
        ("expired", Outcome.FAILED),
        ("delivery_unconfirmed", Outcome.FAILED),
    ],
)
def test_every_documented_status_has_its_outcome(status, outcome):
    assert classify(status) == DeliveryStatus(None, status.upper(), outcome, known=True)


def test_the_table_lists_exactly_telnyxs_outbound_statuses():
    assert set(OUTCOMES) == {
        "queued",
        "sending",
        "sent",
        "expired",
        "sending_failed",
        "delivery_unconfirmed",
        "delivered",
        "delivery_failed",
    }


def test_delivery_unconfirmed_is_final_and_failed_not_pending():
    status = classify("delivery_unconfirmed")
    assert status.outcome is Outcome.FAILED
    assert status.name == "DELIVERY_UNCONFIRMED"


@pytest.mark.parametrize("spelling", ["DELIVERED", " Delivered ", "delivered"])
def test_case_and_spaces_do_not_matter(spelling):
    assert classify(spelling).outcome is Outcome.DELIVERED


def test_dashes_and_spaces_read_as_underscores():
    assert classify("delivery-failed").name == "DELIVERY_FAILED"
    assert classify("sending failed").outcome is Outcome.FAILED


@pytest.mark.parametrize("status", ["carrier_magic", "webhook_delivered", "scheduled"])
def test_an_unknown_status_is_pending_and_marked_unknown(status):
    result = classify(status)
    assert result == DeliveryStatus(None, status.upper(), Outcome.PENDING, known=False)


@pytest.mark.parametrize("status", [None, "", "   ", 4, ["delivered"]])
def test_no_status_is_pending_and_unknown(status):
    result = classify(status)
    assert (result.name, result.outcome, result.known) == ("NO_STATUS", Outcome.PENDING, False)
