"""Delivery outcomes, vendor-neutral: pending/delivered/failed, the record of one text, and the success rule.

Shared by ``MtaDeliverySensor`` (sync) and ``MtaDeliveryTrigger`` (async); no Airflow, no HTTP, no
vendor's status codes (each backend maps its own statuses onto :class:`Outcome`).
"""

from __future__ import annotations

import enum
import logging
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from airflow_provider_mta.core.errors import MtaValidationError

log = logging.getLogger("airflow_provider_mta.delivery")

MAX_PAGE_SIZE = 1000  # the most delivery rows one lookup may page (MTA's bulk endpoints take 1,000)
MAX_FAILURES_KEPT = 50  # failed recipients kept in a summary (XCom and trigger events stay small)
MAX_FAILURES_SHOWN = 10  # failed recipients named in one log line or error message


class Outcome(str, enum.Enum):
    """What a delivery status means for a sensor: not final yet, delivered, or failed (terminal)."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class DeliveryStatus(NamedTuple):
    """One status: the API's numeric code if it has one, a name (``DELIVERED``, ``INVALID_NUMBER``...), its outcome.

    ``known`` is False for a status the backend's table does not list (it is then pending, and logged once).
    """

    code: int | None
    name: str
    outcome: Outcome
    known: bool = True


class DeliveryRecord(NamedTuple):
    """The latest status of one recipient message. ``recipient`` is already masked (``***0010``).

    ``outbound_id`` is the API's id of that one text: MTA's integer outbound id, Telnyx's message UUID.
    """

    outbound_id: int | str | None
    message_id: str | None
    recipient: str
    status: DeliveryStatus

    def as_failure(self) -> dict[str, Any]:
        return {
            "recipient": self.recipient,
            "outbound_id": self.outbound_id,
            "status": self.status.code,
            "reason": self.status.name,
        }


class DeliveryPage(NamedTuple):
    """One page of ``GET /deliveries``: its records and, when the answer says, page, page size and total."""

    records: list[DeliveryRecord]
    page: int | None = None
    page_size: int | None = None
    total: int | None = None


def classify_word(status: Any, outcomes: Mapping[str, Outcome]) -> DeliveryStatus:
    """A status word by an API's table (``"delivered"`` -> ``DeliveryStatus(None, "DELIVERED", DELIVERED)``).

    Case, spaces and dashes are ignored; no status is ``NO_STATUS`` and a word the table lacks is PENDING with
    ``known=False`` (logged, never failing a run by itself).
    """
    if not isinstance(status, str) or not status.strip():
        return DeliveryStatus(None, "NO_STATUS", Outcome.PENDING, known=False)
    word = "_".join(status.strip().lower().replace("-", " ").split())
    outcome = outcomes.get(word)
    if outcome is None:
        return DeliveryStatus(None, word.upper(), Outcome.PENDING, known=False)
    return DeliveryStatus(None, word.upper(), outcome)


# -- the rule ------------------------------------------------------------------------------------

FAIL_ON_WORDS = ("any", "never")


def check_min_delivered(value: Any) -> int | float | None:
    """``None`` (all), an int >= 1 (a count) or a float in (0, 1] (a fraction of the messages)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MtaValidationError(
            f"min_delivered must be None, a count (int) or a fraction (float), not {value!r}", field="min_delivered"
        )
    if isinstance(value, int):
        if value < 1:
            raise MtaValidationError(f"min_delivered={value}: a count must be at least 1", field="min_delivered")
        return value
    if not 0 < value <= 1:
        raise MtaValidationError(
            f"min_delivered={value}: a fraction must be > 0 and <= 1 (use an int for a count)", field="min_delivered"
        )
    return float(value)


def check_fail_on(value: Any) -> str | int | float:
    """``"any"``, ``"never"``, an int >= 0 (failures allowed) or a float in [0, 1) (fraction allowed)."""
    if isinstance(value, str) and value.strip().lower() in FAIL_ON_WORDS:
        return value.strip().lower()
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, float) and 0 <= value < 1:
        return value
    raise MtaValidationError(
        f"fail_on must be 'any', 'never', a number of failures (int >= 0) or a fraction (0 <= float < 1), "
        f"not {value!r}",
        field="fail_on",
    )


class Counts(NamedTuple):
    total: int
    delivered: int
    failed: int

    @property
    def pending(self) -> int:
        return max(self.total - self.delivered - self.failed, 0)


class Decision(NamedTuple):
    state: Outcome  # PENDING = keep waiting
    reason: str


class DeliveryRule:
    """When a set of messages counts as delivered, and when as failed.

    In order, at every check:

    1. ``min_delivered`` given and reached -> success (even while others are pending or failed).
    2. More failures than ``fail_on`` allows -> failed. ``"any"`` allows none without ``min_delivered``
       and, with it, as many as still let it be reached; an int allows that many; a float that
       fraction of the messages; ``"never"`` any number.
    3. ``min_delivered`` given and no longer reachable (delivered + pending < it) -> failed.
    4. Nothing pending any more -> success (every message is final and the failures are allowed).
    5. Otherwise keep waiting.
    """

    __slots__ = ("fail_on", "min_delivered")

    def __init__(self, *, min_delivered: Any = None, fail_on: Any = "any") -> None:
        self.min_delivered: int | float | None = check_min_delivered(min_delivered)
        self.fail_on: str | int | float = check_fail_on(fail_on)

    def __repr__(self) -> str:
        return f"DeliveryRule(min_delivered={self.min_delivered!r}, fail_on={self.fail_on!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DeliveryRule):
            return NotImplemented
        return (self.min_delivered, self.fail_on) == (other.min_delivered, other.fail_on)

    def __hash__(self) -> int:
        return hash((self.min_delivered, self.fail_on))

    def required(self, total: int) -> int | None:
        """How many must be delivered (None: no count, every message must be final)."""
        if self.min_delivered is None:
            return None
        if isinstance(self.min_delivered, float):
            return max(math.ceil(self.min_delivered * total - 1e-9), 1 if total else 0)
        return self.min_delivered

    def allowed_failures(self, total: int) -> int | None:
        """Most failures allowed by ``fail_on`` (None: unlimited)."""
        if self.fail_on == "never":
            return None
        if self.fail_on == "any":
            required = self.required(total)
            return 0 if required is None else None  # with min_delivered, rule 3 decides
        if isinstance(self.fail_on, float):
            return math.floor(self.fail_on * total + 1e-9)
        return int(self.fail_on)

    def describe(self) -> str:
        wanted = "all delivered" if self.min_delivered is None else f"min_delivered={self.min_delivered}"
        return f"{wanted}, fail_on={self.fail_on!r}"

    def decide(self, counts: Counts) -> Decision:
        required = self.required(counts.total)
        allowed = self.allowed_failures(counts.total)
        progress = f"{counts.delivered} of {counts.total} delivered, {counts.failed} failed, {counts.pending} pending"
        if required is not None and counts.delivered >= required:
            return Decision(Outcome.DELIVERED, f"{progress}: at least {required} delivered")
        if allowed is not None and counts.failed > allowed:
            limit = "no failure" if allowed == 0 else f"at most {allowed} failure(s)"
            return Decision(Outcome.FAILED, f"{progress}: fail_on={self.fail_on!r} allows {limit}")
        if required is not None and counts.delivered + counts.pending < required:
            return Decision(Outcome.FAILED, f"{progress}: min_delivered={required} can no longer be reached")
        if counts.pending == 0:
            tail = "all delivered" if counts.failed == 0 else f"every message is final ({self.describe()})"
            return Decision(Outcome.DELIVERED, f"{progress}: {tail}")
        return Decision(Outcome.PENDING, progress)


def summarize(
    records: Iterable[DeliveryRecord], *, total: int, rule: DeliveryRule, unlisted: int = 0
) -> dict[str, Any]:
    """The JSON-safe summary (XCom and trigger events): counts per outcome and status, failures, decision.

    ``unlisted`` messages are expected but not listed by MTA yet; they count as pending.
    """
    records = list(records)
    by_outcome = Counter(r.status.outcome for r in records)
    total = max(total, len(records) + unlisted)
    counts = Counts(total=total, delivered=by_outcome[Outcome.DELIVERED], failed=by_outcome[Outcome.FAILED])
    decision = rule.decide(counts)
    statuses = Counter(r.status.name for r in records)
    if unlisted:
        statuses["NOT_LISTED_YET"] += unlisted
    failures = [r.as_failure() for r in records if r.status.outcome is Outcome.FAILED]
    return {
        "state": {Outcome.DELIVERED: "success", Outcome.FAILED: "failed", Outcome.PENDING: "pending"}[decision.state],
        "reason": decision.reason,
        "total": counts.total,
        "delivered": counts.delivered,
        "failed": counts.failed,
        "pending": counts.pending,
        "statuses": dict(sorted(statuses.items())),
        "failures": failures[:MAX_FAILURES_KEPT],
        "failures_not_shown": max(len(failures) - MAX_FAILURES_KEPT, 0),
    }


def describe_failures(summary: Mapping[str, Any]) -> str:
    """``***0010 INVALID_NUMBER (10), ***0012 LANDLINE (12)`` for a log line or error message."""
    failures = list(summary.get("failures") or [])
    shown = [
        f"{f.get('recipient')} {f.get('reason')}" + (f" ({f['status']})" if f.get("status") is not None else "")
        for f in failures[:MAX_FAILURES_SHOWN]
    ]
    more = len(failures) - len(shown) + int(summary.get("failures_not_shown") or 0)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")
