"""Delivery outcomes: MTA's statuses as pending/delivered/failed, tolerant parsing, and the success rule.

Shared by ``MtaDeliverySensor`` (sync) and ``MtaDeliveryTrigger`` (async); no Airflow, no HTTP. The
shapes of ``/deliveries`` rows and delivery reports are not in MTA's public docs: what is read here
(and what is tolerated) is listed in ``docs/assumptions.md``.
"""

from __future__ import annotations

import enum
import logging
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from airflow_provider_mta.core.errors import MtaValidationError
from airflow_provider_mta.core.masking import mask_recipient

log = logging.getLogger("airflow_provider_mta.delivery")

DELIVERIES_PATH = "/deliveries"
MAX_PAGE_SIZE = 1000  # MTA's bulk endpoints take at most 1,000 records per request
MAX_FAILURES_KEPT = 50  # failed recipients kept in a summary (XCom and trigger events stay small)
MAX_FAILURES_SHOWN = 10  # failed recipients named in one log line or error message


def report_path(outbound_id: int) -> str:
    """``/sent-messages/{outboundId}/delivery-report``."""
    return f"/sent-messages/{int(outbound_id)}/delivery-report"


def deliveries_params(
    *, message_id: str | None = None, page: int = 1, page_size: int = MAX_PAGE_SIZE, status: str | None = None
) -> dict[str, Any]:
    """Query of ``GET /deliveries`` (``filters[messageId]`` is an extension MTA's docs do not list)."""
    if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise MtaValidationError(f"page must be >= 1 and page_size 1..{MAX_PAGE_SIZE}", field="page_size")
    params: dict[str, Any] = {"page": page, "pageSize": page_size}
    if message_id:
        params["filters[messageId]"] = message_id
    if status:
        params["filters[status]"] = status
    return params


class Outcome(str, enum.Enum):
    """What a delivery status means for a sensor: not final yet, delivered, or failed (terminal)."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


# MTA's numeric statuses (plus the sandbox's 0 SCHEDULED) and what each means.
STATUS_NAMES: dict[int, str] = {
    0: "SCHEDULED",
    1: "QUEUED",
    2: "SENDING",
    3: "SENT",
    4: "DELIVERED",
    5: "SENDING_FAILED",
    6: "DELIVERY_FAILED",
    7: "DELIVERY_UNCONFIRMED",
    8: "DELIVERY_REJECTED",
    9: "UNDELIVERED",
    10: "INVALID_NUMBER",
    11: "STOPPED_NUMBER",
    12: "LANDLINE",
    13: "SEND_REJECTED",
}
OUTCOMES: dict[int, Outcome] = {
    code: Outcome.PENDING if code <= 3 else Outcome.DELIVERED if code == 4 else Outcome.FAILED for code in STATUS_NAMES
}
# Words MTA uses elsewhere (``filters[status]`` of /deliveries, other SMS APIs) that name no single code.
_WORDS: dict[str, Outcome] = {
    "PENDING": Outcome.PENDING,
    "ACCEPTED": Outcome.PENDING,
    "SUCCESS": Outcome.DELIVERED,
    "UNDELIVERABLE": Outcome.FAILED,
    "REJECTED": Outcome.FAILED,
    "FAILED": Outcome.FAILED,
    "EXPIRED": Outcome.FAILED,
    "UNKNOWN": Outcome.FAILED,  # the word for 7 DELIVERY_UNCONFIRMED in filters[status]
}
_CODES_BY_NAME = {name: code for code, name in STATUS_NAMES.items()}


class DeliveryStatus(NamedTuple):
    """One status: MTA's code when known, a name (``DELIVERED``, ``INVALID_NUMBER``...) and its outcome."""

    code: int | None
    name: str
    outcome: Outcome

    @property
    def known(self) -> bool:
        return self.code in STATUS_NAMES or self.name in _WORDS


def _int_like(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _word(value: str) -> str:
    return "_".join(value.strip().upper().replace("-", " ").split())


def classify(status: Any, status_name: Any = None) -> DeliveryStatus:
    """Map a numeric (``4``, ``"4"``) or string (``"DELIVERED"``, ``"delivery failed"``) status to an outcome.

    A known code wins over a name. Unknown codes and words are PENDING (the sensor keeps waiting and
    logs them) so that an unfamiliar status never fails a run by itself.
    """
    code = _int_like(status)
    if code in STATUS_NAMES:
        return DeliveryStatus(code, STATUS_NAMES[code], OUTCOMES[code])
    for value in (status, status_name):
        if isinstance(value, str) and _int_like(value) is None and value.strip():
            word = _word(value)
            if word in _CODES_BY_NAME:
                known = _CODES_BY_NAME[word]
                return DeliveryStatus(known, word, OUTCOMES[known])
            if word in _WORDS:
                return DeliveryStatus(code, word, _WORDS[word])
    if code is not None:
        return DeliveryStatus(code, f"STATUS_{code}", Outcome.PENDING)
    named = next((v for v in (status, status_name) if isinstance(v, str) and v.strip()), None)
    return DeliveryStatus(None, _word(named) if named else "NO_STATUS", Outcome.PENDING)


class DeliveryRecord(NamedTuple):
    """The latest status of one recipient message. ``recipient`` is already masked (``***0010``)."""

    outbound_id: int | None
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


_OUTBOUND_KEYS = ("outboundId", "outbound_id", "sentMessageId", "sent_message_id")
_MESSAGE_KEYS = ("messageId", "message_id")
_RECIPIENT_KEYS = ("destinationNumber", "destination_number", "to", "number", "phoneNumber", "phone", "recipient")
_STATUS_KEYS = ("status", "statusCode", "status_code", "deliveryStatus", "delivery_status", "state")
_NAME_KEYS = ("statusName", "status_name", "statusText", "status_text")
_ROW_LIST_KEYS = ("rows", "items", "results", "deliveries", "data")


def _first(row: Mapping[str, Any], keys: Iterable[str]) -> Any:
    for key in keys:
        value = row.get(key)
        if value is not None and value != "":
            return value
    return None


def parse_record(row: Any, *, outbound_id: int | None = None) -> DeliveryRecord | None:
    """Read one ``/deliveries`` row (or report) tolerantly; None when it is not an object.

    Outbound id: ``outboundId``, else an integer ``messageId`` (the webhook payload's meaning), else
    ``outbound_id``. Status: ``status`` (number or word, or an object with ``code``/``name``), else
    ``statusName``. Recipient: ``destinationNumber``, ``to``, ``number``, ``phone``... masked at once.
    """
    if not isinstance(row, Mapping):
        return None
    raw_message = _first(row, _MESSAGE_KEYS)
    found_outbound = _int_like(_first(row, _OUTBOUND_KEYS))
    message_id: str | None = None
    if raw_message is not None:
        if found_outbound is None and _int_like(raw_message) is not None:
            found_outbound = _int_like(raw_message)
        else:
            message_id = str(raw_message)
    status: Any = _first(row, _STATUS_KEYS)
    name: Any = _first(row, _NAME_KEYS)
    if isinstance(status, Mapping):
        name = name or _first(status, ("name", "statusName", "text"))
        status = _first(status, ("code", "status", "id", "value"))
    recipient = _first(row, _RECIPIENT_KEYS)
    return DeliveryRecord(
        outbound_id=found_outbound if found_outbound is not None else outbound_id,
        message_id=message_id,
        recipient=mask_recipient(recipient) if recipient is not None else "***",
        status=classify(status, name),
    )


def _data(envelope: Any) -> Any:
    if isinstance(envelope, Mapping) and "data" in envelope and not _first(envelope, _STATUS_KEYS):
        return envelope["data"]
    return envelope


def parse_report(envelope: Any, *, outbound_id: int) -> DeliveryRecord:
    """Read ``GET /sent-messages/{id}/delivery-report``: the current status, else the last history entry."""
    data = _data(envelope)
    history: Any = None
    if isinstance(data, Mapping):
        history = data.get("history") or data.get("statuses") or data.get("events")
    elif isinstance(data, list):
        history, data = data, {}
    record = parse_record(data, outbound_id=outbound_id)
    if (record is None or record.status.name == "NO_STATUS") and isinstance(history, list) and history:
        last = parse_record(history[-1], outbound_id=outbound_id)
        if last is not None:
            base = record or last
            record = DeliveryRecord(base.outbound_id, base.message_id, base.recipient, last.status)
    return record or DeliveryRecord(outbound_id, None, "***", classify(None))


def parse_page(envelope: Any) -> DeliveryPage:
    """Read a ``GET /deliveries`` answer: ``data: {rows, page, pageSize, total}``, or a bare list of rows."""
    data = _data(envelope)
    rows: Any = data
    meta: Mapping[str, Any] = {}
    if isinstance(data, Mapping):
        meta = data
        rows = next((data[k] for k in _ROW_LIST_KEYS if isinstance(data.get(k), list)), [])
    if not isinstance(rows, list):
        rows = []
    records = [r for r in (parse_record(row) for row in rows) if r is not None]
    return DeliveryPage(
        records=records,
        page=_int_like(meta.get("page")),
        page_size=_int_like(_first(meta, ("pageSize", "page_size", "limit"))),
        total=_int_like(_first(meta, ("total", "totalCount", "total_count", "count"))),
    )


STOPPED_NUMBER = 11
"""The status of a text to a number that has texted STOP: it must never be texted again."""


def stopped_recipients(envelope: Any) -> list[str]:
    """The recipients (as MTA lists them, **not masked**: never log them) of rows whose status is STOPPED.

    Reads a ``/deliveries`` page or a delivery report; the caller stores them in the opt-out table.
    """
    data = _data(envelope)
    rows: Any = data
    if isinstance(data, Mapping):
        listed = next((data[k] for k in _ROW_LIST_KEYS if isinstance(data.get(k), list)), None)
        rows = listed if listed is not None else [data]
    found = []
    for row in rows if isinstance(rows, list) else ():
        record = parse_record(row)
        recipient = _first(row, _RECIPIENT_KEYS) if isinstance(row, Mapping) else None
        if record is not None and record.status.code == STOPPED_NUMBER and recipient is not None:
            found.append(str(recipient))
    return found


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
