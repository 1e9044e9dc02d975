"""Quiet hours: windows, overrides, recipient groups by time zone, the next instant a text may arrive."""

from __future__ import annotations

import copy
import datetime as dt
import pickle
import random
import subprocess
import sys

import pytest

from airflow_provider_mta.core.errors import MtaValidationError
from airflow_provider_mta.core.quiet_hours import (
    ACTIONS,
    SUBDIVISIONS,
    NoCommonWindowError,
    QuietHours,
    Window,
    parse_window,
)

UTC = dt.timezone.utc
NEW_YORK = "+12125550101"
LOS_ANGELES = "+13105550101"
MIAMI = "+13053712345"  # geocoder: "Miami, FL"
FLORIDA = "+17865550101"  # geocoder: "Florida"
ALASKA = "+19075550101"  # America/Adak and America/Anchorage
TOLL_FREE = "+18005550101"


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def tcpa(**overrides: object) -> QuietHours:
    built = QuietHours.build(quiet_hours="08:00-21:00", overrides=overrides or None)
    assert built is not None
    return built


def at_of(qh: QuietHours, recipient: str, at: dt.datetime) -> dt.datetime | None:
    return qh.next_open(qh.group_of(recipient), at=at)


# --- parse_window ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "08:00-21:00",
        " 08:00 - 21:00 ",
        "8:00-21:00",
        "08:00\u201321:00",
        ("08:00", "21:00"),
        ["08:00", "21:00"],
        (dt.time(8), dt.time(21)),
        ("08:00", dt.time(21)),
        Window(dt.time(8), dt.time(21)),
    ],
)
def test_parse_window_forms(value):
    window = parse_window(value, field="quiet_hours")
    assert window == Window(dt.time(8), dt.time(21))
    assert str(window) == "08:00-21:00"


@pytest.mark.parametrize(
    ("value", "start", "end"),
    [
        ("00:00-23:59", dt.time(0), dt.time(23, 59)),
        ("22:00-02:00", dt.time(22), dt.time(2)),
        ("23:59-00:00", dt.time(23, 59), dt.time(0)),
    ],
)
def test_parse_window_edges(value, start, end):
    window = parse_window(value, field="quiet_hours")
    assert (window.start, window.end) == (start, end)
    assert str(window) == value


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        800,
        8.5,
        {"start": "08:00", "end": "21:00"},
        "",
        "8am",
        "8am-9pm",
        "08:00",
        "08:00-",
        "-21:00",
        "08:00-21:00-22:00",
        "08-21",
        "0800-2100",
        "25:00-21:00",
        "24:00-08:00",
        "08:60-21:00",
        "08:00-21:5",
        "08:00-08:00",
        ("08:00",),
        ("08:00", "21:00", "22:00"),
        (),
        ("08:00", "08:00"),
        (dt.time(8), dt.time(8)),
        ("8am", "21:00"),
        ("08:00", "25:00"),
        ("08:00", None),
        (800, 2100),
        (dt.time(8, 0, 30), dt.time(21)),
        (dt.time(8, tzinfo=UTC), dt.time(21)),
        (dt.datetime(2026, 1, 1, 8), dt.time(21)),
    ],
)
def test_parse_window_rejects_and_names_the_parameter(value):
    with pytest.raises(MtaValidationError) as info:
        parse_window(value, field="quiet_hours")
    assert str(info.value).startswith("quiet_hours: ")
    assert info.value.field == "quiet_hours"


def test_parse_window_error_texts():
    with pytest.raises(MtaValidationError, match=r"^quiet_hours: expected a start and an end .*got 3 items$"):
        parse_window(("08:00", "21:00", "22:00"), field="quiet_hours")
    with pytest.raises(MtaValidationError, match=r"the start '8am' is not a time of day as 'HH:MM'"):
        parse_window("8am-21:00", field="quiet_hours")
    with pytest.raises(MtaValidationError, match=r"the end '08:60' is not a time"):
        parse_window("07:00-08:60", field="quiet_hours")
    with pytest.raises(MtaValidationError, match=r"start and end are both 08:00"):
        parse_window("08:00-08:00", field="quiet_hours")
    with pytest.raises(MtaValidationError, match=r"got int$"):
        parse_window(800, field="quiet_hours")


def test_window_contains_start_inclusive_end_exclusive():
    day = Window(dt.time(8), dt.time(21))
    assert not day.contains(dt.time(7, 59, 59))
    assert day.contains(dt.time(8))
    assert day.contains(dt.time(20, 59, 59))
    assert not day.contains(dt.time(21))
    night = Window(dt.time(22), dt.time(2))
    assert [night.contains(dt.time(h)) for h in (21, 22, 23, 0, 1, 2, 3)] == [
        False,
        True,
        True,
        True,
        True,
        False,
        False,
    ]
    assert night.contains(dt.time(1, 59))


def test_window_start_must_differ_from_end():
    with pytest.raises(ValueError, match="must differ"):
        Window(dt.time(8), dt.time(8))


# --- QuietHours.build -----------------------------------------------------------------------------


def test_build_none_is_no_quiet_hours():
    assert QuietHours.build(quiet_hours=None) is None
    assert QuietHours.build(quiet_hours=None, overrides={}) is None


def test_build_overrides_without_a_window_is_an_error():
    with pytest.raises(MtaValidationError) as info:
        QuietHours.build(quiet_hours=None, overrides={"US-FL": "08:00-20:00"})
    assert info.value.field == "quiet_hours_overrides"


@pytest.mark.parametrize("action", ["later", "DEFER", "", None, 1, ("defer",)])
def test_build_unknown_action(action):
    with pytest.raises(MtaValidationError) as info:
        QuietHours.build(quiet_hours="08:00-21:00", action=action)
    assert info.value.field == "quiet_hours_action"
    assert str(info.value).startswith("quiet_hours_action: must be one of 'defer', 'skip', 'fail'")


@pytest.mark.parametrize("action", ACTIONS)
def test_build_actions(action):
    qh = QuietHours.build(quiet_hours="08:00-21:00", action=action)
    assert qh is not None and qh.action == action


def test_build_bad_default_window_names_quiet_hours():
    with pytest.raises(MtaValidationError) as info:
        QuietHours.build(quiet_hours="8am-9pm")
    assert info.value.field == "quiet_hours"


@pytest.mark.parametrize(
    ("key", "hint"),
    [
        ("US-XX", "US has no state or province 'XX'"),
        ("ZZ", "'ZZ'"),
        ("Florida", "did you mean 'US-FL'?"),
        ("GB-ENG", "US and CA only"),
        ("USA", "'USA'"),
        ("", "''"),
    ],
)
def test_build_unknown_override_keys(key, hint):
    with pytest.raises(MtaValidationError) as info:
        QuietHours.build(quiet_hours="08:00-21:00", overrides={key: "09:00-20:00"})
    assert info.value.field == "quiet_hours_overrides"
    assert str(info.value).startswith(f"quiet_hours_overrides: unknown region {key!r}")
    assert hint in str(info.value)


@pytest.mark.parametrize("overrides", [["US-FL", "08:00-20:00"], "US-FL=08:00-20:00", {5: "08:00-20:00"}])
def test_build_overrides_must_be_a_dict_of_region_codes(overrides):
    with pytest.raises(MtaValidationError) as info:
        QuietHours.build(quiet_hours="08:00-21:00", overrides=overrides)
    assert info.value.field == "quiet_hours_overrides"


def test_build_bad_override_window_names_the_key():
    with pytest.raises(MtaValidationError) as info:
        QuietHours.build(quiet_hours="08:00-21:00", overrides={"us-fl": "08:00-25:00"})
    assert info.value.field == "quiet_hours_overrides['us-fl']"
    assert str(info.value).startswith("quiet_hours_overrides['us-fl']: ")


def test_build_the_same_key_twice():
    with pytest.raises(MtaValidationError, match="'US-FL' is given twice"):
        QuietHours.build(quiet_hours="08:00-21:00", overrides={"us-fl": "08:00-20:00", "US-FL": "08:00-20:00"})


def test_build_valid_overrides_identity_and_description():
    qh = QuietHours.build(
        quiet_hours=("08:00", "21:00"),
        action="skip",
        overrides={"us-fl": "08:00-20:00", " gb ": ("09:00", "20:00"), "CA-ON": "08:30-20:30"},
    )
    assert qh is not None
    assert qh.overrides == (
        ("CA-ON", Window(dt.time(8, 30), dt.time(20, 30))),
        ("GB", Window(dt.time(9), dt.time(20))),
        ("US-FL", Window(dt.time(8), dt.time(20))),
    )
    assert qh.to_identity() == [
        "08:00-21:00",
        "skip",
        [["CA-ON", "08:30-20:30"], ["GB", "09:00-20:00"], ["US-FL", "08:00-20:00"]],
    ]
    assert qh.describe() == "08:00-21:00 local time (CA-ON 08:30-20:30, GB 09:00-20:00, US-FL 08:00-20:00), skip"
    plain = tcpa()
    assert plain.to_identity() == ["08:00-21:00", "defer", []]
    assert plain.describe() == "08:00-21:00 local time, defer"


def test_subdivision_table():
    assert len([k for k in SUBDIVISIONS if k.startswith("US-")]) == 51
    assert len([k for k in SUBDIVISIONS if k.startswith("CA-")]) == 13
    assert SUBDIVISIONS["US-DC"] == "District of Columbia"
    assert SUBDIVISIONS["CA-NL"] == "Newfoundland and Labrador"


def test_build_rejects_provinces_that_share_prefixes_with_no_common_minute():
    # phonenumbers calls some 902 numbers "Nova Scotia/Prince Edward Island": one window must fit both.
    with pytest.raises(MtaValidationError, match="CA-NS from CA-PE") as info:
        QuietHours.build(quiet_hours="08:00-21:00", overrides={"CA-NS": "08:00-12:00", "CA-PE": "13:00-20:00"})
    assert info.value.field == "quiet_hours_overrides"


def test_equality_pickle_and_deepcopy():
    qh = tcpa(**{"US-FL": "08:00-20:00"})
    assert qh == tcpa(**{"US-FL": "08:00-20:00"})
    assert hash(qh) == hash(tcpa(**{"US-FL": "08:00-20:00"}))
    qh.group_of(NEW_YORK)
    for twin in (pickle.loads(pickle.dumps(qh)), copy.deepcopy(qh)):
        assert twin == qh
        assert twin.group_of(MIAMI) == "08:00-20:00|America/New_York"


# --- group_of, next_open, problem ----------------------------------------------------------------


def test_new_york_open_while_los_angeles_is_not():
    qh = tcpa()
    at = utc(2026, 12, 4, 14, 30)  # 09:30 in New York, 06:30 in Los Angeles
    assert qh.group_of(NEW_YORK) == "08:00-21:00|America/New_York"
    assert qh.group_of(LOS_ANGELES) == "08:00-21:00|America/Los_Angeles"
    assert at_of(qh, NEW_YORK, at) is None
    assert at_of(qh, LOS_ANGELES, at) == utc(2026, 12, 4, 16, 0)
    assert qh.problem(qh.group_of(LOS_ANGELES)) is None


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (utc(2026, 12, 4, 13, 0), None),  # 08:00 EST: open
        (utc(2026, 12, 4, 12, 59), utc(2026, 12, 4, 13, 0)),  # 07:59
        (utc(2026, 12, 4, 12, 59, 59), utc(2026, 12, 4, 13, 0)),  # 07:59:59
        (utc(2026, 12, 5, 1, 59), None),  # 20:59
        (utc(2026, 12, 5, 2, 0), utc(2026, 12, 5, 13, 0)),  # 21:00: closed until 08:00 the next day
        (dt.datetime(2026, 12, 4, 21, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5))), utc(2026, 12, 5, 13, 0)),
    ],
)
def test_boundaries(at, expected):
    result = at_of(tcpa(), NEW_YORK, at)
    assert result == expected
    if result is not None:
        assert result.tzinfo == UTC and result.second == 0 and result.microsecond == 0


def test_florida_override_closes_florida_while_new_york_is_open():
    qh = tcpa(**{"US-FL": "08:00-20:00"})
    at = utc(2026, 12, 5, 1, 30)  # 20:30 in Miami and New York
    assert qh.group_of(MIAMI) == "08:00-20:00|America/New_York"
    assert qh.group_of(FLORIDA) == "08:00-20:00|America/New_York"
    assert qh.group_of(NEW_YORK) == "08:00-21:00|America/New_York"
    assert at_of(qh, MIAMI, at) == utc(2026, 12, 5, 13, 0)
    assert at_of(qh, NEW_YORK, at) is None
    assert at_of(qh, LOS_ANGELES, at) is None  # 17:30 in Los Angeles


def test_country_state_and_province_overrides():
    qh = tcpa(**{"US": "09:00-21:00", "US-FL": "08:00-20:00", "GB": "09:00-20:00", "CA-ON": "08:30-20:30"})
    assert qh.group_of(MIAMI) == "08:00-20:00|America/New_York"  # the state's override beats the country's
    assert qh.group_of(NEW_YORK) == "09:00-21:00|America/New_York"
    assert qh.group_of("+442079460012") == "09:00-20:00|Europe/London"
    assert qh.group_of("+14165550101") == "08:30-20:30|America/Toronto"  # Ontario
    assert qh.group_of("+15145550101") == "08:00-21:00|America/Toronto"  # Quebec: the default
    assert qh.group_of("+12025550101") == "09:00-21:00|America/New_York"  # Washington D.C.: the US override
    assert qh.group_of("+17875550101") == "08:00-21:00|America/Puerto_Rico"  # PR is its own region


def test_geocoder_names_that_are_not_the_state_name():
    qh = tcpa(**{"US-WA": "09:00-20:00", "US-DC": "10:00-20:00", "CA-BC": "10:00-19:00", "CA-YT": "11:00-19:00"})
    assert qh.group_of("+12065550101") == "09:00-20:00|America/Los_Angeles"  # "Washington State"
    assert qh.group_of("+12025550101") == "10:00-20:00|America/New_York"  # "Washington D.C."


def test_shared_canadian_prefix_gets_a_window_inside_both_provinces():
    qh = tcpa(**{"CA-NS": "09:00-20:00"})
    assert qh.group_of("+19022345678") == "09:00-20:00|America/Halifax"  # "Nova Scotia/Prince Edward Island"
    assert qh.group_of("+19023681234") == "08:00-21:00|America/Halifax"  # "Charlottetown, PE"
    both = tcpa(**{"CA-NS": "09:00-21:00", "CA-PE": "08:00-20:00"})
    assert both.group_of("+19022345678") == "09:00-20:00|America/Halifax"


def test_alaska_prefix_spans_two_zones():
    qh = tcpa()
    group = qh.group_of(ALASKA)
    assert group == "08:00-21:00|America/Adak,America/Anchorage"
    assert qh.problem(group) is None
    # 08:00 in Anchorage is 07:00 in Adak: both are open an hour later.
    assert qh.next_open(group, at=utc(2026, 12, 4, 17, 0)) == utc(2026, 12, 4, 18, 0)
    assert qh.next_open(group, at=utc(2026, 12, 4, 18, 0)) is None
    # 21:00 in Anchorage closes the group although Adak is open until 21:00 its time.
    assert qh.next_open(group, at=utc(2026, 12, 5, 5, 59)) is None
    assert qh.next_open(group, at=utc(2026, 12, 5, 6, 0)) == utc(2026, 12, 5, 18, 0)


def test_toll_free_number_spans_every_nanp_zone():
    narrow = QuietHours.build(quiet_hours="09:00-17:00")
    assert narrow is not None
    group = narrow.group_of(TOLL_FREE)
    zones = group.partition("|")[2].split(",")
    assert len(zones) == 42 and "Pacific/Guam" in zones and "Pacific/Honolulu" in zones
    text = (
        "its number's prefix spans time zones (Pacific/Guam ... Pacific/Pago_Pago, 42 zones) "
        "with no common hour in 09:00-17:00"
    )
    assert narrow.problem(group) == text
    with pytest.raises(NoCommonWindowError) as info:
        narrow.next_open(group, at=utc(2026, 12, 4, 14, 30))
    assert str(info.value) == text


def test_toll_free_number_under_tcpa_hours_has_a_short_common_window():
    # Guam (UTC+10) is 13.5 h ahead of Newfoundland, not 20 h behind: 08:00 in Guam is 18:30 in
    # St. John's and 11:00 in Pago Pago, so 08:00-21:00 everywhere holds for 2.5 h a day in winter.
    qh = tcpa()
    group = qh.group_of(TOLL_FREE)
    assert qh.problem(group) is None
    assert qh.next_open(group, at=utc(2026, 12, 4, 14, 30)) == utc(2026, 12, 4, 22, 0)
    assert qh.next_open(group, at=utc(2026, 12, 5, 0, 29)) is None
    assert qh.next_open(group, at=utc(2026, 12, 5, 0, 30)) == utc(2026, 12, 5, 22, 0)


def test_caribbean_mobile_numbers_get_their_islands_zone():
    # phonenumbers.timezone.time_zones_for_number gives such mobiles all 42 NANP zones.
    qh = tcpa()
    assert qh.group_of("+18762101234") == "08:00-21:00|America/Jamaica"  # Jamaica, mobile
    assert qh.group_of("+12423591234") == "08:00-21:00|America/Nassau"  # Bahamas, mobile
    assert qh.group_of("+14413701234") == "08:00-21:00|Atlantic/Bermuda"  # Bermuda, mobile


def test_other_countries():
    qh = tcpa()
    assert qh.group_of("+442079460012") == "08:00-21:00|Europe/London"
    assert qh.group_of("+447911123456") == "08:00-21:00|Europe/Guernsey,Europe/Isle_of_Man,Europe/Jersey,Europe/London"
    group = qh.group_of("+61412345678")  # an Australian mobile: every Australian zone
    assert group.startswith("08:00-21:00|Australia/") and qh.problem(group) is None


def test_wrapping_window():
    qh = QuietHours.build(quiet_hours="22:00-02:00", action="skip")
    assert qh is not None
    group = qh.group_of(NEW_YORK)
    assert group == "22:00-02:00|America/New_York"
    assert qh.next_open(group, at=utc(2026, 12, 4, 14, 30)) == utc(2026, 12, 5, 3, 0)  # 09:30 -> 22:00
    assert qh.next_open(group, at=utc(2026, 12, 5, 3, 0)) is None  # 22:00
    assert qh.next_open(group, at=utc(2026, 12, 5, 6, 59)) is None  # 01:59
    assert qh.next_open(group, at=utc(2026, 12, 5, 7, 0)) == utc(2026, 12, 6, 3, 0)  # 02:00 -> 22:00


def test_spring_forward_day():
    qh = tcpa()
    group = qh.group_of(NEW_YORK)
    # 2027-03-14: New York goes from EST (UTC-5) to EDT (UTC-4) at 02:00; 08:00 is 12:00 UTC, not 13:00.
    assert qh.next_open(group, at=utc(2027, 3, 14, 6, 0)) == utc(2027, 3, 14, 12, 0)
    assert qh.next_open(group, at=utc(2027, 3, 13, 6, 0)) == utc(2027, 3, 13, 13, 0)
    assert qh.next_open(group, at=utc(2027, 3, 14, 11, 59)) == utc(2027, 3, 14, 12, 0)
    assert qh.next_open(group, at=utc(2027, 3, 14, 12, 0)) is None
    # A window opening at 02:30, a time that does not exist that day: it opens at 03:00 EDT.
    early = QuietHours.build(quiet_hours="02:30-21:00")
    assert early is not None
    early_group = early.group_of(NEW_YORK)
    assert early.next_open(early_group, at=utc(2027, 3, 14, 6, 0)) == utc(2027, 3, 14, 7, 0)
    assert early.next_open(early_group, at=utc(2027, 3, 15, 6, 0)) == utc(2027, 3, 15, 6, 30)


def test_fall_back_day():
    # 2026-11-01: New York goes from EDT back to EST at 02:00 EDT (06:00 UTC); 01:00-02:00 happens twice.
    early = QuietHours.build(quiet_hours="01:30-21:00")
    assert early is not None
    assert early.next_open(early.group_of(NEW_YORK), at=utc(2026, 11, 1, 4, 0)) == utc(2026, 11, 1, 5, 30)
    # 22:00-01:30 closes at 01:30 EDT and opens again when the clock falls back to 01:00 EST.
    night = QuietHours.build(quiet_hours="22:00-01:30")
    assert night is not None
    group = night.group_of(NEW_YORK)
    assert night.next_open(group, at=utc(2026, 11, 1, 5, 29)) is None
    assert night.next_open(group, at=utc(2026, 11, 1, 5, 45)) == utc(2026, 11, 1, 6, 0)
    assert night.next_open(group, at=utc(2026, 11, 1, 6, 30)) == utc(2026, 11, 2, 3, 0)


def test_emails_are_exempt_here_and_the_caller_says_so():
    qh = tcpa(**{"US-FL": "08:00-20:00"})
    assert qh.group_of("ann@example.com") == ""
    assert qh.problem("") is None
    assert qh.next_open("", at=utc(2026, 12, 5, 4, 0)) is None


def test_unknown_time_zone():
    qh = tcpa()
    group = qh.group_of("+12465212234")  # in Barbados' range but not a valid number
    assert group == "08:00-21:00|"
    assert qh.problem(group) == "its time zone is unknown"
    with pytest.raises(NoCommonWindowError, match="its time zone is unknown"):
        qh.next_open(group, at=utc(2026, 12, 4, 14, 30))
    # The invalid number did not decide the group of valid numbers with the same +1 NPA NXX.
    assert qh.group_of("+12465210234") == "08:00-21:00|America/Barbados"
    assert qh.group_of("+12465211234") == "08:00-21:00|America/Barbados"
    assert qh.group_of("not a number") == "08:00-21:00|"


def test_next_open_needs_an_aware_instant():
    with pytest.raises(ValueError, match="timezone-aware"):
        tcpa().next_open("08:00-21:00|America/New_York", at=dt.datetime(2026, 12, 4, 14, 30))


def test_groups_sort_and_problem_is_cached():
    qh = tcpa(**{"US-FL": "08:00-20:00"})
    groups = sorted({qh.group_of(r) for r in (NEW_YORK, LOS_ANGELES, MIAMI, ALASKA, "a@b.co")})
    assert groups == [
        "",
        "08:00-20:00|America/New_York",
        "08:00-21:00|America/Adak,America/Anchorage",
        "08:00-21:00|America/Los_Angeles",
        "08:00-21:00|America/New_York",
    ]
    group = qh.group_of(TOLL_FREE)
    assert qh.problem(group) is qh.problem(group)
    assert group in qh._problems


def _nanp_sample() -> list[list[str]]:
    """Numbers grouped by +1 NPA NXX: +1 NPA 555 01xx for every valid NPA, random lines of known prefixes."""
    import phonenumbers
    from phonenumbers.geodata import GEOCODE_DATA
    from phonenumbers.tzdata import TIMEZONE_DATA

    rng = random.Random(20261204)
    by_prefix: dict[str, list[str]] = {}

    def add(number: str) -> None:
        if len(number) == 12 and phonenumbers.is_valid_number(phonenumbers.parse(number)):
            by_prefix.setdefault(number[:8], []).append(number)

    for npa in range(201, 990):
        for line in ("0101", "0199", f"{rng.randrange(10000):04d}"):
            add(f"+1{npa}555{line}")
    known = sorted({k[1:7] for k in (*TIMEZONE_DATA, *GEOCODE_DATA) if k.startswith("1") and len(k) == 7})
    for prefix in rng.sample(known, 400):
        for _ in range(3):
            add(f"+1{prefix}{rng.randrange(10000):04d}")
    for region in phonenumbers.COUNTRY_CODE_TO_REGION_CODE[1]:
        for kind in range(11):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None and example.country_code == 1:
                add(phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164))
    for digit in range(10):  # the only NANP ranges finer than NPA NXX: Barbados 246 521 x, Jamaica 876 606 0
        add(f"+1246521{digit}123")
        add(f"+1876606{digit}123")
    return list(by_prefix.values())


def test_prefix_cache_gives_what_the_uncached_computation_gives():
    overrides = {
        "US-FL": "08:00-20:00",
        "US-WA": "09:00-20:00",
        "US-CA": "08:30-20:30",
        "US-DC": "09:00-21:00",
        "CA-ON": "08:00-20:30",
        "CA-NS": "09:00-20:00",
        "CA": "08:30-21:00",
        "PR": "08:00-19:00",
        "JM": "10:00-18:00",
    }
    qh = tcpa(**overrides)
    groups = _nanp_sample()
    numbers = [number for group in groups for number in group]
    assert len(groups) > 600 and len(numbers) > 1500
    served = [qh.group_of(number) for number in numbers]
    assert len(qh._by_prefix) == len(groups)  # one computation per +1 NPA NXX
    fresh = tcpa(**overrides)
    assert served == [fresh._compute_group(number)[0] for number in numbers]
    assert {group.partition("|")[0] for group in served} >= {"08:00-20:00", "10:00-18:00", "08:00-19:00", "08:30-21:00"}


def _probe(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_importing_the_module_does_not_import_phonenumbers():
    code = (
        "import sys\n"
        "import airflow_provider_mta.core.quiet_hours as q\n"
        "q.QuietHours.build(quiet_hours='08:00-21:00', overrides={'US-FL': '08:00-20:00'})\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'phonenumbers'))\n"
    )
    assert _probe(code) == "[]"


def test_the_geocoder_is_loaded_only_for_state_or_province_overrides():
    code = (
        "import sys\n"
        "import airflow_provider_mta.core.quiet_hours as q\n"
        "qh = q.QuietHours.build(quiet_hours='08:00-21:00', overrides={'GB': '09:00-20:00', 'US': '09:00-21:00'})\n"
        "print(qh.group_of('+442079460012'), qh.group_of('+13053712345'))\n"
        "print('phonenumbers.geocoder' in sys.modules)\n"
    )
    assert _probe(code).splitlines() == ["09:00-20:00|Europe/London 09:00-21:00|America/New_York", "False"]
