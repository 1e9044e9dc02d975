"""The bad input catalogue: every operator, the notifier, the sensor and the hook, fed what breaks SMS pipelines.

Each case asserts the error type, that the text names what is wrong (field, row or masked recipient),
that no full phone number of the input leaks into it, and that the sandbox's ledger stays empty: nothing
was sent. The notifier logs instead of raising (its promise: a failed text never hides the task's
error), so its cases read the log line. Documented skips (no rows, a dry-run result) are cases too.
The catalogue is printed at the end of the session (``fault_matrix.SECTIONS``).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from airflow_provider_mta.backends.mta.client import MtaClient
from airflow_provider_mta.core.errors import (
    MtaBadRequestError,
    MtaConfigError,
    MtaServerError,
    MtaTransportError,
    MtaUnauthorizedError,
    MtaValidationError,
)
from airflow_provider_mta.core.retry import RetryPolicy
from airflow_provider_mta.hooks.mta import MtaHook
from airflow_provider_mta.notifications.mta import MtaNotifier
from airflow_provider_mta.operators.batch import BatchPersonalizedSmsOperator
from airflow_provider_mta.operators.send import SendSmsOperator
from airflow_provider_mta.sensors.delivery import MtaDeliverySensor
from tests.conftest import bird_conn_json, mta_conn_json, telnyx_conn_json
from tests.reliability import fault_matrix
from tests.reliability.helpers import XComValue, context, execute

try:
    from airflow.sdk.exceptions import AirflowNotFoundException
except ImportError:  # Airflow 3.1
    from airflow.exceptions import AirflowNotFoundException  # type: ignore[no-redef,attr-defined]

pytestmark = pytest.mark.integration

A, B, C = "+13175551111", "+13175552222", "+13175553333"
MOCK_URL = "http://mta.test/v3"  # answered by an httpx.MockTransport, never the network
CATALOGUE: dict[str, tuple[str, str, str]] = {}  # case id -> (component, input, outcome)


@dataclass
class Env:
    sandbox: Any
    monkeypatch: pytest.MonkeyPatch
    mock_requests: list[httpx.Request]

    def conn(self, conn_id: str, value: str) -> None:
        self.monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", value)

    def sandbox_conn(self, conn_id: str = "mta_default", **extra: Any) -> None:
        self.conn(conn_id, mta_conn_json(self.sandbox.base_url, api_key=self.sandbox.api_key, **extra))


def send(env: Env, **kw: Any) -> Any:
    kw.setdefault("subscribers", [A])
    kw.setdefault("message", "Your order shipped")
    return execute(SendSmsOperator(task_id="send", **kw), context(task_id="send"))


def batch(env: Env, rows: Any = None, **kw: Any) -> Any:
    kw.setdefault("message", "Hi {{ first_name }}")
    kw.setdefault("rows", rows)
    return execute(BatchPersonalizedSmsOperator(task_id="batch", **kw), context(task_id="batch"))


def people(n: int) -> list[dict[str, Any]]:
    return [{"phone": f"+1317555{1000 + i}", "first_name": f"P{i}"} for i in range(n)]


def notify(env: Env, **kw: Any) -> None:
    kw.setdefault("subscribers", [A])
    notifier = MtaNotifier(**kw)
    notifier(context(task_id="load"))  # as Airflow calls a callback: render, then notify


def sense(env: Env, **kw: Any) -> Any:
    return MtaDeliverySensor(task_id="wait", deferrable=False, poll_interval=0.1, timeout=5, **kw).execute({})


def mock_server(env: Env, answer: Callable[[httpx.Request], httpx.Response]) -> None:
    """Point ``mta_default`` at MOCK_URL, answered by ``answer``; every attempt is kept in env.mock_requests."""

    def handler(request: httpx.Request) -> httpx.Response:
        env.mock_requests.append(request)
        return answer(request)

    real_init = MtaClient.__init__

    def init(self: MtaClient, *, transport: Any = None, **options: Any) -> None:
        if str(options.get("base_url", "")).startswith(MOCK_URL):
            transport = httpx.MockTransport(handler)
        real_init(self, transport=transport, **options)

    env.monkeypatch.setattr(MtaClient, "__init__", init)
    env.monkeypatch.setattr(RetryPolicy, "wait", lambda self, state: 0.01)  # keep the catalogue fast
    env.conn("mta_default", mta_conn_json(MOCK_URL, max_retries=2, send_rate_limit="0"))


NOT_JSON = b"<html><body>OK</body></html>"
TRUNCATED = b'{"message": "Message Sent to 1 Recipient(s).", "data": {"messageId": "8bd3'


@dataclass
class Case:
    id: str
    component: str
    input: str
    run: Callable[[Env], Any]
    error: type[BaseException] | None  # None: a documented skip (no error, nothing sent)
    texts: tuple[str, ...]
    logged: bool = False  # the notifier: the error is logged, not raised


CASES = [
    # -- SendSmsOperator ---------------------------------------------------------------------------
    Case("send-invalid-phone", "SendSmsOperator", "subscribers=['+1 317 555']",
         lambda e: send(e, subscribers=["+1 317 555"]), MtaValidationError,
         ("subscribers[0]", "***7555", "not a valid phone number")),
    Case("send-ambiguous-national-number", "SendSmsOperator", "UK number without +44, region US",
         lambda e: send(e, subscribers=["020 7946 0012"]), MtaValidationError,
         ("subscribers[0]", "***0012", "not a valid phone number in region US")),
    Case("send-local-number-without-area-code", "SendSmsOperator", "subscribers=['555-1234']",
         lambda e: send(e, subscribers=["555-1234"]), MtaValidationError, ("subscribers[0]", "***1234")),
    Case("send-invalid-email", "SendSmsOperator", "subscribers=['ann@example']",
         lambda e: send(e, subscribers=["ann@example"]), MtaValidationError,
         ("subscribers[0]", "a***@example", "not a valid email address")),
    Case("send-not-a-recipient-type", "SendSmsOperator", "subscribers=[None]",
         lambda e: send(e, subscribers=[None]), MtaValidationError,
         ("subscribers[0]", "must be text or a number")),
    Case("send-empty-list", "SendSmsOperator", "subscribers=[] (an empty XCom)",
         lambda e: send(e, subscribers=[]), MtaValidationError, ("subscribers", "is empty")),
    Case("send-two-recipient-kinds", "SendSmsOperator", "subscribers=[...] and groups=[7]",
         lambda e: send(e, groups=[7]), MtaValidationError,
         ("subscribers, groups", "exactly one kind of recipient")),
    Case("send-no-content", "SendSmsOperator", "no message, image or template_id",
         lambda e: send(e, message=None), MtaValidationError, ("message", "no content")),
    Case("send-missing-liquid-variable", "SendSmsOperator", "{{ first_name }}, one recipient has none",
         lambda e: send(e, subscribers=[A, B], message="Hi {{ first_name }}",
                        properties={A: {"first_name": "Ann"}, B: {"last_name": "Bo"}}),
         MtaValidationError, ("properties", "***2222 lacks first_name")),
    Case("send-malformed-liquid", "SendSmsOperator", "'Hi {{ first_name | }}'",
         lambda e: send(e, message="Hi {{ first_name | }}", properties={A: {"first_name": "Ann"}}),
         MtaValidationError, ("message", "invalid Liquid")),
    Case("send-unknown-template-name", "SendSmsOperator", "'Hi {{ frist_name }}' (typo)",
         lambda e: send(e, message="Hi {{ frist_name }}", properties={A: {"first_name": "Ann"}}),
         MtaValidationError, ("message", "{{ frist_name }} is neither a recipient property (first_name)")),
    Case("send-properties-for-a-stranger", "SendSmsOperator", "properties keyed by a non-recipient",
         lambda e: send(e, message="Hi {{ n }}", properties={A: {"n": "A"}, C: {"n": "C"}}),
         MtaValidationError, ("properties", "not in subscribers", "***3333")),
    Case("send-null-property", "SendSmsOperator", "properties={A: {'first_name': None}}",
         lambda e: send(e, message="Hi {{ first_name }}", properties={A: {"first_name": None}}),
         MtaValidationError, ("properties['***1111']['first_name'] is null",)),
    Case("send-oversized-mms", "SendSmsOperator", "image + 1,600-character message",
         lambda e: send(e, message="x" * 1600, image="https://example.com/a.png"), MtaValidationError,
         ("message", "the text is 1,600 characters; an MMS holds at most 1,550", "Nothing was sent")),
    Case("send-image-not-a-url", "SendSmsOperator", "image='a.png'",
         lambda e: send(e, image="a.png"), MtaValidationError, ("image", "must be a public http(s) URL")),
    Case("send-bad-scheduled-date", "SendSmsOperator", "scheduled_date='next tuesday'",
         lambda e: send(e, scheduled_date="next tuesday"), MtaValidationError,
         ("scheduled_date", "'next tuesday' is not an ISO 8601 date-time")),
    Case("send-past-scheduled-date", "SendSmsOperator", "scheduled_date='20200101T000000-0000'",
         lambda e: send(e, scheduled_date="20200101T000000-0000"), MtaValidationError,
         ("scheduled_date", "20200101T000000+0000 is in the past")),
    Case("send-repeat-without-date", "SendSmsOperator", "repeat={...} without scheduled_date",
         lambda e: send(e, repeat={"frequency": 1}), MtaValidationError, ("repeat", "needs scheduled_date")),
    Case("send-repeat-bad-frequency", "SendSmsOperator", "repeat={'frequency': 9}",
         lambda e: send(e, scheduled_date="20990101T000000-0000", repeat={"frequency": 9}),
         MtaValidationError, ("repeat.frequency", "less than or equal to 5")),
    Case("send-repeat-custom-without-days", "SendSmsOperator", "repeat={'frequency': -1} and no weekday",
         lambda e: send(e, scheduled_date="20990101T000000-0000", repeat={"frequency": -1}),
         MtaValidationError, ("repeat", "at least one weekday")),
    Case("send-link-without-template", "SendSmsOperator", "link_id=3 without template_id",
         lambda e: send(e, link_id=3), MtaValidationError, ("link_id", "only valid together with template_id")),
    Case("send-unknown-connection", "SendSmsOperator", "mta_conn_id='mta_nope'",
         lambda e: send(e, mta_conn_id="mta_nope"), AirflowNotFoundException, ("mta_nope", "isn't defined")),
    Case("send-empty-api-key", "SendSmsOperator", "connection without password",
         lambda e: (e.conn("mta_default", mta_conn_json(e.sandbox.base_url, api_key="")), send(e)),
         MtaConfigError, ("'mta_default'", "has no API key", "password field")),
    Case("send-unknown-region", "SendSmsOperator", "default_region='XX'",
         lambda e: send(e, subscribers=["3175551111"], default_region="XX"), MtaConfigError,
         ("default_region 'XX'", "ISO 3166")),
    Case("send-huge-xcom-subscribers", "SendSmsOperator", "1,500 subscribers from XCom in one send",
         lambda e: send(e, subscribers=[f"+1317555{i:04d}" for i in range(1500)]), MtaBadRequestError,
         ("HTTP 400", "too many recipients: 1500")),
    Case("send-non-json-2xx", "SendSmsOperator", "server answers 200 with an HTML body, 3 times",
         lambda e: (mock_server(e, lambda r: httpx.Response(200, content=NOT_JSON)), send(e)),
         MtaTransportError, ("HTTP 200", "not JSON", "requestId=mta-")),
    Case("send-truncated-json-2xx", "SendSmsOperator", "server answers 200 with truncated JSON, 3 times",
         lambda e: (mock_server(e, lambda r: httpx.Response(200, content=TRUNCATED)), send(e)),
         MtaTransportError, ("HTTP 200", "not JSON", "requestId=mta-")),
    Case("send-empty-2xx", "SendSmsOperator", "server answers 200 with an empty body, 3 times",
         lambda e: (mock_server(e, lambda r: httpx.Response(200, content=b"")), send(e)),
         MtaTransportError, ("HTTP 200", "an empty body", "requestId=mta-")),
    Case("send-html-error-page", "SendSmsOperator", "a proxy's HTML 502 page on every attempt (sandbox fault)",
         lambda e: (e.sandbox_conn(max_retries=1, send_rate_limit="0"), e.sandbox.fault("html", count=2), send(e)),
         MtaServerError, ("HTTP 502", "an HTML page: 502 Bad Gateway")),
    # -- BatchPersonalizedSmsOperator --------------------------------------------------------------
    Case("batch-invalid-phones", "BatchPersonalizedSmsOperator", "2 bad numbers of 6 rows, on_invalid='fail'",
         lambda e: batch(e, [*people(4), {"phone": "12", "first_name": "X"}, {"phone": "nope", "first_name": "Y"}]),
         MtaValidationError, ("rows: 2 of 6 row(s) have no valid recipient", "row 5: ***12", "row 6")),
    Case("batch-ambiguous-national-numbers", "BatchPersonalizedSmsOperator", "UK national numbers, region US",
         lambda e: batch(e, [{"phone": "020 7946 0012", "first_name": "Al"}, *people(1)]), MtaValidationError,
         ("row 1: ***0012 is not a valid phone number in region US",)),
    Case("batch-every-row-invalid-skip", "BatchPersonalizedSmsOperator", "3 bad rows, on_invalid='skip'",
         lambda e: batch(e, [{"phone": "x", "first_name": "A"}] * 3, on_invalid="skip"), MtaValidationError,
         ("rows: none of the 3 row(s) has a valid recipient",)),
    Case("batch-invalid-email", "BatchPersonalizedSmsOperator", "a row with 'bo@example'",
         lambda e: batch(e, [*people(1), {"phone": "bo@example", "first_name": "Bo"}]), MtaValidationError,
         ("row 2: b***@example is not a valid email address",)),
    Case("batch-missing-phone-column", "BatchPersonalizedSmsOperator", "rows with 'mobile', not 'phone'",
         lambda e: batch(e, [{"mobile": A, "first_name": "Ann"}]), MtaValidationError,
         ("phone_column: no column 'phone'", "columns: mobile, first_name")),
    Case("batch-missing-property-column", "BatchPersonalizedSmsOperator", "property_columns=['points']",
         lambda e: batch(e, people(2), message="You have {{ points }}", property_columns=["points"]),
         MtaValidationError,
         ("property_columns: no column 'points'",)),
    Case("batch-missing-liquid-value", "BatchPersonalizedSmsOperator", "row 2 has first_name=None",
         lambda e: batch(e, [people(1)[0], {"phone": "3175551001", "first_name": None}]), MtaValidationError,
         ("properties", "row 2 (***1001): lacks first_name", "defaults")),
    Case("batch-unknown-template-name", "BatchPersonalizedSmsOperator", "'Hi {{ frist_name }}'",
         lambda e: batch(e, people(2), message="Hi {{ frist_name }}"), MtaValidationError,
         ("{{ frist_name }} is neither an Airflow context name nor a property of the rows (first_name)",)),
    Case("batch-malformed-liquid", "BatchPersonalizedSmsOperator", "'{% if first_name %}Hi' (no endif)",
         lambda e: batch(e, people(2), message="{% if first_name %}Hi {{ first_name }}"), MtaValidationError,
         ("message", "invalid Liquid template")),
    Case("batch-oversized-mms-row", "BatchPersonalizedSmsOperator", "is_mms, row 2 renders to 1,603 characters",
         lambda e: batch(e, [people(1)[0], {"phone": "3175551001", "first_name": "y" * 1600}], is_mms=True),
         MtaValidationError, ("row 2 (***1001): the text is 1,603 characters; an MMS holds at most 1,550",)),
    Case("batch-sms-over-160", "BatchPersonalizedSmsOperator", "row 2 renders to 161 characters",
         lambda e: batch(e, [people(1)[0], {"phone": "3175551001", "first_name": "y" * 158}]), MtaValidationError,
         ("message", "row 2 (***1001): the text is 161 characters; an SMS holds at most 160", "is_mms=True")),
    Case("send-sms-over-160", "SendSmsOperator", "161-character message",
         lambda e: send(e, message="x" * 161), MtaValidationError,
         ("message", "for ***1111, the text is 161 characters", "Nothing was sent")),
    Case("batch-unknown-quiet-hours-action", "BatchPersonalizedSmsOperator", "quiet_hours_action='later'",
         lambda e: batch(e, people(2), quiet_hours=("08:00", "21:00"), quiet_hours_action="later"),
         MtaValidationError, ("quiet_hours_action", "'later'")),
    Case("send-malformed-quiet-hours", "SendSmsOperator", "quiet_hours=('8am', '9pm')",
         lambda e: send(e, quiet_hours=("8am", "9pm")), MtaValidationError, ("quiet_hours", "'8am'")),
    Case("batch-unknown-region-override", "BatchPersonalizedSmsOperator", "quiet_hours_overrides={'US-XX': ...}",
         lambda e: batch(e, people(2), quiet_hours_overrides={"US-XX": ("08:00", "20:00")}),
         MtaValidationError, ("quiet_hours_overrides", "'US-XX'")),
    Case("batch-unreadable-suppression-sql", "BatchPersonalizedSmsOperator", "suppress_sql on a table that is missing",
         lambda e: (e.conn("optouts_sqlite", '{"conn_type": "sqlite", "host": ":memory:"}'),
                    batch(e, people(2), suppress_sql="SELECT phone FROM missing", suppress_conn_id="optouts_sqlite")),
         MtaValidationError, ("suppress_sql", "'optouts_sqlite' failed", "nothing was sent")),
    Case("send-suppress-not-a-list", "SendSmsOperator", "suppress=3.5",
         lambda e: send(e, suppress=3.5), MtaValidationError, ("suppress", "expected a list of phone numbers")),
    Case("batch-over-max-credits", "BatchPersonalizedSmsOperator", "7 x 2-part texts, max_credits=10",
         lambda e: batch(e, people(7), message="Hi {{ first_name }} " + "ж" * 80, max_credits=10),
         MtaValidationError, ("max_credits", "estimated 14 credits", "nothing was sent")),
    Case("batch-bad-scheduled-date", "BatchPersonalizedSmsOperator", "scheduled_date='2025-13-45'",
         lambda e: batch(e, people(2), scheduled_date="2025-13-45"), MtaValidationError,
         ("scheduled_date", "'2025-13-45' is not an ISO 8601 date-time")),
    Case("batch-rows-as-text", "BatchPersonalizedSmsOperator", "rows='{{ ti.xcom_pull(...) }}' rendered to text",
         lambda e: batch(e, "[{'phone': '+13175551111'}]"), MtaValidationError,
         ("rows: got text, not rows", "XComArg")),
    Case("batch-tuples-without-columns", "BatchPersonalizedSmsOperator", "rows=[('+1317...', 'Ann')]",
         lambda e: batch(e, [(A, "Ann")]), MtaValidationError, ("rows: row 1 is a tuple", "columns=[...]")),
    Case("batch-both-sources", "BatchPersonalizedSmsOperator", "rows=[...] and sql=...",
         lambda e: batch(e, rows=people(1), sql="SELECT 1", conn_id="db"), ValueError,
         ("batch: give exactly one of rows=... (XCom) or sql=...",)),
    Case("batch-unknown-connection", "BatchPersonalizedSmsOperator", "mta_conn_id='mta_nope'",
         lambda e: batch(e, people(2), mta_conn_id="mta_nope"), AirflowNotFoundException, ("mta_nope",)),
    Case("batch-empty-api-key", "BatchPersonalizedSmsOperator", "connection with a blank password",
         lambda e: (e.conn("mta_default", mta_conn_json(e.sandbox.base_url, api_key="   ")), batch(e, people(2))),
         MtaConfigError, ("'mta_default' has no API key",)),
    Case("batch-huge-xcom-one-bad-row", "BatchPersonalizedSmsOperator", "20,000 XCom rows, the last one bad",
         lambda e: batch(e, XComValue([*({"phone": f"+1317{5550000 + i:07d}", "first_name": "N"}
                                         for i in range(19_999)), {"phone": "+1 317", "first_name": "Z"}])),
         MtaValidationError, ("rows: 1 of 20000 row(s) have no valid recipient: row 20000",)),
    Case("batch-no-rows", "BatchPersonalizedSmsOperator", "rows=[] (documented: a quiet success)",
         lambda e: batch(e, []), None, ("'sent': 0",)),
    # -- MtaNotifier (logged, never raised) --------------------------------------------------------
    Case("notify-invalid-phone", "MtaNotifier", "subscribers=['12']",
         lambda e: notify(e, subscribers=["12"]), MtaValidationError,
         ("subscribers[0]: ***12 is not a valid phone number",), logged=True),
    Case("notify-ambiguous-number", "MtaNotifier", "subscribers=['020 7946 0012'], region US",
         lambda e: notify(e, subscribers=["020 7946 0012"]), MtaValidationError,
         ("subscribers[0]: ***0012 is not a valid phone number in region US",), logged=True),
    Case("notify-empty-list", "MtaNotifier", "subscribers=[]",
         lambda e: notify(e, subscribers=[]), MtaValidationError, ("subscribers: is empty",), logged=True),
    Case("notify-two-recipient-kinds", "MtaNotifier", "subscribers=[...] and groups=[1]",
         lambda e: notify(e, groups=[1]), MtaValidationError, ("exactly one kind of recipient",), logged=True),
    Case("notify-malformed-jinja", "MtaNotifier", "message='{{ ti.task_id '",
         lambda e: notify(e, message="{{ ti.task_id "), MtaValidationError,
         ("does not render", "unexpected end of template"), logged=True),
    Case("notify-unknown-connection", "MtaNotifier", "mta_conn_id='mta_nope'",
         lambda e: notify(e, mta_conn_id="mta_nope"), AirflowNotFoundException,
         ("The conn_id `mta_nope` isn't defined",), logged=True),
    Case("notify-empty-api-key", "MtaNotifier", "connection without password",
         lambda e: (e.conn("mta_default", mta_conn_json(e.sandbox.base_url, api_key="")), notify(e)),
         MtaConfigError, ("has no API key",), logged=True),
    Case("notify-wrong-api-key", "MtaNotifier", "a key the server refuses",
         lambda e: (e.conn("mta_default", mta_conn_json(e.sandbox.base_url, api_key="not-the-key")), notify(e)),
         MtaUnauthorizedError, ("HTTP 401", "Invalid API key"), logged=True),
    Case("notify-non-json-2xx", "MtaNotifier", "server answers 200 with a truncated body",
         lambda e: (mock_server(e, lambda r: httpx.Response(200, content=TRUNCATED)), notify(e)),
         MtaTransportError, ("not JSON",), logged=True),
    # -- MtaDeliverySensor -------------------------------------------------------------------------
    Case("sensor-min-delivered-zero", "MtaDeliverySensor", "min_delivered=0",
         lambda e: sense(e, outbound_ids=[1], min_delivered=0), MtaValidationError,
         ("min_delivered=0", "at least 1")),
    Case("sensor-min-delivered-fraction", "MtaDeliverySensor", "min_delivered=1.5",
         lambda e: sense(e, outbound_ids=[1], min_delivered=1.5), MtaValidationError,
         ("min_delivered=1.5", "fraction must be > 0 and <= 1")),
    Case("sensor-min-delivered-word", "MtaDeliverySensor", "min_delivered='all'",
         lambda e: sense(e, outbound_ids=[1], min_delivered="all"), MtaValidationError, ("min_delivered", "'all'")),
    Case("sensor-fail-on-word", "MtaDeliverySensor", "fail_on='sometimes'",
         lambda e: sense(e, outbound_ids=[1], fail_on="sometimes"), MtaValidationError,
         ("fail_on must be", "'sometimes'")),
    Case("sensor-fail-on-fraction", "MtaDeliverySensor", "fail_on=1.0",
         lambda e: sense(e, outbound_ids=[1], fail_on=1.0), MtaValidationError, ("fail_on", "1.0")),
    Case("sensor-nothing-to-watch", "MtaDeliverySensor", "no send_result, outbound_ids or message_ids",
         lambda e: sense(e), ValueError, ("give send_result",)),
    Case("sensor-send-result-as-text", "MtaDeliverySensor", "send_result='{{ ti.xcom_pull(... ' rendered to text",
         lambda e: sense(e, send_result="{'message_id': "), MtaValidationError,
         ("send_result is text that is neither JSON nor a Python literal",)),
    Case("sensor-bad-outbound-id", "MtaDeliverySensor", "outbound_ids=['abc']",
         lambda e: sense(e, outbound_ids=["abc"]), MtaValidationError, ("outbound id 'abc'",)),
    Case("sensor-both-inputs", "MtaDeliverySensor", "send_result and outbound_ids",
         lambda e: sense(e, send_result={"message_id": "m"}, outbound_ids=[1]), MtaValidationError,
         ("either send_result or outbound_ids",)),
    Case("sensor-result-without-ids", "MtaDeliverySensor", "send_result={'foo': 1}",
         lambda e: sense(e, send_result={"foo": 1}), MtaValidationError,
         ("send_result names neither outbound_ids nor message_ids",)),
    Case("sensor-page-size", "MtaDeliverySensor", "page_size=5000",
         lambda e: sense(e, outbound_ids=[1], page_size=5000), ValueError, ("page_size must be 1..1000",)),
    Case("sensor-dry-run-result", "MtaDeliverySensor", "send_result of a dry run (documented: success at once)",
         lambda e: sense(e, send_result={"dry_run": True, "recipients": 2}), None, ("nothing was sent (dry run)",)),
    # -- MtaHook -----------------------------------------------------------------------------------
    Case("hook-unknown-connection", "MtaHook", "MtaHook('mta_nope')",
         lambda e: MtaHook("mta_nope").verify_api_key(), AirflowNotFoundException, ("mta_nope",)),
    Case("hook-empty-api-key", "MtaHook", "password ''",
         lambda e: (e.conn("mta_x", mta_conn_json(e.sandbox.base_url, api_key="")), MtaHook("mta_x").client),
         MtaConfigError, ("'mta_x' has no API key",)),
    Case("hook-bad-base-url", "MtaHook", "host='ftp://mta.example/v3'",
         lambda e: (e.conn("mta_x", mta_conn_json("ftp://mta.example/v3")), MtaHook("mta_x").client),
         MtaConfigError, ("'ftp://mta.example/v3'", "must start with http:// or https://")),
    Case("hook-bad-timeout-extra", "MtaHook", "extra timeout='soon'",
         lambda e: (e.conn("mta_x", mta_conn_json(e.sandbox.base_url, timeout="soon")), MtaHook("mta_x").client),
         MtaConfigError, ("'mta_x'", "timeout/max_retries must be numbers")),
    Case("hook-bad-rate-limit-extra", "MtaHook", "extra send_rate_limit='fast'",
         lambda e: (e.conn("mta_x", mta_conn_json(e.sandbox.base_url, send_rate_limit="fast")),
                    MtaHook("mta_x").client),
         MtaConfigError, ("'mta_x': send_rate_limit", "'fast'", "N/SECONDS")),
    Case("hook-unknown-region-extra", "MtaHook", "extra default_region='Narnia'",
         lambda e: (e.conn("mta_x", mta_conn_json(e.sandbox.base_url, default_region="Narnia")),
                    MtaHook("mta_x").send_message(subscribers=[A], message="x")),
         MtaConfigError, ("default_region 'NARNIA'", "'mta_x'")),
    Case("hook-unknown-field", "MtaHook", "send_message(subscriber=[...]) (typo)",
         lambda e: MtaHook().send_message(subscribers=[A], subscriber=[A], message="x"), MtaValidationError,
         ("subscriber: is not a field of POST /send",)),
    Case("hook-wrong-api-key", "MtaHook", "a key the server refuses (401, never retried)",
         lambda e: (e.conn("mta_x", mta_conn_json(e.sandbox.base_url, api_key="not-the-key")),
                    MtaHook("mta_x").send_message(subscribers=[A], message="x")),
         MtaUnauthorizedError, ("HTTP 401", "Invalid API key", "requestId=")),
    Case("hook-non-json-2xx", "MtaHook", "verify_api_key answered 200 'OK' (text)",
         lambda e: (mock_server(e, lambda r: httpx.Response(200, content=b"OK")), MtaHook().verify_api_key()),
         MtaTransportError, ("HTTP 200", "not JSON")),
    # -- Telnyx connections (sms_conn_id picks the hook by the connection's type) --
    Case("telnyx-no-sender", "SendSmsOperator", "telnyx connection with neither from nor messaging_profile_id",
         lambda e: (e.conn("telnyx_x", json.dumps({"conn_type": "telnyx", "host": e.sandbox.telnyx_base_url,
                                                    "password": e.sandbox.api_key})),
                    send(e, sms_conn_id="telnyx_x")),
         MtaConfigError, ("Connection 'telnyx_x' (Telnyx) names no sender", "'from'", "'messaging_profile_id'")),
    Case("telnyx-wrong-api-key", "SendSmsOperator", "telnyx connection with a key Telnyx refuses (401)",
         lambda e: (e.conn("telnyx_x", telnyx_conn_json(e.sandbox.telnyx_base_url, api_key="KEY-not-it")),
                    send(e, sms_conn_id="telnyx_x")),
         MtaUnauthorizedError, ("Telnyx", "401")),
    Case("telnyx-mta-only-field", "BatchPersonalizedSmsOperator", "header='Acme' with a telnyx connection",
         lambda e: batch(e, people(2), sms_conn_id="telnyx_default", header="Acme"),
         MtaValidationError, ("header: is not a field of Telnyx's send request", "connection 'telnyx_default'")),
    Case("telnyx-groups", "SendSmsOperator", "groups=[5] with a telnyx connection",
         lambda e: send(e, sms_conn_id="telnyx_default", subscribers=None, groups=[5]),
         MtaValidationError, ("groups: is not a field of Telnyx's POST /v2/messages",)),
    # -- Bird connections --
    Case("bird-no-channel", "SendSmsOperator", "bird connection without the channel_id extra",
         lambda e: (e.conn("bird_x", bird_conn_json(e.sandbox, channel_id="")), send(e, sms_conn_id="bird_x")),
         MtaConfigError, ("Connection 'bird_x' (Bird) has no channel_id", "extra 'channel_id'")),
    Case("bird-wrong-access-key", "SendSmsOperator", "bird connection with a key Bird refuses (401)",
         lambda e: (e.conn("bird_x", bird_conn_json(e.sandbox, api_key="bird-not-it")), send(e, sms_conn_id="bird_x")),
         MtaUnauthorizedError, ("Bird", "401")),
    Case("bird-mta-only-field", "BatchPersonalizedSmsOperator", "header='Acme' with a bird connection",
         lambda e: batch(e, people(2), sms_conn_id="bird_default", header="Acme"),
         MtaValidationError, ("header: is not a field of Bird's send request", "connection 'bird_default'")),
    Case("bird-image", "SendSmsOperator", "image=... with a bird connection",
         lambda e: send(e, sms_conn_id="bird_default", image="https://example.com/a.png"),
         MtaValidationError, ("image: Bird text messages carry no image",)),
    Case("not-an-sms-connection", "SendSmsOperator", "sms_conn_id naming a postgres connection",
         lambda e: (e.conn("warehouse", json.dumps({"conn_type": "postgres", "host": "127.0.0.1"})),
                    send(e, sms_conn_id="warehouse")),
         MtaConfigError, ("Connection 'warehouse' is of type 'postgres', which is no SMS API", "'telnyx'")),
    # -- failover --
    Case("fallback-is-primary", "MtaNotifier", "fallback_conn_ids=['mta_default'] (the primary)",
         lambda e: MtaNotifier(subscribers=["+13175559999"], fallback_conn_ids=["mta_default"]),
         MtaConfigError, ("fallback_conn_ids", "names the primary 'mta_default'")),
    Case("fallback-missing", "SendSmsOperator", "fallback_conn_ids=['nope'] (no such connection)",
         lambda e: send(e, fallback_conn_ids=["nope"]),
         MtaConfigError, ("connection 'nope' cannot send this request", "SMS connection 'nope' cannot be used")),
    Case("fallback-not-sms", "SendSmsOperator", "fallback_conn_ids naming a postgres connection",
         lambda e: (e.conn("warehouse", json.dumps({"conn_type": "postgres", "host": "127.0.0.1"})),
                    send(e, fallback_conn_ids=["warehouse"])),
         MtaConfigError, ("connection 'warehouse' cannot send this request", "which is no SMS API")),
    Case("fallback-cannot-carry", "SendSmsOperator", "header='Acme' with a telnyx fallback",
         lambda e: send(e, header="Acme", fallback_conn_ids=["telnyx_default"]),
         MtaConfigError, ("connection 'telnyx_default' cannot send this request", "header")),
    Case("notify-fallback-not-sms", "MtaNotifier", "MTA refuses the key; fallback is a postgres connection",
         lambda e: (e.conn("warehouse", json.dumps({"conn_type": "postgres", "host": "127.0.0.1"})),
                    e.conn("mta_default", mta_conn_json(e.sandbox.base_url, api_key="rotated-zz", max_retries=0)),
                    notify(e, subscribers=["+13175559999"], fallback_conn_ids=["warehouse"])),
         MtaConfigError, ("mta_default (mta): down: MTA answered HTTP 401", "warehouse: unusable",
                          "which is no SMS API"), logged=True),
    Case("both-conn-names", "MtaDeliverySensor", "sms_conn_id='a', mta_conn_id='b'",
         lambda e: sense(e, sms_conn_id="a", mta_conn_id="b", outbound_ids=[1]),
         MtaConfigError, ("sms_conn_id='a' and mta_conn_id='b' name different connections",)),
]  # fmt: skip

E164 = re.compile(r"\+\d{10,15}")


def _outcome_text(exc: BaseException | None, logged: str) -> str:
    return logged or (f"{type(exc).__name__}: {exc}" if exc is not None else "")


@pytest.fixture
def env(sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> Env:
    return Env(sandbox, monkeypatch, [])


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_bad_input_gets_a_clear_error_and_nothing_is_sent(
    env: Env, case: Case, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.INFO)
    raised: BaseException | None = None
    result: Any = None
    try:
        result = case.run(env)
    except BaseException as exc:
        raised = exc
    logged = ""
    if case.logged:
        assert raised is None, f"the notifier raised {raised!r}"
        output = capsys.readouterr().out + caplog.text
        lines = [line for line in output.splitlines() if "SMS page not sent" in line]
        assert lines, output[-2000:]
        logged = lines[-1][lines[-1].index("SMS page not sent") :]
        text = logged
    elif case.error is None:
        assert raised is None, f"expected a documented skip, got {raised!r}"
        text = repr(result)
    else:
        assert raised is not None, f"expected {case.error.__name__}, nothing was raised (result {result!r})"
        assert isinstance(raised, case.error), f"expected {case.error.__name__}, got {raised!r}"
        text = str(raised)
    CATALOGUE[case.id] = (case.component, case.input, _outcome_text(raised, logged) or text)
    for fragment in case.texts:
        assert fragment in text, f"{fragment!r} not in {text!r}"
    assert env.sandbox.messages() == [], "something was sent"
    if env.mock_requests:  # a server that answered badly: every attempt was the same request
        ids = {r.headers.get("x-request-id") for r in env.mock_requests}
        assert len(env.mock_requests) == 3 and len(ids) == 1, (len(env.mock_requests), ids)
        if None not in ids:
            assert f"requestId={ids.pop()}" in text
    assert not E164.search(text), f"a full phone number in {text!r}"


def test_the_catalogue_has_at_least_30_cases_across_every_component() -> None:
    assert len(CASES) >= 30 and len({c.id for c in CASES}) == len(CASES)
    assert {c.component for c in CASES} == {
        "SendSmsOperator",
        "BatchPersonalizedSmsOperator",
        "MtaNotifier",
        "MtaDeliverySensor",
        "MtaHook",
    }


def _catalogue_section() -> str:
    lines = ["| Case | Component | Input | Outcome (abbreviated) |", "|---|---|---|---|"]
    for case in CASES:
        component, given, outcome = CATALOGUE.get(case.id, (case.component, case.input, "(not run)"))
        short = outcome.replace("|", "\\|").replace("\n", " ")
        short = short if len(short) <= 150 else short[:147] + "..."
        lines.append(f"| {case.id} | {component} | {given.replace('|', '/')} | {short} |")
    return "\n".join(lines)


@pytest.fixture(scope="module", autouse=True)
def _report_catalogue() -> Any:
    yield
    if CATALOGUE:
        fault_matrix.SECTIONS[f"Bad input catalogue ({len(CASES)} cases)"] = _catalogue_section()
