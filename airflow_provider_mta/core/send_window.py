"""When a send may go out under quiet hours: the earliest instant every recipient's window is open."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING

from airflow_provider_mta.core.errors import MtaValidationError

if TYPE_CHECKING:
    from airflow_provider_mta.core.quiet_hours import QuietHours

_MAX_STEPS = 64


def common_opening(quiet_hours: QuietHours, groups: Iterable[str], *, at: dt.datetime) -> dt.datetime | None:
    """None when every group is inside its window at ``at``; else the earliest later instant they all are.

    Raises :class:`MtaValidationError` (field ``quiet_hours``) when the groups' windows never overlap.
    """
    from airflow_provider_mta.core.quiet_hours import NoCommonWindowError

    wanted = sorted(set(groups))
    when = at
    for _ in range(_MAX_STEPS):
        try:
            later = [opening for g in wanted if (opening := quiet_hours.next_open(g, at=when)) is not None]
        except NoCommonWindowError as exc:
            raise MtaValidationError(f"quiet_hours: {exc}", field="quiet_hours") from None
        if not later:
            return None if when == at else when
        when = max(later)
    raise MtaValidationError(
        f"quiet_hours: the recipients' windows ({quiet_hours.describe()}) have no hour in common; "
        "send to them separately",
        field="quiet_hours",
    )
