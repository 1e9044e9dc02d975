"""MTA's numeric delivery statuses, the sandbox's word mapping and the deterministic failing numbers."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from airflow_provider_mta.backends.mta.deliveries import STATUS_NAMES as _CORE_STATUS_NAMES

SCHEDULED = 0  # sandbox extension: a scheduled send that is not yet due
QUEUED = 1
SENDING = 2
SENT = 3
DELIVERED = 4
STOPPED_NUMBER = 11  # the number opted out (texted STOP)

STATUS_NAMES = _CORE_STATUS_NAMES  # one table, shared with the provider's delivery parsing

# ``filters[status]`` words of GET /deliveries -> numeric statuses ("scheduled" is a sandbox extension).
STATUS_WORDS: dict[str, tuple[int, ...]] = {
    "scheduled": (SCHEDULED,),
    "sent": (QUEUED, SENDING, SENT),
    "delivered": (DELIVERED,),
    "undelivered": (5, 6, 9),
    "undeliverable": (10, 11, 12),
    "unknown": (7,),
    "rejected": (8, 13),
}


def final_status_for(recipient: str) -> int:
    """DELIVERED, except phone numbers ending in ``00NN`` (NN 05..13), which end in status NN."""
    if "@" in recipient:
        return DELIVERED
    last4 = "".join(c for c in recipient if c.isdigit())[-4:]
    if len(last4) == 4 and last4.startswith("00") and 5 <= int(last4[2:]) <= 13:
        return int(last4[2:])
    return DELIVERED


@dataclass(frozen=True)
class Timeline:
    """When one message was created, released (due), reached SENT and reached its final status."""

    created_at: float
    release_at: float
    sent_at: float
    final_at: float
    final_status: int

    def status(self, now: float) -> int:
        if now < self.release_at:
            return SCHEDULED
        if now < self.sent_at:
            return QUEUED
        if now < self.final_at:
            return SENT
        return self.final_status

    def updated_at(self, now: float) -> float:
        return max((at for _, at in self.history(now)), default=self.created_at)

    def history(self, now: float) -> list[tuple[int, float]]:
        """``(status, at)`` for every status reached by ``now``, oldest first."""
        steps: list[tuple[int, float]] = []
        if self.release_at > self.created_at:
            steps.append((SCHEDULED, self.created_at))
        steps += [(QUEUED, self.release_at), (SENT, self.sent_at), (self.final_status, self.final_at)]
        return [(status, at) for status, at in steps if at <= now]


def status_sql(prefix: str = "") -> str:
    """The SQL expression of :meth:`Timeline.status` over message columns, parameter ``:now``."""
    p = prefix
    return (
        f"CASE WHEN :now < {p}release_at THEN {SCHEDULED} WHEN :now < {p}sent_at THEN {QUEUED}"
        f" WHEN :now < {p}final_at THEN {SENT} ELSE {p}final_status END"
    )


def updated_sql(prefix: str = "") -> str:
    """The SQL expression of :meth:`Timeline.updated_at`, parameter ``:now``."""
    p = prefix
    return (
        f"CASE WHEN :now < {p}release_at THEN {p}created_at WHEN :now < {p}sent_at THEN {p}release_at"
        f" WHEN :now < {p}final_at THEN {p}sent_at ELSE {p}final_at END"
    )


def iso(ts: float) -> str:
    """Epoch seconds as ISO 8601 UTC with milliseconds: ``2025-03-06T19:30:00.000Z``."""
    when = dt.datetime.fromtimestamp(ts, dt.timezone.utc)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")
