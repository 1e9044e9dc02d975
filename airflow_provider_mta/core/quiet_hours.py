"""Quiet hours: when a text may arrive, judged by the recipient's local time.

US law (the TCPA) lets texts arrive from 8 a.m. to 9 p.m. at the called party's location, and some
states are stricter (Florida: 8 p.m.). A :class:`QuietHours` holds the local window in which texts
may arrive, what to do with a recipient outside it, and windows for single countries, US states and
Canadian provinces. :meth:`QuietHours.group_of` sorts recipients into groups that share a window and
a set of time zones; :meth:`QuietHours.problem` and :meth:`QuietHours.next_open` then answer once
per group.

``phonenumbers`` is imported only inside the functions that need it (DAG parsing stays cheap), and
its geocoder, which takes seconds to load, only when an override names a state or province.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal, cast
from zoneinfo import ZoneInfo

from airflow_provider_mta.core.errors import MtaValidationError

if TYPE_CHECKING:
    from phonenumbers import PhoneNumber

QuietHoursAction = Literal["defer", "skip", "fail"]
ACTIONS: tuple[str, ...] = ("defer", "skip", "fail")

# The 50 states and DC, and the 13 provinces and territories, by the code an override names them with.
SUBDIVISIONS: dict[str, str] = {
    **{
        f"US-{code}": name
        for code, name in {
            "AL": "Alabama",
            "AK": "Alaska",
            "AZ": "Arizona",
            "AR": "Arkansas",
            "CA": "California",
            "CO": "Colorado",
            "CT": "Connecticut",
            "DE": "Delaware",
            "DC": "District of Columbia",
            "FL": "Florida",
            "GA": "Georgia",
            "HI": "Hawaii",
            "ID": "Idaho",
            "IL": "Illinois",
            "IN": "Indiana",
            "IA": "Iowa",
            "KS": "Kansas",
            "KY": "Kentucky",
            "LA": "Louisiana",
            "ME": "Maine",
            "MD": "Maryland",
            "MA": "Massachusetts",
            "MI": "Michigan",
            "MN": "Minnesota",
            "MS": "Mississippi",
            "MO": "Missouri",
            "MT": "Montana",
            "NE": "Nebraska",
            "NV": "Nevada",
            "NH": "New Hampshire",
            "NJ": "New Jersey",
            "NM": "New Mexico",
            "NY": "New York",
            "NC": "North Carolina",
            "ND": "North Dakota",
            "OH": "Ohio",
            "OK": "Oklahoma",
            "OR": "Oregon",
            "PA": "Pennsylvania",
            "RI": "Rhode Island",
            "SC": "South Carolina",
            "SD": "South Dakota",
            "TN": "Tennessee",
            "TX": "Texas",
            "UT": "Utah",
            "VT": "Vermont",
            "VA": "Virginia",
            "WA": "Washington",
            "WV": "West Virginia",
            "WI": "Wisconsin",
            "WY": "Wyoming",
        }.items()
    },
    **{
        f"CA-{code}": name
        for code, name in {
            "AB": "Alberta",
            "BC": "British Columbia",
            "MB": "Manitoba",
            "NB": "New Brunswick",
            "NL": "Newfoundland and Labrador",
            "NS": "Nova Scotia",
            "NT": "Northwest Territories",
            "NU": "Nunavut",
            "ON": "Ontario",
            "PE": "Prince Edward Island",
            "QC": "Quebec",
            "SK": "Saskatchewan",
            "YT": "Yukon",
        }.items()
    },
}
# Names phonenumbers' English geocoder gives a whole state or province that are not the names above.
_GEOCODER_NAMES: dict[str, str] = {
    "Washington State": "US-WA",
    "Washington D.C.": "US-DC",
    "British Colombia": "CA-BC",  # sic, in phonenumbers' data
    "Watson Lake": "CA-YT",
}
# phonenumbers describes some Canadian prefixes only as "Nova Scotia/Prince Edward Island" or
# "Northwest Territories/Nunavut/Yukon": such a number gets a window inside every one of them.
_SHARED_PREFIXES: tuple[tuple[str, ...], ...] = (("CA-NS", "CA-PE"), ("CA-NT", "CA-NU", "CA-YT"))

_TIME_RE = re.compile(r"(\d{1,2}):(\d{2})")
_COUNTRY_RE = re.compile(r"[A-Z]{2}")
_DAY = 24 * 60
_FULL_DAY = (1 << _DAY) - 1
_UTC = dt.timezone.utc
_UNKNOWN_ZONE = "Etc/Unknown"  # phonenumbers.timezone.UNKNOWN_TIMEZONE
_TIME_ZONE_UNKNOWN = "its time zone is unknown"
# Two instants, northern winter and summer, at which problem() compares the zones' UTC offsets.
_SEASONS = (dt.datetime(2026, 1, 15, 12, tzinfo=_UTC), dt.datetime(2026, 7, 15, 12, tzinfo=_UTC))
_FULL_NUMBER_CACHE = 65_536


class NoCommonWindowError(ValueError):
    """No send time puts every time zone of a recipient's group inside the window."""


@dataclass(frozen=True)
class Window:
    """The local wall-clock window in which texts may arrive: ``start`` inclusive, ``end`` exclusive.

    ``start > end`` wraps past midnight: ``22:00-02:00`` is open from 22:00 until 02:00 the next day.
    """

    start: dt.time
    end: dt.time

    def __post_init__(self) -> None:
        if self.start == self.end:
            raise ValueError(f"a window's start and end must differ, got {self.start:%H:%M} twice")

    def contains(self, t: dt.time) -> bool:
        """True when the local wall-clock time ``t`` is inside the window."""
        t = t.replace(tzinfo=None)
        start, end = self.start.replace(tzinfo=None), self.end.replace(tzinfo=None)
        if start < end:
            return start <= t < end
        return t >= start or t < end

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def _minutes(self) -> int:
        """The open minutes of a day as a bit set (bit i: minute i after midnight)."""
        start = self.start.hour * 60 + self.start.minute
        end = self.end.hour * 60 + self.end.minute
        if start < end:
            return ((1 << end) - 1) ^ ((1 << start) - 1)
        return _FULL_DAY ^ ((1 << start) - 1) ^ ((1 << end) - 1)


def parse_window(value: object, *, field: str) -> Window:
    """Read a window: ``"08:00-21:00"``, or a 2-tuple/list of ``"HH:MM"`` strings or ``datetime.time``.

    Anything else raises :class:`MtaValidationError` naming ``field``.
    """
    if isinstance(value, Window):
        return value
    if isinstance(value, str):
        parts: list[object] = list(re.split(r"\s*[-\u2013]\s*", value.strip()))
        if len(parts) != 2:
            raise _invalid(field, f"expected a window like '08:00-21:00', got {value!r}")
    elif isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise _invalid(field, f"expected a start and an end ('08:00', '21:00'), got {len(value)} items")
        parts = list(value)
    else:
        raise _invalid(
            field,
            f"expected a window like '08:00-21:00' or ('08:00', '21:00'), got {type(value).__name__}",
        )
    start = _parse_time(parts[0], field=field, which="start")
    end = _parse_time(parts[1], field=field, which="end")
    if start == end:
        raise _invalid(field, f"start and end are both {start:%H:%M}; a window must not be empty or the whole day")
    return Window(start, end)


def _parse_time(value: object, *, field: str, which: str) -> dt.time:
    if isinstance(value, dt.time):
        if value.tzinfo is not None:
            raise _invalid(field, f"the {which} {value} has a time zone; give local wall-clock time")
        if value.second or value.microsecond:
            raise _invalid(field, f"the {which} {value} has seconds; give whole minutes")
        return value
    if isinstance(value, str):
        match = _TIME_RE.fullmatch(value.strip())
        if match is not None:
            hour, minute = int(match.group(1)), int(match.group(2))
            if hour < 24 and minute < 60:
                return dt.time(hour, minute)
        raise _invalid(field, f"the {which} {value!r} is not a time of day as 'HH:MM' (00:00 to 23:59)")
    raise _invalid(field, f"the {which} must be 'HH:MM' or a datetime.time, got {type(value).__name__}")


def _invalid(field: str, text: str) -> MtaValidationError:
    return MtaValidationError(f"{field}: {text}", field=field)


@dataclass(frozen=True)
class QuietHours:
    """When texts may arrive: ``window`` (local time), ``action`` outside it, and per-region ``overrides``.

    ``overrides`` maps an upper-cased region key (``"GB"``, ``"US-FL"``) to its window; build it with
    :meth:`build`, which validates everything.
    """

    window: Window
    action: QuietHoursAction
    overrides: tuple[tuple[str, Window], ...] = ()
    _countries: dict[str, Window] = field(init=False, repr=False, compare=False, default_factory=dict)
    _subdivisions: dict[str, Window] = field(init=False, repr=False, compare=False, default_factory=dict)
    _by_prefix: dict[str, str] = field(init=False, repr=False, compare=False, default_factory=dict)
    _problems: dict[str, str | None] = field(init=False, repr=False, compare=False, default_factory=dict)
    _parsed: dict[str, tuple[Window, tuple[str, ...]]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    _by_number: Callable[[str], tuple[str, bool]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"action must be one of {', '.join(ACTIONS)}, got {self.action!r}")
        for key, window in self.overrides:
            (self._subdivisions if "-" in key else self._countries)[key] = window
        object.__setattr__(self, "_by_number", lru_cache(maxsize=_FULL_NUMBER_CACHE)(self._compute_group))

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickle and deepcopy the settings only; the caches (one holds a bound method) are rebuilt.
        return (type(self), (self.window, self.action, self.overrides))

    @classmethod
    def build(cls, *, quiet_hours: object, action: object = "defer", overrides: object = None) -> QuietHours | None:
        """Validate the operator's parameters; None when ``quiet_hours`` is None (no quiet hours)."""
        if not isinstance(action, str) or action not in ACTIONS:
            raise MtaValidationError(
                f"quiet_hours_action: must be one of {', '.join(repr(a) for a in ACTIONS)}, got {action!r}",
                field="quiet_hours_action",
            )
        if quiet_hours is None:
            if overrides:
                raise MtaValidationError(
                    "quiet_hours_overrides: given without quiet_hours (the window for everyone else)",
                    field="quiet_hours_overrides",
                )
            return None
        window = parse_window(quiet_hours, field="quiet_hours")
        pairs: dict[str, Window] = {}
        if overrides is not None:
            if not isinstance(overrides, Mapping):
                raise MtaValidationError(
                    "quiet_hours_overrides: expected a dict of region -> window, such as "
                    f"{{'US-FL': '08:00-20:00'}}, got {type(overrides).__name__}",
                    field="quiet_hours_overrides",
                )
            for raw, value in overrides.items():
                key = _override_key(raw)
                if key in pairs:
                    raise MtaValidationError(
                        f"quiet_hours_overrides: {key!r} is given twice", field="quiet_hours_overrides"
                    )
                pairs[key] = parse_window(value, field=f"quiet_hours_overrides[{raw!r}]")
        _check_shared_prefixes(pairs, pairs.get("CA", window))
        return cls(window=window, action=cast("QuietHoursAction", action), overrides=tuple(sorted(pairs.items())))

    def to_identity(self) -> list[object]:
        """A JSON-safe description, e.g. ``["08:00-21:00", "defer", [["US-FL", "08:00-20:00"]]]``."""
        return [str(self.window), self.action, [[key, str(window)] for key, window in self.overrides]]

    def describe(self) -> str:
        """For logs: ``"08:00-21:00 local time (US-FL 08:00-20:00), defer"``."""
        text = f"{self.window} local time"
        if self.overrides:
            text += " (" + ", ".join(f"{key} {window}" for key, window in self.overrides) + ")"
        return f"{text}, {self.action}"

    def group_of(self, recipient: str) -> str:
        """The recipient's group: ``"<window>|<zone>,<zone>,..."`` (zones sorted), or ``""`` for an email.

        ``"<window>|"`` (no zones) means the number's time zone is unknown. Expects normalized
        recipients (E.164). A valid +1 number is cached by ``+1 NPA NXX``: phonenumbers' NANP
        time-zone, geocoder and region data is no finer than that for valid numbers (an invalid
        number is not cached by prefix, so it cannot decide its neighbours' group).
        """
        if "@" in recipient:
            return ""
        if len(recipient) == 12 and recipient.startswith("+1") and recipient[1:].isascii() and recipient[1:].isdigit():
            key = recipient[:8]
            group = self._by_prefix.get(key)
            if group is None:
                group, by_prefix = self._by_number(recipient)
                if by_prefix:
                    self._by_prefix[key] = group
            return group
        return self._by_number(recipient)[0]

    def _compute_group(self, recipient: str) -> tuple[str, bool]:
        """The uncached group of a number, and whether every number with its ``+1 NPA NXX`` shares it."""
        import phonenumbers
        from phonenumbers import timezone

        try:
            number = phonenumbers.parse(recipient, None)
        except phonenumbers.NumberParseException:
            return f"{self.window}|", False
        if number.country_code == 1:
            # For +1 phonenumbers gives only fixed-line numbers their area code's zones; a mobile
            # number of a Caribbean region (where mobile and fixed-line ranges differ) would get
            # every NANP zone from Guam to Hawaii. A valid number's NPA names its territory, so use
            # the prefix's zones for every valid number (toll-free ones keep all NANP zones).
            valid = phonenumbers.number_type(number) != phonenumbers.PhoneNumberType.UNKNOWN
            zones: Iterable[str] = timezone.time_zones_for_geographical_number(number) if valid else ()
        else:
            valid = False
            zones = timezone.time_zones_for_number(number)
        known = sorted({zone for zone in zones if zone != _UNKNOWN_ZONE})
        return f"{self._window_for(number)}|{','.join(known)}", valid

    def _window_for(self, number: PhoneNumber) -> Window:
        if not self._countries and not self._subdivisions:
            return self.window
        import phonenumbers

        region = phonenumbers.region_code_for_number(number)
        fallback = self._countries.get(region, self.window) if region else self.window
        if self._subdivisions and region in ("US", "CA"):
            from phonenumbers import geocoder

            codes = _subdivisions_of(geocoder.description_for_number(number, "en"), region)
            if codes:
                windows = {self._subdivisions.get(code, fallback) for code in codes}
                combined = windows.pop() if len(windows) == 1 else _common_window(windows)
                if combined is not None:
                    return combined
        return fallback

    def problem(self, group: str) -> str | None:
        """Why no send time can ever work for this group, or None (also for ``""``, an email)."""
        if group == "":
            return None
        if group not in self._problems:
            self._problems[group] = self._find_problem(group)
        return self._problems[group]

    def _find_problem(self, group: str) -> str | None:
        window, zones = self._parse_group(group)
        if not zones:
            return _TIME_ZONE_UNKNOWN
        if len(zones) == 1:
            return None
        infos = [ZoneInfo(zone) for zone in zones]
        open_minutes = window._minutes()
        for instant in _SEASONS:
            common = _FULL_DAY
            for info in infos:
                common &= _to_utc_minutes(open_minutes, _offset_minutes(info, instant))
            if common:
                return None
        return _spans_text(window, zones)

    def next_open(self, group: str, *, at: dt.datetime) -> dt.datetime | None:
        """The earliest instant after ``at`` (UTC, to the minute) when every zone of the group is open.

        None when all are open at ``at``, and for ``""`` (an email). Raises
        :class:`NoCommonWindowError` when no such instant comes within 8 days.
        """
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError(f"at must be timezone-aware, got {at!r}")
        if group == "":
            return None
        window, zones = self._parse_group(group)
        if not zones:
            raise NoCommonWindowError(_TIME_ZONE_UNKNOWN)
        infos = [ZoneInfo(zone) for zone in zones]
        if _all_open(window, infos, at):
            return None
        candidates: set[dt.datetime] = set()
        for info in infos:
            today = at.astimezone(info).date()
            for days in range(-1, 9):
                candidates.update(_openings(window.start, today + dt.timedelta(days=days), info))
            # A clock change can open the window too (spring forward past its start).
            candidates.update(_clock_changes(info, at, days=10))
        for candidate in sorted(c for c in candidates if c > at):
            if _all_open(window, infos, candidate):
                return candidate
        raise NoCommonWindowError(self.problem(group) or _spans_text(window, zones))

    def _parse_group(self, group: str) -> tuple[Window, tuple[str, ...]]:
        parsed = self._parsed.get(group)
        if parsed is None:
            window_text, _, zones_text = group.partition("|")
            window = parse_window(window_text, field="group")
            parsed = (window, tuple(zones_text.split(",")) if zones_text else ())
            self._parsed[group] = parsed
        return parsed


def _override_key(raw: object) -> str:
    """The upper-cased override key, or MtaValidationError naming the parameter and the key."""
    if not isinstance(raw, str):
        raise MtaValidationError(
            f"quiet_hours_overrides: keys are region codes such as 'US-FL' or 'GB', got {raw!r}",
            field="quiet_hours_overrides",
        )
    key = raw.strip().upper()
    if key in SUBDIVISIONS:
        return key
    if _COUNTRY_RE.fullmatch(key):
        import phonenumbers

        if key in phonenumbers.SUPPORTED_REGIONS:
            return key
    hint = ""
    by_name = {name.upper(): code for code, name in SUBDIVISIONS.items()}
    if key in by_name:
        hint = f"; did you mean {by_name[key]!r}?"
    elif key[:3] in ("US-", "CA-"):
        hint = f"; {key[:2]} has no state or province {key[3:]!r}"
    elif "-" in key:
        hint = "; states and provinces are known for US and CA only"
    raise MtaValidationError(
        f"quiet_hours_overrides: unknown region {raw!r}: use an ISO 3166-1 alpha-2 code such as 'US' or 'GB', "
        f"or a US state or Canadian province such as 'US-FL' or 'CA-ON'{hint}",
        field="quiet_hours_overrides",
    )


def _check_shared_prefixes(pairs: Mapping[str, Window], canada: Window) -> None:
    for codes in _SHARED_PREFIXES:
        if not any(code in pairs for code in codes):
            continue
        windows = {pairs.get(code, canada) for code in codes}
        if len(windows) > 1 and _common_window(windows) is None:
            shown = ", ".join(f"{code} {pairs.get(code, canada)}" for code in codes)
            raise MtaValidationError(
                f"quiet_hours_overrides: phonenumbers cannot tell {' from '.join(codes)} apart for some numbers, "
                f"and their windows ({shown}) have no minute in common",
                field="quiet_hours_overrides",
            )


@lru_cache(maxsize=2)
def _names(region: str) -> dict[str, str]:
    prefix = f"{region}-"
    names = {name: code for code, name in SUBDIVISIONS.items() if code.startswith(prefix)}
    names.update({name: code for name, code in _GEOCODER_NAMES.items() if code.startswith(prefix)})
    return names


def _subdivisions_of(description: str, region: str) -> tuple[str, ...]:
    """``"Miami, FL"`` / ``"Florida"`` -> ``("US-FL",)``; ``"Nova Scotia/Prince Edward Island"`` -> both."""
    names = _names(region)
    code = names.get(description)
    if code is not None:
        return (code,)
    _, comma, tail = description.rpartition(", ")
    if comma and f"{region}-{tail}" in SUBDIVISIONS:
        return (f"{region}-{tail}",)
    if "/" in description:
        codes = [names.get(part.strip()) for part in description.split("/")]
        if all(codes):
            return tuple(cast("list[str]", codes))
    return ()


def _common_window(windows: Iterable[Window]) -> Window | None:
    """The longest stretch of minutes inside every window (None when there is none)."""
    common = _FULL_DAY
    for window in windows:
        common &= window._minutes()
    if not common:
        return None
    closed = next(i for i in range(_DAY) if not common >> i & 1)
    best_start, best_length, start, length = 0, 0, 0, 0
    for step in range(1, _DAY + 1):
        minute = (closed + step) % _DAY
        if common >> minute & 1:
            if length == 0:
                start = minute
            length += 1
            if length > best_length:
                best_start, best_length = start, length
        else:
            length = 0
    end = (best_start + best_length) % _DAY
    return Window(dt.time(best_start // 60, best_start % 60), dt.time(end // 60, end % 60))


def _to_utc_minutes(local_minutes: int, offset: int) -> int:
    """Shift a day's open minutes from local time to UTC: UTC minute u is open when local u + offset is."""
    shift = offset % _DAY
    return ((local_minutes >> shift) | (local_minutes << (_DAY - shift))) & _FULL_DAY


def _offset_minutes(info: ZoneInfo, instant: dt.datetime) -> int:
    offset = instant.astimezone(info).utcoffset()
    return int(offset.total_seconds() // 60) if offset is not None else 0


def _spans_text(window: Window, zones: tuple[str, ...]) -> str:
    by_offset = sorted(zones, key=lambda zone: (-_offset_minutes(ZoneInfo(zone), _SEASONS[0]), zone))
    return (
        f"its number's prefix spans time zones ({by_offset[0]} ... {by_offset[-1]}, {len(zones)} zones) "
        f"with no common hour in {window}"
    )


def _all_open(window: Window, infos: list[ZoneInfo], instant: dt.datetime) -> bool:
    return all(window.contains(instant.astimezone(info).time()) for info in infos)


def _openings(start: dt.time, day: dt.date, info: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """The UTC instants the local wall time ``start`` on ``day`` names (two on a fall-back day)."""
    local = dt.datetime.combine(day, start)
    return (
        local.replace(tzinfo=info).astimezone(_UTC),
        local.replace(tzinfo=info, fold=1).astimezone(_UTC),
    )


def _clock_changes(info: ZoneInfo, at: dt.datetime, *, days: int) -> list[dt.datetime]:
    """The instants (UTC, to the minute) in the ``days`` after ``at`` at which the zone's UTC offset changes."""

    def offset(minute: int) -> dt.timedelta | None:
        return dt.datetime.fromtimestamp(minute * 60, tz=info).utcoffset()

    step = 12 * 60
    first = int(at.timestamp() // 60)
    changes: list[dt.datetime] = []
    before, before_offset = first, offset(first)
    for i in range(1, days * 2 + 1):
        after = first + i * step
        after_offset = offset(after)
        if after_offset != before_offset:
            low, high = before, after  # offset(low) is the old one, offset(high) the new one
            while high - low > 1:
                middle = (low + high) // 2
                if offset(middle) == before_offset:
                    low = middle
                else:
                    high = middle
            changes.append(dt.datetime.fromtimestamp(high * 60, tz=_UTC))
        before, before_offset = after, after_offset
    return changes
