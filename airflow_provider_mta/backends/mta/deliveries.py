"""MTA's delivery lookups: its numeric statuses, ``/deliveries`` and delivery-report parsing, STOPPED numbers.

The shapes of ``/deliveries`` rows and delivery reports are not in MTA's public docs: what is read here
(and what is tolerated) is listed in ``docs/assumptions.md``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from airflow_provider_mta.core.delivery import MAX_PAGE_SIZE, DeliveryPage, DeliveryRecord, DeliveryStatus, Outcome
from airflow_provider_mta.core.errors import MtaValidationError
from airflow_provider_mta.core.masking import mask_recipient

DELIVERIES_PATH = "/deliveries"


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
        return DeliveryStatus(code, f"STATUS_{code}", Outcome.PENDING, known=False)
    named = next((v for v in (status, status_name) if isinstance(v, str) and v.strip()), None)
    return DeliveryStatus(None, _word(named) if named else "NO_STATUS", Outcome.PENDING, known=False)


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
