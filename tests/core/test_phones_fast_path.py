"""The +1 fast path of ``normalize_recipient`` agrees with ``phonenumbers.parse`` on every number it accepts.

``_valid_nanp`` only answers for plain North American shapes that phonenumbers finds valid; for
anything else it answers None and the full ``parse`` path decides. So the one way it could be wrong is
to accept a text that ``parse`` reads as another number, or rejects. These tests feed both paths the
same texts: every shape, valid and invalid area codes and exchanges, every region, and near misses.
"""

from __future__ import annotations

import random

import phonenumbers
import pytest

from airflow_provider_mta.core.phones import (
    InvalidRecipientError,
    _parse,
    _us_checked_first,
    _valid_nanp,
    normalize_recipient,
)

SHAPES = [
    "{a}{e}{l}",
    "+1{a}{e}{l}",
    "1{a}{e}{l}",
    "+1 {a} {e} {l}",
    "1-{a}-{e}-{l}",
    "1 ({a}) {e}-{l}",
    "({a}) {e}-{l}",
    "({a}){e}-{l}",
    "{a}-{e}-{l}",
    "{a}.{e}.{l}",
    "{a} {e} {l}",
    "+1({a}){e}{l}",
    "({a} {e}-{l}",  # unbalanced: parse still reads it
    "{a}) {e} {l}",
]
NEAR_MISSES = [
    "+3175551111",  # +31: the Netherlands, not +1
    "+13175551111 x12",  # an extension
    "317555111",  # nine digits
    "31755511112",  # eleven digits, not starting with 1
    "23175551111",  # eleven digits starting with 2
    "+1 317 555 11111",
    "1-800-FLOWERS",
    "+44 20 7946 0012",
    "tel:+1-317-555-1111",
    "(317)) 555-1111",
    "1317555111",  # ten digits starting with 1
    "+1 (0317) 555-1111",
]
REGIONS = ["US", "CA", "PR", "JM", "GB", "DE", "MX", "AU", "XX"]


def slow(text: str, region: str) -> str | None:
    try:
        return _parse(text, region)
    except InvalidRecipientError:
        return None


def texts(rng: random.Random, n: int) -> list[str]:
    out = []
    for _ in range(n):
        area = f"{rng.randint(200, 999)}" if rng.random() < 0.9 else f"{rng.randint(0, 199):03d}"
        exchange = f"{rng.randint(0, 999):03d}"
        line = f"{rng.randint(0, 9999):04d}"
        out.append(rng.choice(SHAPES).format(a=area, e=exchange, l=line))
    return out


def test_every_number_the_fast_path_accepts_is_what_parse_gives() -> None:
    rng = random.Random(20261203)
    accepted = declined = 0
    for text in texts(rng, 40_000):
        region = rng.choice(REGIONS)
        fast = _valid_nanp(text, region)
        expected = slow(text, region)
        if fast is None:
            declined += 1
        else:
            accepted += 1
            assert fast == expected, (text, region)
        if expected is None:
            with pytest.raises(InvalidRecipientError):
                normalize_recipient(text, region=region)
        else:
            assert normalize_recipient(text, region=region) == expected
    # both outcomes are exercised: many texts are accepted; invalid numbers and other regions are declined
    assert accepted > 5_000 and declined > 10_000, (accepted, declined)


@pytest.mark.parametrize("region", REGIONS)
@pytest.mark.parametrize("text", NEAR_MISSES)
def test_near_misses_are_left_to_parse(text: str, region: str) -> None:
    assert _valid_nanp(text, region) is None
    expected = slow(text, region)
    if expected is None:
        with pytest.raises(InvalidRecipientError):
            normalize_recipient(text, region=region)
    else:
        assert normalize_recipient(text, region=region) == expected


def test_every_nanp_region_and_a_real_number_of_each() -> None:
    """An example number of each +1 region, in each shape, read in each +1 region and in GB."""
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE[1]
    assert {"US", "CA", "PR", "JM", "BS"} <= set(regions)
    checked = 0
    for owner in regions:
        example = phonenumbers.example_number(owner)
        if example is None:
            continue
        ten = str(example.national_number)
        for shape in SHAPES:
            text = shape.format(a=ten[:3], e=ten[3:6], l=ten[6:])
            for region in [*regions, "GB"]:
                fast = _valid_nanp(text, region)
                assert fast is None or fast == slow(text, region) == "+1" + ten, (text, region)
                checked += fast is not None
    assert checked > 1000


def test_invalid_numbers_in_a_plain_shape_still_get_parse_errors() -> None:
    with pytest.raises(InvalidRecipientError, match=r"\*\*\*1111 is not a valid phone number in region US"):
        normalize_recipient("(555) 555-1111")  # area code 555 is not assigned
    with pytest.raises(InvalidRecipientError, match="region GB"):
        normalize_recipient("3175551111", region="GB")


def test_us_numbers_are_checked_once_and_others_still_by_every_region(monkeypatch: pytest.MonkeyPatch) -> None:
    """With this phonenumbers, a US number needs one rules check; a Canadian one falls back to is_valid_number."""
    assert _us_checked_first()  # else the shortcut is off (still correct, just slower)
    calls: list[str] = []
    real = phonenumbers.is_valid_number
    monkeypatch.setattr(phonenumbers, "is_valid_number", lambda n: calls.append("full") or real(n))
    assert normalize_recipient("(317) 555-1111") == "+13175551111" and calls == []
    assert normalize_recipient("(416) 555-0123") == "+14165550123"  # Toronto: not a US number, valid in Canada
    assert calls == ["full"]
