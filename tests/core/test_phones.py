"""E.164 normalization, emails, masking, request ids."""

from __future__ import annotations

import pytest

from airflow_provider_mta.core.idempotency import derive_request_id, new_request_id
from airflow_provider_mta.core.masking import mask_recipient, redact
from airflow_provider_mta.core.phones import InvalidRecipientError, normalize_recipient


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("(317) 555-1111", "US", "+13175551111"),
        (3175551111, "US", "+13175551111"),
        ("+1 317 555 1111", "GB", "+13175551111"),
        ("020 7946 0012", "GB", "+442079460012"),
        ("020 7946 0012", "gb", "+442079460012"),
        (" Ann@Example.COM ", "US", "ann@example.com"),
        ("mailto:Ann@Example.com", "US", "ann@example.com"),
        ("<ann@example.com>", "US", "ann@example.com"),
    ],
)
def test_normalize(raw, region, e164):
    assert normalize_recipient(raw, region=region) == e164


@pytest.mark.parametrize("raw", ["", "12", "not a number", "+1 555", "@x.com", "a@b", True, None, 3.5])
def test_invalid(raw):
    with pytest.raises(InvalidRecipientError):
        normalize_recipient(raw)


def test_mask_keeps_last_four_digits_only():
    assert mask_recipient("+13175551234") == "***1234"
    assert mask_recipient("ann@example.com") == "a***@example.com"
    assert redact("key=abc123 and abc123", "abc123", None, "") == "key=*** and ***"


def test_request_ids_are_stable_for_the_same_parts():
    a = derive_request_id("dag", "task", "run", -1, {"b": 1, "a": 2})
    assert a == derive_request_id("dag", "task", "run", -1, {"a": 2, "b": 1})
    assert a != derive_request_id("dag", "task", "run", 0, {"a": 2, "b": 1})
    assert a.startswith("mta-") and len(a) == 44
    assert new_request_id() != new_request_id()
