"""core/delivery.py: MTA statuses as outcomes, tolerant parsing of rows/reports/pages, the delivery rule."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from airflow_provider_mta.backends.mta.deliveries import (
    classify,
    deliveries_params,
    parse_page,
    parse_record,
    parse_report,
)
from airflow_provider_mta.core.delivery import (
    Counts,
    DeliveryRecord,
    DeliveryRule,
    DeliveryStatus,
    Outcome,
    describe_failures,
    summarize,
)
from airflow_provider_mta.core.errors import MtaValidationError

P, D, F = Outcome.PENDING, Outcome.DELIVERED, Outcome.FAILED


@pytest.mark.parametrize(
    ("code", "name", "outcome"),
    [
        (0, "SCHEDULED", P),
        (1, "QUEUED", P),
        (2, "SENDING", P),
        (3, "SENT", P),
        (4, "DELIVERED", D),
        (5, "SENDING_FAILED", F),
        (6, "DELIVERY_FAILED", F),
        (7, "DELIVERY_UNCONFIRMED", F),
        (8, "DELIVERY_REJECTED", F),
        (9, "UNDELIVERED", F),
        (10, "INVALID_NUMBER", F),
        (11, "STOPPED_NUMBER", F),
        (12, "LANDLINE", F),
        (13, "SEND_REJECTED", F),
    ],
)
def test_every_numeric_status_and_its_name(code, name, outcome):
    assert classify(code) == DeliveryStatus(code, name, outcome)
    assert classify(str(code)) == DeliveryStatus(code, name, outcome)  # "4" as text
    assert classify(name) == DeliveryStatus(code, name, outcome)  # the name alone
    assert classify(name.lower().replace("_", " ")) == DeliveryStatus(code, name, outcome)  # "invalid number"


@pytest.mark.parametrize(
    ("status", "name", "expected"),
    [
        ("delivered", None, (4, "DELIVERED", D)),
        ("delivery-failed", None, (6, "DELIVERY_FAILED", F)),
        ("undeliverable", None, (None, "UNDELIVERABLE", F)),  # a filters[status] word
        ("rejected", None, (None, "REJECTED", F)),
        ("unknown", None, (None, "UNKNOWN", F)),  # the word for 7 in filters[status]
        ("expired", None, (None, "EXPIRED", F)),
        ("accepted", None, (None, "ACCEPTED", P)),
        (None, "Delivered", (4, "DELIVERED", D)),  # only statusName
        (4.0, None, (4, "DELIVERED", D)),
        (99, "INVALID_NUMBER", (10, "INVALID_NUMBER", F)),  # an unknown code, a known name: the name wins
        (99, None, (99, "STATUS_99", P)),  # unknown: pending, never a failure by itself
        ("carrier-limbo", None, (None, "CARRIER_LIMBO", P)),
        (None, None, (None, "NO_STATUS", P)),
        (True, None, (None, "NO_STATUS", P)),  # a bool is not a status code
    ],
)
def test_string_and_odd_statuses(status, name, expected):
    got = classify(status, name)
    assert (got.code, got.name, got.outcome) == expected


def test_known_flags_unknown_statuses():
    assert classify(4).known and classify("undeliverable").known
    assert not classify(99).known and not classify("carrier-limbo").known


def test_parse_sandbox_row_masks_the_number():
    row = {
        "outboundId": 17, "messageId": "5b1c-uuid", "destinationNumber": "+13175550010", "status": 10,
        "statusName": "INVALID_NUMBER", "type": "sms", "externalId": None, "tags": {}, "createdAt": "x",
    }  # fmt: skip
    record = parse_record(row)
    assert record == DeliveryRecord(17, "5b1c-uuid", "***0010", DeliveryStatus(10, "INVALID_NUMBER", F))
    assert "+1317" not in json.dumps(record.as_failure())
    assert record.as_failure() == {"recipient": "***0010", "outbound_id": 17, "status": 10, "reason": "INVALID_NUMBER"}


@pytest.mark.parametrize(
    ("row", "outbound_id", "message_id", "recipient", "name"),
    [
        # the webhook V1 shape: messageId is the outbound id (an integer)
        ({"messageId": 42, "destinationNumber": "+13175551111", "status": 4}, 42, None, "***1111", "DELIVERED"),
        ({"outbound_id": "43", "to": "ann@example.com", "status": "delivered"}, 43, None, "a***@example.com",
         "DELIVERED"),
        ({"sentMessageId": 44, "phone": "3175552222", "status": {"code": 9, "name": "UNDELIVERED"}}, 44, None,
         "***2222", "UNDELIVERED"),
        ({"id": 1, "number": "+13175553333", "statusText": "Landline"}, None, None, "***3333", "LANDLINE"),
        ({"messageId": "m-1", "state": "sent"}, None, "m-1", "***", "SENT"),
        ({}, None, None, "***", "NO_STATUS"),
    ],
)  # fmt: skip
def test_parse_record_tolerates_other_shapes(row, outbound_id, message_id, recipient, name):
    record = parse_record(row)
    assert record is not None
    assert (record.outbound_id, record.message_id, record.recipient, record.status.name) == (
        outbound_id,
        message_id,
        recipient,
        name,
    )


def test_parse_record_ignores_non_objects():
    assert parse_record(["not", "a", "row"]) is None
    assert parse_record(None) is None


def test_parse_report_sandbox_shape():
    envelope = {
        "message": "Delivery report retrieved",
        "data": {
            "outboundId": 7, "messageId": "m", "destinationNumber": "+13175550012", "status": 12,
            "statusName": "LANDLINE", "updatedAt": "t",
            "history": [{"status": 1, "statusName": "QUEUED", "at": "t0"},
                        {"status": 12, "statusName": "LANDLINE", "at": "t2"}],
        },
    }  # fmt: skip
    record = parse_report(envelope, outbound_id=7)
    assert (record.outbound_id, record.recipient, record.status.code, record.status.outcome) == (7, "***0012", 12, F)


def test_parse_report_from_history_only_and_from_a_bare_list():
    only_history = {
        "data": {"destinationNumber": "+13175551111", "history": [{"status": 1}, {"status": 3}, {"status": 4}]}
    }
    record = parse_report(only_history, outbound_id=9)
    assert (record.outbound_id, record.recipient, record.status.name) == (9, "***1111", "DELIVERED")
    bare = {"data": [{"status": "QUEUED"}, {"status": "DELIVERY_REJECTED"}]}
    assert parse_report(bare, outbound_id=3).status == DeliveryStatus(8, "DELIVERY_REJECTED", F)
    assert parse_report({"data": None}, outbound_id=3).status.outcome is P
    assert parse_report("junk", outbound_id=3).outbound_id == 3


def test_parse_page_sandbox_shape_and_others():
    envelope = {
        "message": "Deliveries retrieved",
        "data": {"rows": [{"outboundId": 1, "status": 4}, "junk", {"outboundId": 2, "status": 3}], "page": 2,
                 "pageSize": 2, "total": 5},
    }  # fmt: skip
    page = parse_page(envelope)
    assert [r.outbound_id for r in page.records] == [1, 2]
    assert (page.page, page.page_size, page.total) == (2, 2, 5)
    assert [r.outbound_id for r in parse_page({"data": [{"outboundId": 3, "status": 4}]}).records] == [3]
    items = parse_page({"data": {"items": [{"outboundId": 4, "status": 4}], "totalCount": "1", "limit": 50}})
    assert ([r.outbound_id for r in items.records], items.total, items.page_size) == ([4], 1, 50)
    empty = parse_page({"data": {"unexpected": True}})
    assert (empty.records, empty.total) == ([], None)


def test_deliveries_params():
    assert deliveries_params(message_id="m", page=2, page_size=500) == {
        "page": 2,
        "pageSize": 500,
        "filters[messageId]": "m",
    }
    assert deliveries_params(status="delivered") == {"page": 1, "pageSize": 1000, "filters[status]": "delivered"}
    for bad in ({"page": 0}, {"page_size": 1001}, {"page_size": 0}):
        with pytest.raises(MtaValidationError):
            deliveries_params(**bad)


# -- the rule ------------------------------------------------------------------------------------


def decide(rule: DeliveryRule, total: int, delivered: int, failed: int) -> Outcome:
    return rule.decide(Counts(total=total, delivered=delivered, failed=failed)).state


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ((4, 4, 0), D),  # all delivered
        ((4, 3, 0), P),  # one pending
        ((4, 3, 1), F),  # one failed: "any" fails
        ((4, 0, 1), F),  # fails at the first failure, even while others are pending
        ((4, 0, 0), P),
    ],
)
def test_all_delivered_with_fail_on_any(counts, expected):
    assert decide(DeliveryRule(), *counts) is expected


@pytest.mark.parametrize(
    ("min_delivered", "counts", "expected"),
    [
        (3, (4, 3, 0), D),  # reached with one still pending
        (3, (4, 3, 1), D),
        (3, (4, 2, 1), P),  # 2 + 1 pending can still make 3
        (3, (4, 2, 2), F),  # cannot be reached any more
        (5, (4, 4, 0), F),  # more than were sent
        (0.5, (4, 2, 2), D),  # a fraction: 2 of 4
        (0.5, (4, 1, 2), P),
        (0.5, (4, 1, 3), F),
        (0.75, (10, 7, 0), P),  # ceil(7.5) = 8
        (0.75, (10, 8, 2), D),
        (1.0, (3, 3, 0), D),  # 1.0 is every message; the int 1 is one message
        (1.0, (3, 2, 1), F),
        (1, (3, 1, 2), D),
        (0.1, (3, 1, 0), D),  # at least one
    ],
)
def test_min_delivered_as_count_and_fraction(min_delivered, counts, expected):
    assert decide(DeliveryRule(min_delivered=min_delivered), *counts) is expected


@pytest.mark.parametrize(
    ("fail_on", "counts", "expected"),
    [
        ("never", (4, 3, 1), D),  # every message final: success, failures reported
        ("never", (4, 0, 3), P),  # still one pending
        ("never", (4, 0, 4), D),
        (1, (4, 3, 1), D),  # one failure allowed
        (1, (4, 2, 1), P),
        (1, (4, 1, 2), F),  # two is over the threshold
        (0, (4, 3, 1), F),  # 0 is the same as "any"
        (0.25, (8, 6, 2), D),  # a fraction: 2 of 8 allowed
        (0.25, (8, 5, 3), F),
        (0.25, (8, 1, 2), P),
    ],
)
def test_fail_on_never_and_thresholds(fail_on, counts, expected):
    assert decide(DeliveryRule(fail_on=fail_on), *counts) is expected


def test_threshold_and_min_delivered_together():
    rule = DeliveryRule(min_delivered=0.5, fail_on=1)
    assert decide(rule, 10, 5, 1) is D
    assert decide(rule, 10, 3, 2) is F  # more failures than fail_on allows, although 5 could still arrive
    assert decide(DeliveryRule(min_delivered=2, fail_on="never"), 4, 1, 3) is F  # unreachable


def test_reasons_name_the_rule():
    assert DeliveryRule().decide(Counts(4, 3, 1)).reason == (
        "3 of 4 delivered, 1 failed, 0 pending: fail_on='any' allows no failure"
    )
    assert "min_delivered=3 can no longer be reached" in DeliveryRule(min_delivered=3).decide(Counts(4, 2, 2)).reason
    assert "at most 1 failure(s)" in DeliveryRule(fail_on=1).decide(Counts(4, 1, 2)).reason


@pytest.mark.parametrize("value", [0, -1, 1.5, 0.0, True, "half", [1]])
def test_bad_min_delivered(value):
    with pytest.raises(MtaValidationError, match="min_delivered"):
        DeliveryRule(min_delivered=value)


@pytest.mark.parametrize("value", ["some", -1, 1.0, 1.5, False, None])
def test_bad_fail_on(value):
    with pytest.raises(MtaValidationError, match="fail_on"):
        DeliveryRule(fail_on=value)


def test_fail_on_words_are_normalized():
    assert DeliveryRule(fail_on=" Never ").fail_on == "never"


def _record(outbound_id: int, code: int, number: str = "+13175551111") -> DeliveryRecord:
    return DeliveryRecord(outbound_id, "m", f"***{number[-4:]}", classify(code))


def test_summary_counts_statuses_and_failures():
    records = [_record(1, 4), _record(2, 10, "+13175550010"), _record(3, 12, "+13175550012"), _record(4, 3)]
    summary = summarize(records, total=5, rule=DeliveryRule(fail_on="never"), unlisted=1)
    assert summary == {
        "state": "pending",
        "reason": "1 of 5 delivered, 2 failed, 2 pending",
        "total": 5,
        "delivered": 1,
        "failed": 2,
        "pending": 2,
        "statuses": {"DELIVERED": 1, "INVALID_NUMBER": 1, "LANDLINE": 1, "NOT_LISTED_YET": 1, "SENT": 1},
        "failures": [
            {"recipient": "***0010", "outbound_id": 2, "status": 10, "reason": "INVALID_NUMBER"},
            {"recipient": "***0012", "outbound_id": 3, "status": 12, "reason": "LANDLINE"},
        ],
        "failures_not_shown": 0,
    }
    json.dumps(summary)  # JSON-safe
    assert describe_failures(summary) == "***0010 INVALID_NUMBER (10), ***0012 LANDLINE (12)"


def test_summary_keeps_xcom_small():
    records = [_record(i, 10, f"+1317555{i:04d}") for i in range(1, 121)]
    summary = summarize(records, total=120, rule=DeliveryRule())
    assert summary["state"] == "failed" and summary["failed"] == 120
    assert len(summary["failures"]) == 50 and summary["failures_not_shown"] == 70
    assert describe_failures(summary).endswith("and 110 more")
    assert len(json.dumps(summary)) < 6000


def test_core_delivery_imports_neither_airflow_nor_heavy_libraries():
    code = (
        "import sys; import airflow_provider_mta.core.delivery_tracker; "
        "print([m for m in ('airflow', 'pydantic', 'httpx', 'tenacity') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
