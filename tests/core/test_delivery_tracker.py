"""core/delivery_tracker.py: what to watch from either operator's XCom, and the requests of each check."""

from __future__ import annotations

import pytest

from airflow_provider_mta.backends.mta.deliveries import classify
from airflow_provider_mta.core.delivery import DeliveryPage, DeliveryRecord, DeliveryRule
from airflow_provider_mta.core.delivery_tracker import DeliveryTarget, DeliveryTracker, PageRequest, ReportRequest
from airflow_provider_mta.core.errors import MtaValidationError

SEND_RESULT = {
    "message_id": "m-1",
    "outbound_ids": [11, 12, 13],
    "total_sent": 3,
    "credits": 3,
    "request_id": "r",
    "already_sent": False,
}
BATCH_RESULT = {
    "recipients": 2500,
    "sent": 2500,
    "skipped": 0,
    "invalid": 0,
    "duplicates": 0,
    "credits": 2500,
    "chunks": 3,
    "outbound_ids": None,  # too many to keep in XCom
    "message_ids": ["c-1", "c-2", "c-3"],
}


def test_target_from_send_sms_result():
    target = DeliveryTarget.from_inputs(send_result=SEND_RESULT)
    assert target == DeliveryTarget(outbound_ids=(11, 12, 13), message_ids=("m-1",), expected=3)
    assert not target.nothing_sent


def test_target_from_batch_result_without_outbound_ids():
    target = DeliveryTarget.from_inputs(send_result=BATCH_RESULT)
    assert target == DeliveryTarget(outbound_ids=None, message_ids=("c-1", "c-2", "c-3"), expected=2500)
    with_ids = DeliveryTarget.from_inputs(send_result={**BATCH_RESULT, "sent": 2, "outbound_ids": [5, 6]})
    assert with_ids.outbound_ids == (5, 6) and with_ids.expected == 2


def test_target_from_mapped_results_and_from_text():
    other = {**SEND_RESULT, "message_id": "m-2", "outbound_ids": [14], "total_sent": 1}
    target = DeliveryTarget.from_inputs(send_result=[SEND_RESULT, other])
    assert target == DeliveryTarget(outbound_ids=(11, 12, 13, 14), message_ids=("m-1", "m-2"), expected=4)
    assert DeliveryTarget.from_inputs(send_result=[SEND_RESULT, BATCH_RESULT]).outbound_ids is None
    # A Jinja-rendered XCom is text: JSON or a Python literal
    assert DeliveryTarget.from_inputs(send_result=str(SEND_RESULT)).outbound_ids == (11, 12, 13)
    assert (
        DeliveryTarget.from_inputs(send_result='{"message_id": "m", "outbound_ids": [1], "total_sent": 1}').expected
        == 1
    )


def test_dry_run_and_nothing_sent():
    dry = DeliveryTarget.from_inputs(send_result={"dry_run": True, "recipients": 2, "credits": 2, "previews": []})
    assert dry.dry_run and dry.nothing_sent
    empty_batch = {**BATCH_RESULT, "sent": 0, "outbound_ids": [], "message_ids": []}
    assert DeliveryTarget.from_inputs(send_result=empty_batch).nothing_sent
    assert DeliveryTarget.from_inputs(send_result={**BATCH_RESULT, "sent": 0, "message_ids": []}).nothing_sent


def test_explicit_ids():
    assert DeliveryTarget.from_inputs(outbound_ids=["7", 8, 8]) == DeliveryTarget(outbound_ids=(7, 8), expected=2)
    assert DeliveryTarget.from_inputs(message_ids="m-9") == DeliveryTarget(outbound_ids=None, message_ids=("m-9",))
    both = DeliveryTarget.from_inputs(outbound_ids=[1], message_ids=["m"])
    assert (both.outbound_ids, both.message_ids) == ((1,), ("m",))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({}, "nothing to watch"),
        ({"send_result": SEND_RESULT, "outbound_ids": [1]}, "not both"),
        ({"send_result": 42}, "must be the XCom dict"),
        ({"send_result": "{{ not rendered"}, "neither JSON nor a Python literal"),
        ({"send_result": {"message_id": None, "outbound_ids": [], "total_sent": 2, "already_sent": True}}, "neither"),
        ({"outbound_ids": ["x1"]}, "not a positive integer"),
        ({"outbound_ids": [True]}, "not a positive integer"),
        ({"message_ids": []}, "message_ids is empty"),
    ],
)
def test_bad_inputs_are_named(kwargs, match):
    with pytest.raises(MtaValidationError, match=match):
        DeliveryTarget.from_inputs(**kwargs)


def row(outbound_id: int, code: int, message_id: str | None = "m-1", number: str = "+13175551111") -> DeliveryRecord:
    return DeliveryRecord(outbound_id, message_id, f"***{number[-4:]}", classify(code))


def drain(tracker: DeliveryTracker, answer) -> list:
    """Run one check, answering each request with ``answer(request)``; returns the requests made."""
    made = []
    tracker.start_check()
    while (request := tracker.next_request()) is not None:
        made.append(request)
        tracker.feed(request, answer(request))
    return made


def paged(rows: dict[str, list[DeliveryRecord]], *, with_total: bool = True):
    def answer(request: PageRequest) -> DeliveryPage:
        all_rows = rows[request.message_id]
        start = (request.page - 1) * request.page_size
        chunk = all_rows[start : start + request.page_size]
        total = len(all_rows) if with_total else None
        return DeliveryPage(chunk, request.page, request.page_size, total)

    return answer


def test_many_outbound_ids_cost_one_request_per_page():
    ids = list(range(100, 125))
    tracker = DeliveryTracker(DeliveryTarget(outbound_ids=tuple(ids), message_ids=("m-1",), expected=25), page_size=10)
    rows = {"m-1": [row(i, 3) for i in ids]}
    made = drain(tracker, paged(rows))
    assert made == [PageRequest("m-1", 1, 10), PageRequest("m-1", 2, 10), PageRequest("m-1", 3, 10)]
    assert tracker.summary(DeliveryRule())["state"] == "pending"
    rows["m-1"] = [row(i, 4) for i in ids]
    assert len(drain(tracker, paged(rows))) == 3
    summary = tracker.summary(DeliveryRule())
    assert (summary["state"], summary["delivered"], summary["total"]) == ("success", 25, 25)
    assert drain(tracker, paged(rows)) == []  # every row final: nothing left to ask
    assert tracker.requests_made == 6


def test_paging_without_total_stops_at_a_short_page():
    tracker = DeliveryTracker(DeliveryTarget(outbound_ids=None, message_ids=("m-1",)), page_size=4)
    made = drain(tracker, paged({"m-1": [row(i, 4) for i in range(10)]}, with_total=False))
    assert [r.page for r in made] == [1, 2, 3]
    summary = tracker.summary(DeliveryRule())
    assert (summary["state"], summary["total"]) == ("success", 10)


def test_batch_chunks_expected_count_and_late_listing():
    target = DeliveryTarget(outbound_ids=None, message_ids=("c-1", "c-2"), expected=4)
    tracker = DeliveryTracker(target)
    rows = {"c-1": [row(1, 4, "c-1"), row(2, 4, "c-1")], "c-2": [row(3, 4, "c-2")]}  # one row not listed yet
    assert [r.message_id for r in drain(tracker, paged(rows))] == ["c-1", "c-2"]
    summary = tracker.summary(DeliveryRule())
    assert (summary["state"], summary["pending"], summary["statuses"]["NOT_LISTED_YET"]) == ("pending", 1, 1)
    rows["c-2"].append(row(4, 10, "c-2", "+13175550010"))
    # c-1 was complete and final, but a row is missing somewhere: every message is asked again
    assert [r.message_id for r in drain(tracker, paged(rows))] == ["c-1", "c-2"]
    summary = tracker.summary(DeliveryRule())
    assert summary["state"] == "failed" and summary["failures"][0]["recipient"] == "***0010"
    assert tracker.summary(DeliveryRule(min_delivered=0.75))["state"] == "success"


def test_rows_of_other_sends_are_ignored_and_the_tracker_reads_the_whole_listing_instead():
    """A server that ignores filters[messageId] lists other sends: their rows do not count, and the
    tracker stops asking per message id (each would list everyone's rows) and pages the listing once."""
    tracker = DeliveryTracker(DeliveryTarget(outbound_ids=None, message_ids=("m-1", "m-2"), expected=3))
    foreign = DeliveryPage([row(1, 10, "other"), row(2, 4, "m-1")], 1, 2, 4)
    tracker.start_check()
    assert tracker.next_request() == PageRequest("m-1", 1, 1000)
    tracker.feed(PageRequest("m-1", 1, 1000), foreign)
    assert tracker.filter_ignored and tracker.unit == "page"
    summary = tracker.summary(DeliveryRule())
    assert (summary["state"], summary["delivered"], summary["failed"], summary["pending"]) == ("pending", 1, 0, 2)
    listing = {1: foreign, 2: DeliveryPage([row(3, 4, "m-2"), row(4, 5, "m-2")], 2, 2, 4)}
    asked = []
    while (request := tracker.next_request()) is not None:
        assert request.message_id is None  # no filter any more
        asked.append(request.page)
        tracker.feed(request, listing[request.page])
    assert asked == [1, 2]
    summary = tracker.summary(DeliveryRule())
    assert (summary["delivered"], summary["failed"], summary["pending"]) == (2, 1, 0)
    assert "round 1: 2 of 2+ page(s) read" in tracker.progress()


def test_an_ignored_filter_is_found_when_two_message_ids_list_the_same_first_row():
    """Rows without message ids: page 1 of two sends starting with the same row gives it away."""
    tracker = DeliveryTracker(DeliveryTarget(outbound_ids=(2, 3), message_ids=("m-1", "m-2"), expected=2))
    everyone = DeliveryPage([row(3, 4, None), row(2, 4, None), row(1, 10, None)], 1, 1000, 3)
    tracker.start_check()
    for _ in range(2):
        tracker.feed(tracker.next_request(), everyone)
    assert tracker.filter_ignored
    assert tracker.summary(DeliveryRule())["state"] == "success"  # matched by outbound id, row 1 ignored


def test_an_ignored_filter_with_rows_that_name_no_send_is_a_clear_error():
    tracker = DeliveryTracker(DeliveryTarget(outbound_ids=None, message_ids=("m-1", "m-2"), expected=2))
    everyone = DeliveryPage([row(3, 4, None), row(1, 10, None)], 1, 1000, 2)
    tracker.start_check()
    tracker.feed(tracker.next_request(), everyone)
    with pytest.raises(MtaValidationError, match="configure the API's delivery webhooks"):
        tracker.feed(tracker.next_request(), everyone)


def test_a_check_keeps_to_its_budget_and_the_next_carries_on():
    message_ids = tuple(f"c-{i}" for i in range(25))
    tracker = DeliveryTracker(DeliveryTarget(outbound_ids=None, message_ids=message_ids), max_requests_per_check=10)
    rows = {mid: [row(i + 1, 3, mid)] for i, mid in enumerate(message_ids)}
    asked: list[list[str | None]] = []
    for _ in range(3):
        asked.append([r.message_id for r in drain(tracker, paged(rows))])
    assert [len(a) for a in asked] == [10, 10, 5]
    assert [m for a in asked for m in a] == list(message_ids)  # each once, in order
    assert tracker.progress() == "5 request(s) this check; round 1: 25 of 25 message id(s) read"
    assert tracker.summary(DeliveryRule())["pending"] == 25  # all SENT (3): still pending
    # a new round starts, and a 429 in it loses nothing: the refused request is asked first next time
    tracker.start_check()
    first = tracker.next_request()
    assert first == PageRequest("c-0", 1, 1000) and tracker.round == 2
    tracker.retry(first)
    assert tracker.next_request() == first


def test_rows_of_other_sends_are_ignored():
    """Rows of another send in a page do not count."""
    tracker = DeliveryTracker(DeliveryTarget(outbound_ids=None, message_ids=("m-1",), expected=1))
    foreign = DeliveryPage([row(1, 10, "other"), row(2, 4, "m-1")], 1, 1000, 2)
    tracker.start_check()
    tracker.feed(tracker.next_request(), foreign)
    summary = tracker.summary(DeliveryRule())
    assert (summary["state"], summary["total"], summary["failed"]) == ("success", 1, 0)


def test_outbound_ids_filter_rows_of_the_same_message():
    tracker = DeliveryTracker(DeliveryTarget(outbound_ids=(2,), message_ids=("m-1",), expected=1))
    tracker.start_check()
    tracker.feed(tracker.next_request(), DeliveryPage([row(1, 10), row(2, 4)], 1, 1000, 2))
    assert tracker.summary(DeliveryRule())["state"] == "success"


def test_reports_only_for_messages_not_final_yet():
    tracker = DeliveryTracker(DeliveryTarget(outbound_ids=(1, 2, 3), expected=3))
    statuses = {1: 4, 2: 3, 3: 12}
    made = drain(tracker, lambda r: row(0, statuses[r.outbound_id]))  # ids come from the request
    assert made == [ReportRequest(1), ReportRequest(2), ReportRequest(3)]
    summary = tracker.summary(DeliveryRule(fail_on="never"))
    assert summary["state"] == "pending" and summary["failures"][0]["outbound_id"] == 3
    statuses[2] = 4
    assert drain(tracker, lambda r: row(0, statuses[r.outbound_id])) == [ReportRequest(2)]
    assert tracker.summary(DeliveryRule(fail_on="never"))["state"] == "success"


def test_unknown_message_ids_wait_instead_of_succeeding():
    tracker = DeliveryTracker(DeliveryTarget(outbound_ids=None, message_ids=("m-1",)))
    drain(tracker, paged({"m-1": []}))
    summary = tracker.summary(DeliveryRule())
    assert summary["state"] == "pending" and "no delivery" in summary["reason"]


def test_wrong_answer_types_are_bugs():
    tracker = DeliveryTracker(DeliveryTarget(outbound_ids=(1,), expected=1))
    tracker.start_check()
    with pytest.raises(TypeError):
        tracker.feed(tracker.next_request(), DeliveryPage([]))
    with pytest.raises(MtaValidationError):
        DeliveryTracker(DeliveryTarget(outbound_ids=(1,)), page_size=5000)


def test_webhook_mode_pages_a_message_once_then_only_after_the_grace_period_without_news():
    now = [1000.0]
    target = DeliveryTarget(outbound_ids=None, message_ids=("m-1", "m-2"), expected=3)
    tracker = DeliveryTracker(target, webhook_grace_s=300, clock=lambda: now[0])
    rows = {"m-1": [row(1, 3, "m-1"), row(2, 3, "m-1")], "m-2": [row(3, 3, "m-2")]}
    assert [r.message_id for r in drain(tracker, paged(rows))] == ["m-1", "m-2"]  # maps the outbound ids
    assert tracker.watched_outbound_ids() == [1, 2, 3]
    now[0] += 10
    # webhooks: 1 delivered, then a late SENT for it (out of order) must not undo it; 99 is not ours
    assert tracker.apply_events({1: row(1, 4, None), 99: row(99, 4, None)}) == 1
    assert tracker.apply_events({1: row(1, 3, None)}) == 0
    assert drain(tracker, paged(rows)) == []  # nothing asked: both heard of within the grace period
    assert tracker.watched_outbound_ids() == [2, 3]
    now[0] += 301
    tracker.apply_events({3: row(3, 6, None)})  # m-2 heard of again; m-1 silent for 311 s with 2 pending
    assert [r.message_id for r in drain(tracker, paged(rows))] == ["m-1"]
    summary = tracker.summary(DeliveryRule(fail_on="never"))
    assert (summary["delivered"], summary["failed"], summary["pending"]) == (1, 1, 1)
    assert "2 status(es) from webhooks so far" in tracker.progress()


def test_webhook_mode_with_outbound_ids_only_asks_nothing_while_news_is_fresh():
    now = [0.0]
    tracker = DeliveryTracker(DeliveryTarget(outbound_ids=(5, 6)), webhook_grace_s=60, clock=lambda: now[0])
    assert drain(tracker, lambda r: row(r.outbound_id, 3, None)) == []  # webhooks get the first minute
    now[0] = 61
    assert [r.outbound_id for r in drain(tracker, lambda r: row(r.outbound_id, 3, None))] == [5, 6]
    tracker.apply_events({5: row(5, 4, None), 6: row(6, 4, None)})
    assert tracker.summary(DeliveryRule())["state"] == "success"
