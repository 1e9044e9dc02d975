"""What a delivery sensor watches, and which requests one check makes (sans I/O, shared by sensor and trigger).

Requests come in rounds: a round reads every message that can still change once. With message ids,
``GET /deliveries?filters[messageId]=...`` page by page (one request per page of up to 1,000 rows,
however many outbound ids); with outbound ids only, one ``GET /sent-messages/{id}/delivery-report``
per message that is not final yet. A check makes at most ``max_requests_per_check`` requests and the
next check carries on where it stopped, so one check fits the API's general limit at any batch size.
A request the API refused with 429 goes back to the front (:meth:`DeliveryTracker.retry`): nothing
learned is lost. When the API ignores ``filters[messageId]`` (rows of other sends come back, or two
message ids list the same rows) the tracker reads the whole ``/deliveries`` listing instead, newest
first, keeping only this send's rows. The caller does the I/O::

    tracker.start_check()
    while (request := tracker.next_request()) is not None:
        tracker.feed(request, answer_of(request))  # a DeliveryPage or a DeliveryRecord
    summary = tracker.summary(rule)
"""

from __future__ import annotations

import ast
import json
import logging
import re
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from airflow_provider_mta.core.delivery import (
    MAX_PAGE_SIZE,
    DeliveryPage,
    DeliveryRecord,
    DeliveryRule,
    Outcome,
    summarize,
)
from airflow_provider_mta.core.errors import MtaValidationError

log = logging.getLogger("airflow_provider_mta.delivery")

MAX_PAGES_PER_MESSAGE = 100
"""Pages read per message id (and of the whole listing, once ``filters[messageId]`` is found ignored)."""


@dataclass(frozen=True)
class DeliveryTarget:
    """The messages to watch: outbound ids (None: not known), message ids, how many recipients to expect."""

    outbound_ids: tuple[int | str, ...] | None
    message_ids: tuple[str, ...] = ()
    expected: int | None = None
    dry_run: bool = False

    @property
    def nothing_sent(self) -> bool:
        """A dry run, or a send that reached nobody: there is nothing to wait for."""
        if self.dry_run:
            return True
        if self.outbound_ids is not None:
            return not self.outbound_ids
        return self.expected == 0

    def describe(self) -> str:
        if self.outbound_ids is not None:
            ids = f"{len(self.outbound_ids)} outbound id(s)"
        else:
            ids = f"{self.expected if self.expected is not None else 'all'} recipient(s)"
        return ids + (f" of {len(self.message_ids)} message id(s)" if self.message_ids else "")

    def to_json(self) -> dict[str, Any]:
        return {
            "outbound_ids": list(self.outbound_ids) if self.outbound_ids is not None else None,
            "message_ids": list(self.message_ids),
            "expected": self.expected,
        }

    @classmethod
    def from_inputs(
        cls,
        *,
        send_result: Any = None,
        outbound_ids: Any = None,
        message_ids: Any = None,
    ) -> DeliveryTarget:
        """From ``send_result`` (the XCom of SendSmsOperator or BatchPersonalizedSmsOperator, or a list of
        them) or from explicit ``outbound_ids`` and/or ``message_ids``."""
        explicit = outbound_ids is not None or message_ids is not None
        if send_result is not None and explicit:
            raise MtaValidationError(
                "give either send_result or outbound_ids/message_ids, not both", field="send_result"
            )
        if send_result is not None:
            return _from_results(_as_results(send_result))
        if not explicit:
            raise MtaValidationError(
                "nothing to watch: give send_result (an operator's XCom) or outbound_ids/message_ids",
                field="send_result",
            )
        oids = _outbound_ids(outbound_ids) if outbound_ids is not None else None
        mids = _message_ids(message_ids) if message_ids is not None else ()
        if oids is None and not mids:
            raise MtaValidationError("message_ids is empty and no outbound_ids were given", field="message_ids")
        return cls(outbound_ids=oids, message_ids=mids, expected=len(oids) if oids is not None else None)


def _as_results(value: Any) -> list[Mapping[str, Any]]:
    if isinstance(value, str):
        value = _parse_text(value)
    if isinstance(value, Mapping):
        return [value]
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        results = list(value)
        if all(isinstance(r, Mapping) for r in results):
            return results
    raise MtaValidationError(
        f"send_result must be the XCom dict of SendSmsOperator or BatchPersonalizedSmsOperator "
        f"(or a list of them), not {type(value).__name__}",
        field="send_result",
    )


def _parse_text(text: str) -> Any:
    """A send result rendered to text by a Jinja template: JSON or a Python literal."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError):
        raise MtaValidationError(
            "send_result is text that is neither JSON nor a Python literal; pass the XComArg "
            "(send_result=send_task.output) instead of a Jinja string",
            field="send_result",
        ) from None


def _from_results(results: list[Mapping[str, Any]]) -> DeliveryTarget:
    live = [r for r in results if not r.get("dry_run")]
    if not live:
        return DeliveryTarget(outbound_ids=(), dry_run=True)
    message_ids: list[str] = []
    outbound: list[int | str] | None = []
    expected: int | None = 0
    for result in live:
        raw_mids = result.get("message_ids")
        if isinstance(raw_mids, (list, tuple)):
            message_ids += _message_ids(raw_mids)
        elif result.get("message_id"):
            message_ids.append(str(result["message_id"]))
        count = result.get("total_sent") if "total_sent" in result else result.get("sent")
        count = count if isinstance(count, int) and not isinstance(count, bool) else None
        expected = expected + count if expected is not None and count is not None else None
        ids = result.get("outbound_ids")
        if isinstance(ids, (list, tuple)) and (ids or count == 0):
            outbound = outbound + list(_outbound_ids(ids)) if outbound is not None else None
        else:  # None (too many to keep in XCom) or an empty list for recipients that were sent
            outbound = None
    oids = tuple(dict.fromkeys(outbound)) if outbound is not None else None
    target = DeliveryTarget(outbound_ids=oids, message_ids=tuple(dict.fromkeys(message_ids)), expected=expected)
    if not target.nothing_sent and oids is None and not target.message_ids:
        raise MtaValidationError(
            "send_result names neither outbound_ids nor message_ids, so there is nothing to look up "
            "(was it an 'already sent' answer without the original ids?)",
            field="send_result",
        )
    return target


_API_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{7,99}$")


def _outbound_ids(value: Any) -> tuple[int | str, ...]:
    """MTA's positive integers (also written as text) or another API's message ids (Telnyx's UUIDs)."""
    items = [value] if isinstance(value, (int, str)) else list(value)
    out: list[int | str] = []
    for item in items:
        text = str(item).strip()
        if isinstance(item, bool) or not (text.isdigit() or (isinstance(item, str) and _API_ID_RE.match(text))):
            raise MtaValidationError(
                f"outbound id {item!r} is not a positive integer (MTA) nor another API's message id "
                "(8 or more letters, digits, - or _)",
                field="outbound_ids",
            )
        out.append(int(text) if text.isdigit() else text)
    return tuple(dict.fromkeys(out))


def _message_ids(value: Any) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else list(value)
    return tuple(dict.fromkeys(str(i).strip() for i in items if i is not None and str(i).strip()))


@dataclass(frozen=True)
class PageRequest:
    """``GET /deliveries?filters[messageId]=message_id&page=page&pageSize=page_size`` (no filter when None)."""

    message_id: str | None
    page: int
    page_size: int


@dataclass(frozen=True)
class ReportRequest:
    """``GET /sent-messages/{outbound_id}/delivery-report``."""

    outbound_id: int | str


Request: TypeAlias = "PageRequest | ReportRequest"


class DeliveryTracker:
    """The latest status of every watched message, kept across checks; plans each check's requests.

    ``max_requests_per_check`` bounds one check (None: a whole round per check). With ``webhook_grace_s``
    the connection's webhooks bring statuses (:meth:`apply_events`, before each check): a message id is
    paged only until its rows were listed once (that maps its outbound ids), and again only when nothing
    was heard of it for ``webhook_grace_s`` while some of its texts are pending; an outbound id is asked
    only when nothing was heard of it for that long.
    """

    def __init__(
        self,
        target: DeliveryTarget,
        *,
        page_size: int = MAX_PAGE_SIZE,
        max_requests_per_check: int | None = None,
        webhook_grace_s: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise MtaValidationError(f"page_size must be 1..{MAX_PAGE_SIZE}", field="page_size")
        if max_requests_per_check is not None and max_requests_per_check < 1:
            raise MtaValidationError(
                "max_requests_per_check must be 1 or more (or None)", field="max_requests_per_check"
            )
        self.target = target
        self.page_size = page_size
        self.max_requests_per_check = max_requests_per_check
        self._wanted = set(target.outbound_ids) if target.outbound_ids is not None else None
        self._message_ids = set(target.message_ids)
        self._records: dict[int | str, DeliveryRecord] = {}
        self._queue: deque[Request] = deque()
        self._done: set[str] = set()  # message ids whose every row was listed and is final
        self._listed: dict[str, int] = {}
        self._keys: dict[str, set[int | str]] = {}
        self._first_rows: dict[int | str, str] = {}  # first row of each message id's page 1 -> that message id
        self._unknown_logged: set[str] = set()
        self.requests_made = 0
        self.check_requests = 0
        self.round = 0
        self.round_size = 0  # message ids, outbound ids or (unfiltered) listing pages this round plans
        self.round_read = 0
        self.filter_ignored = False
        # webhook mode (webhook_grace_s set): what was last heard of each message id / outbound id, and when
        self.webhook_grace_s = webhook_grace_s
        self._clock = clock
        self._started = clock()
        self._mapped: set[str] = set()  # message ids whose rows were all listed once (their outbound ids known)
        self._heard: dict[int | str, float] = {}  # message id or outbound id -> last news of it (poll or event)
        self._message_of: dict[int | str, str] = {}  # outbound id -> its message id
        self.webhook_updates = 0

    @property
    def uses_pages(self) -> bool:
        return bool(self.target.message_ids)

    @property
    def unit(self) -> str:
        """What a round counts: ``message id``, ``outbound id`` or ``page``."""
        if self.filter_ignored:
            return "page"
        return "message id" if self.uses_pages else "outbound id"

    def start_check(self) -> None:
        """Begin a check: carry on with the current round, or plan the next (only what can still change)."""
        self.check_requests = 0
        if not self._queue:
            self._plan_round()

    def _plan_round(self) -> None:
        self.round += 1
        self.round_read = 0
        if self.filter_ignored:
            self._queue.append(PageRequest(None, 1, self.page_size))
        elif self.uses_pages:
            if self._unlisted():
                self._done.clear()  # MTA may list a message's rows late: look at every message again
            for message_id in self.target.message_ids:
                if message_id not in self._done and not self._heard_lately(
                    message_id, mapped=message_id in self._mapped
                ):
                    self._queue.append(PageRequest(message_id, 1, self.page_size))
        else:
            for outbound_id in self.target.outbound_ids or ():
                record = self._records.get(outbound_id)
                if (record is None or record.status.outcome is Outcome.PENDING) and not self._heard_lately(
                    outbound_id, mapped=True
                ):
                    self._queue.append(ReportRequest(outbound_id))
        self.round_size = len(self._queue)

    def next_request(self) -> Request | None:
        """The next request of this check; None when the round is read or the check's budget is spent."""
        budget = self.max_requests_per_check
        if not self._queue or (budget is not None and self.check_requests >= budget):
            return None
        return self._queue.popleft()

    def retry(self, request: Request) -> None:
        """Put back a request that got no answer (429, 5xx, network): it is asked first next time."""
        self._queue.appendleft(request)

    # -- webhooks -----------------------------------------------------------------------------------

    def _heard_lately(self, key: int | str, *, mapped: bool) -> bool:
        """Webhook mode: skip ``key`` this round (mapped, and news of it came within the grace period)."""
        if self.webhook_grace_s is None or not mapped:
            return False
        last = self._heard.get(key, self._started)
        return self._clock() - last < self.webhook_grace_s

    def watched_outbound_ids(self) -> list[int | str]:
        """The outbound ids whose stored webhook events to read before a check (not final yet)."""
        keys = self.target.outbound_ids if self.target.outbound_ids is not None else list(self._records)
        placeholder = re.compile(r"#\d+$")  # a listed row without an outbound id: no event can name it
        return [k for k in keys if not self._final(k) and not (isinstance(k, str) and placeholder.search(k))]

    def apply_events(self, records: dict[int | str, DeliveryRecord]) -> int:
        """Take statuses from the connection's webhook events (keyed by outbound id); returns how many changed.

        A final status is never replaced by a pending one (events may arrive out of order)."""
        changed = 0
        now = self._clock()
        for key, record in records.items():
            current = self._records.get(key)
            if current is not None and (current.status == record.status or self._final(key)):
                continue
            if self._wanted is not None and key not in self._wanted:
                continue
            if self._wanted is None and key not in self._message_of:
                continue  # not known to be one of this send's texts
            self._keep(key, current._replace(status=record.status) if current is not None else record)
            self._heard[key] = now
            if key in self._message_of:
                self._heard[self._message_of[key]] = now
            changed += 1
        self.webhook_updates += changed
        return changed

    def _final(self, key: int | str) -> bool:
        record = self._records.get(key)
        return record is not None and record.status.outcome is not Outcome.PENDING

    @property
    def round_complete(self) -> bool:
        return not self._queue

    def progress(self) -> str:
        """What this check read, and how far the round is: ``"12 requests; round 2: 30 of 200 message ids read"``."""
        size = f"{self.round_size}" if not self.filter_ignored else f"{self.round_size}+"
        text = (
            f"{self.check_requests} request(s) this check; round {self.round}: "
            f"{self.round_read} of {size} {self.unit}(s) read"
            + ("" if self.round_complete else ", the next check carries on")
        )
        if self.webhook_grace_s is not None:
            text += f"; {self.webhook_updates} status(es) from webhooks so far"
        return text

    def feed(self, request: Request, answer: DeliveryPage | DeliveryRecord) -> None:
        """Take the parsed answer of ``request`` (a DeliveryPage for pages, a DeliveryRecord for reports)."""
        self.requests_made += 1
        self.check_requests += 1
        if isinstance(request, ReportRequest):
            if not isinstance(answer, DeliveryRecord):
                raise TypeError("a ReportRequest is answered with a DeliveryRecord")
            self._keep(request.outbound_id, _with_outbound_id(answer, request.outbound_id))
            self._heard[request.outbound_id] = self._clock()
            self.round_read += 1
            return
        if not isinstance(answer, DeliveryPage):
            raise TypeError("a PageRequest is answered with a DeliveryPage")
        if request.message_id is None:
            self._feed_listing(request, answer)
        elif self._filter_was_ignored(request, answer):
            if self._wanted is None and all(r.message_id is None for r in answer.records):
                raise _cannot_tell_rows_apart("message id")
            self._keep_ours(answer.records)
            self._switch_to_listing()
        else:
            self._feed_page(request, answer)

    def _filter_was_ignored(self, request: PageRequest, page: DeliveryPage) -> bool:
        """Rows of another send came back, or page 1 of two message ids starts with the same row."""
        mid = request.message_id
        if any(r.message_id is not None and r.message_id != mid for r in page.records):
            return True
        if request.page == 1 and page.records and page.records[0].outbound_id is not None:
            first = page.records[0].outbound_id
            if self._first_rows.setdefault(first, str(mid)) != mid:
                return True
        return False

    def _switch_to_listing(self) -> None:
        self.filter_ignored = True
        log.warning(
            "The API ignored filters[messageId] (its answer listed other sends' rows): reading the whole "
            "GET /deliveries listing instead, newest first, up to %d pages a round. To follow large sends "
            "without polling, configure the API's delivery webhooks.",
            MAX_PAGES_PER_MESSAGE,
        )
        self._queue.clear()
        self._plan_round()
        self.round -= 1  # the same round, read another way

    def _keep_ours(self, records: list[DeliveryRecord]) -> None:
        """Keep the rows of this send from a listing of everyone's (matched by message id or outbound id)."""
        for record in records:
            ours = (record.message_id is not None and record.message_id in self._message_ids) or (
                self._wanted is not None and record.outbound_id in self._wanted
            )
            if not ours:
                continue
            if record.outbound_id is None:
                raise _cannot_tell_rows_apart("outbound id")
            if self._wanted is None or record.outbound_id in self._wanted:
                self._keep(record.outbound_id, record)

    def _feed_listing(self, request: PageRequest, page: DeliveryPage) -> None:
        self._keep_ours(page.records)
        self.round_read += 1
        size = page.page_size or request.page_size
        more = request.page * size < page.total if page.total is not None else len(page.records) >= size
        if more and page.records and request.page < MAX_PAGES_PER_MESSAGE:
            self._queue.append(PageRequest(None, request.page + 1, request.page_size))
            self.round_size += 1
        elif more and page.records and self._unlisted():
            log.warning(
                "%d message(s) of this send are not in the first %d pages of GET /deliveries (newer texts "
                "came after them); configure the API's delivery webhooks to follow them",
                self._unlisted(),
                MAX_PAGES_PER_MESSAGE,
            )

    def _feed_page(self, request: PageRequest, page: DeliveryPage) -> None:
        mid = str(request.message_id)
        if request.page == 1:
            self._listed[mid] = 0
            self._keys[mid] = set()
        offset = (request.page - 1) * request.page_size
        for index, record in enumerate(page.records):
            self._listed[mid] = self._listed.get(mid, 0) + 1
            if self._wanted is not None and record.outbound_id not in self._wanted:
                continue
            key: int | str = record.outbound_id if record.outbound_id is not None else f"{mid}#{offset + index}"
            self._keep(key, record)
            self._keys.setdefault(mid, set()).add(key)
            self._message_of[key] = mid
        size = page.page_size or request.page_size
        more = request.page * size < page.total if page.total is not None else len(page.records) >= size
        if more and page.records and request.page < MAX_PAGES_PER_MESSAGE:
            self._queue.appendleft(PageRequest(mid, request.page + 1, request.page_size))
            return
        if more and page.records:
            log.warning("Message %s lists more than %d pages; read the first ones only", mid, MAX_PAGES_PER_MESSAGE)
        self.round_read += 1
        keys = self._keys.get(mid, set())
        complete = page.total is not None and self._listed.get(mid, 0) >= page.total
        self._heard[mid] = self._clock()
        if complete and all(isinstance(k, int) for k in keys):
            self._mapped.add(mid)  # every row listed with its outbound id: webhooks can take over
        if complete and all(self._records[k].status.outcome is not Outcome.PENDING for k in keys):
            self._done.add(mid)

    def _keep(self, key: int | str, record: DeliveryRecord) -> None:
        """Keep the latest status; a final one is never replaced by a pending one (a lagging answer or event)."""
        if not record.status.known and record.status.name not in self._unknown_logged:
            self._unknown_logged.add(record.status.name)
            log.warning("Unknown MTA delivery status %s: treated as pending", record.status.name)
        if record.status.outcome is Outcome.PENDING and self._final(key):
            return
        self._records[key] = record

    def _unlisted(self) -> int:
        if self._wanted is not None:
            return len(self._wanted - self._records.keys())
        if self.target.expected is None:
            return 0
        return max(self.target.expected - len(self._records), 0)

    def summary(self, rule: DeliveryRule) -> dict[str, Any]:
        """The JSON-safe summary of what is known now, with the rule's decision in ``state``/``reason``."""
        if self._wanted is not None:
            records = [self._records[k] for k in self.target.outbound_ids or () if k in self._records]
            total = len(self._wanted)
        else:
            records = list(self._records.values())
            total = self.target.expected if self.target.expected is not None else len(records)
        summary = summarize(records, total=total, rule=rule, unlisted=self._unlisted())
        if not records and self._wanted is None and self.target.expected is None:
            summary["state"] = "pending"
            summary["reason"] = "MTA lists no delivery for the message id(s) yet"
        return summary


def _cannot_tell_rows_apart(missing: str) -> MtaValidationError:
    return MtaValidationError(
        f"the API ignores filters[messageId] and its /deliveries rows carry no {missing}, so this send's "
        "rows cannot be told from other sends': configure the API's delivery webhooks, or watch outbound "
        "ids (raise the send operator's max_xcom_ids so its XCom keeps them)",
        field="message_ids",
    )


def _with_outbound_id(record: DeliveryRecord, outbound_id: int | str) -> DeliveryRecord:
    if record.outbound_id == outbound_id:
        return record
    return DeliveryRecord(outbound_id, record.message_id, record.recipient, record.status)
