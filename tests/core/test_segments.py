"""Parts and credits: GSM-7 vs UCS-2, extension characters, emoji, SMS vs MMS."""

from __future__ import annotations

import pytest

from airflow_provider_mta.core.segments import compose, count_parts, encoding_of, estimate


@pytest.mark.parametrize(
    ("text", "encoding", "units", "parts"),
    [
        ("", "GSM-7", 0, 1),
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),
        ("a" * 306, "GSM-7", 306, 2),
        ("a" * 307, "GSM-7", 307, 3),
        ("€" * 80, "GSM-7", 160, 1),  # extension characters count twice
        ("€" * 81, "GSM-7", 162, 2),
        ("a" * 159 + "{", "GSM-7", 161, 2),
        ("^{}\\[~]|€", "GSM-7", 18, 1),
        ("a" * 152 + "€" + "a" * 10, "GSM-7", 164, 2),  # the 2-unit char is not split: part 1 holds 152 units
        ("a" * 152 + "€" * 77, "GSM-7", 306, 3),
        ("é" * 160, "GSM-7", 160, 1),  # é is in the GSM basic table
        ("ç" * 70, "UCS-2", 70, 1),  # ç (lower case) is not
        ("ç" * 71, "UCS-2", 71, 2),
        ("ç" * 134, "UCS-2", 134, 2),
        ("ç" * 135, "UCS-2", 135, 3),
        ("😀" * 35, "UCS-2", 70, 1),  # emoji are surrogate pairs: 2 units
        ("😀" * 36, "UCS-2", 72, 2),
        ("a" * 66 + "😀" + "a", "UCS-2", 69, 1),
        ("a" * 66 + "😀" + "a" * 5, "UCS-2", 73, 2),
        ("Hello 👋 Ann", "UCS-2", 12, 1),
    ],
)
def test_parts(text, encoding, units, parts):
    assert count_parts(text) == (encoding, units, parts)
    assert encoding_of(text) == encoding


def test_credits_sms_vs_mms():
    assert estimate("a" * 161).credits == 2
    assert estimate("😀" * 36).credits == 2
    mms = estimate("a" * 1000, is_mms=True)
    assert (mms.credits, mms.parts, mms.is_mms) == (3, 1, True)
    assert estimate("hi").credits == 1


def test_compose_applies_header_and_footer_like_mta():
    assert compose("body", header="ACME", footer="Reply STOP") == "ACME\nbody Reply STOP"
    assert compose("body") == "body"
