"""Quiet hours in both operators, against the sandbox over HTTP, with an injected clock (exact to the minute).

"Now" is 14:30 UTC on January 12 of next year (always in the future, so MTA's "scheduledDate is in the
past" rule never interferes, and always in winter: EST and PST). It is then 09:30 in New York (open for
08:00-21:00) and 06:30 in Los Angeles (closed until 08:00 = 16:00 UTC).
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_mta.core.errors import MtaValidationError
from airflow_provider_mta.operators.batch import BatchPersonalizedSmsOperator
from airflow_provider_mta.operators.send import SendSmsOperator
from tests.reliability.helpers import StateStore

pytestmark = pytest.mark.integration

Y = dt.date.today().year + 1
NOW = dt.datetime(Y, 1, 12, 14, 30, tzinfo=dt.timezone.utc)
LA_OPENS = f"{Y}0112T160000+0000"
NY = ["+12125550101", "+12125550102", "+12125550103"]
LA = ["+13105550101", "+13105550102", "+13105550103"]
WINDOW = ("08:00", "21:00")


def clock(at: dt.datetime = NOW) -> Any:
    return lambda: at


def context() -> dict[str, Any]:
    ti = SimpleNamespace(dag_id="d", task_id="t", run_id="r1", map_index=-1, try_number=1)
    return {"ds": "2027-01-12", "params": {}, "ti": ti, "task_state_store": StateStore()}


def batch(numbers: list[str], **kw: Any) -> dict[str, Any]:
    kw.setdefault("clock", clock())
    rows = [{"phone": n, "name": n[-2:]} for n in numbers]
    op = BatchPersonalizedSmsOperator(task_id="t", rows=rows, message="Hi {{ name }}", **kw)
    ctx = context()
    op.render_template_fields(ctx)
    return op.execute(ctx)


def send(**kw: Any) -> dict[str, Any]:
    kw.setdefault("clock", clock())
    op = SendSmsOperator(task_id="t", message="Your order shipped", **kw)
    ctx = context()
    op.render_template_fields(ctx)
    return op.execute(ctx)


def scheduled(sandbox) -> dict[str, str | None]:
    return {m["to"]: m["scheduledFor"] for m in sandbox.messages()}


def test_defer_sends_the_open_zone_now_and_schedules_the_closed_one_chunk_by_chunk(sandbox):
    interleaved = [n for pair in zip(NY, LA, strict=True) for n in pair]
    out = batch(interleaved, quiet_hours=WINDOW, chunk_size=2)
    assert out["sent"] == 6 and out["deferred"] == 3 and out["deferred_until"] == {LA_OPENS: 3}
    assert out["chunks"] == 4  # chunks never mix zones: LA 2 + 1, NY 2 + 1
    when = scheduled(sandbox)
    assert {n: when[n] for n in NY} == dict.fromkeys(NY)  # sent now
    assert {when[n] for n in LA} == {f"{Y}-01-12T16:00:00.000Z"}
    assert {m["status"] for m in sandbox.messages() if m["to"] in LA} == {"SCHEDULED"}
    by_request: dict[str, set[str]] = {}
    for m in sandbox.messages():
        by_request.setdefault(m["requestId"], set()).add(m["to"][:5])
    assert all(len(prefixes) == 1 for prefixes in by_request.values()) and len(by_request) == 4


@pytest.mark.parametrize(
    ("at", "open_"),
    [
        (dt.datetime(Y, 1, 12, 13, 0, tzinfo=dt.timezone.utc), True),  # 08:00 in New York: open
        (dt.datetime(Y, 1, 12, 12, 59, tzinfo=dt.timezone.utc), False),  # 07:59: opens at 13:00 UTC
        (dt.datetime(Y, 1, 13, 1, 59, tzinfo=dt.timezone.utc), True),  # 20:59
        (dt.datetime(Y, 1, 13, 2, 0, tzinfo=dt.timezone.utc), False),  # 21:00: closed until 08:00 next day
    ],
)
def test_a_recipient_on_each_side_of_the_boundary(sandbox, at, open_):
    out = batch(NY[:1], quiet_hours=WINDOW, clock=clock(at))
    if open_:
        assert out["deferred"] == 0 and scheduled(sandbox) == {NY[0]: None}
    else:
        expected = (
            (at + dt.timedelta(minutes=1)) if at.hour == 12 else dt.datetime(Y, 1, 13, 13, 0, tzinfo=dt.timezone.utc)
        )
        assert out["deferred_until"] == {expected.strftime("%Y%m%dT%H%M%S+0000"): 1}


def test_a_prefix_spanning_two_zones_waits_for_both(sandbox):
    # +1 907 (Alaska) spans America/Anchorage and America/Adak, an hour behind: 08:00 in Adak is 18:00 UTC.
    out = batch(
        ["+19075550101"], quiet_hours=WINDOW, clock=clock(dt.datetime(Y, 1, 12, 17, 30, tzinfo=dt.timezone.utc))
    )
    assert out["deferred_until"] == {f"{Y}0112T180000+0000": 1}


def test_a_stricter_state_window_applies_to_that_state_only(sandbox):
    at = dt.datetime(Y, 1, 13, 1, 30, tzinfo=dt.timezone.utc)  # 20:30 in New York and in Miami
    out = batch(
        [NY[0], "+13055550101"],
        quiet_hours=WINDOW,
        quiet_hours_overrides={"US-FL": ("08:00", "20:00")},
        clock=clock(at),
    )
    assert out["deferred_until"] == {f"{Y}0113T130000+0000": 1}
    assert scheduled(sandbox)[NY[0]] is None


def test_skip_and_fail(sandbox):
    out = batch(NY + LA, quiet_hours=WINDOW, quiet_hours_action="skip")
    assert (out["sent"], out["quiet_hours_skipped"], out["deferred"]) == (3, 3, 0)
    assert sorted(scheduled(sandbox)) == sorted(NY)
    sandbox.reset()
    with pytest.raises(MtaValidationError, match=r"quiet_hours: 3 recipient\(s\) are outside 08:00-21:00") as info:
        batch(NY + LA, quiet_hours=WINDOW, quiet_hours_action="fail")
    assert f"America/Los_Angeles until {Y}-01-12 16:00 UTC" in str(info.value) and sandbox.messages() == []


def test_the_batch_default_comes_from_airflow_config(sandbox, monkeypatch):
    monkeypatch.delenv("AIRFLOW__MTA__QUIET_HOURS")  # the suite turns it off; unset, the default 08:00-21:00 holds
    out = batch(NY + LA)
    assert out["deferred_until"] == {LA_OPENS: 3}
    sandbox.reset()
    monkeypatch.setenv("AIRFLOW__MTA__QUIET_HOURS", "09:45-17:00")
    monkeypatch.setenv("AIRFLOW__MTA__QUIET_HOURS_ACTION", "skip")
    out = batch(NY + LA)
    assert (out["sent"], out["quiet_hours_skipped"]) == (0, 6)  # 09:30 in New York is before 09:45
    sandbox.reset()
    out = batch(NY + LA, quiet_hours=None)  # a task's own argument wins
    assert out["sent"] == 6 and out["deferred"] == 0


def test_emails_are_not_held_back_and_the_log_says_so(sandbox, capsys):
    out = batch(["ann@example.com", LA[0]], quiet_hours=WINDOW)
    assert out["deferred"] == 1 and scheduled(sandbox)["ann@example.com"] is None
    assert "1 recipient(s) are emails, whose location MTA alone knows" in capsys.readouterr().out


def test_send_sms_operator_defers_one_request_until_every_window_is_open(sandbox):
    out = send(subscribers=[NY[0], LA[0]], quiet_hours=WINDOW)
    assert (out["deferred"], out["deferred_until"], out["total_sent"]) == (2, LA_OPENS, 2)
    assert set(scheduled(sandbox).values()) == {f"{Y}-01-12T16:00:00.000Z"}
    sandbox.reset()
    out = send(subscribers=[NY[0], LA[0]], quiet_hours=WINDOW, quiet_hours_action="skip")
    assert out["quiet_hours_skipped"] == 1 and list(scheduled(sandbox)) == [NY[0]]
    with pytest.raises(MtaValidationError, match=r"quiet_hours: 1 recipient\(s\) are outside"):
        send(subscribers=[NY[0], LA[1]], quiet_hours=WINDOW, quiet_hours_action="fail")
    with pytest.raises(MtaValidationError, match="quiet_hours: needs subscribers"):
        send(groups=[1], quiet_hours=WINDOW)
    assert len(sandbox.messages()) == 1


def test_a_retry_after_the_window_opened_reuses_the_request_id(sandbox):
    first = send(subscribers=[LA[0]], quiet_hours=WINDOW)  # scheduled for 16:00
    again = send(subscribers=[LA[0]], quiet_hours=WINDOW, clock=clock(NOW + dt.timedelta(hours=2)))  # now open
    assert again["already_sent"] is True and again["request_id"] == first["request_id"]
    assert len(sandbox.messages()) == 1


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"quiet_hours": WINDOW, "quiet_hours_action": "later"}, "quiet_hours_action"),
        ({"quiet_hours": ("8am", "9pm")}, "quiet_hours"),
        ({"quiet_hours": ("21:00", "21:00")}, "quiet_hours"),
        ({"quiet_hours": WINDOW, "quiet_hours_overrides": {"US-XX": WINDOW}}, "quiet_hours_overrides"),
    ],
)
@pytest.mark.parametrize("operator", [BatchPersonalizedSmsOperator, SendSmsOperator])
def test_bad_quiet_hours_fail_when_the_dag_is_parsed_naming_the_parameter(operator, kw, field):
    source = {"rows": [{"phone": NY[0]}]} if operator is BatchPersonalizedSmsOperator else {"subscribers": NY[:1]}
    with pytest.raises(MtaValidationError, match=rf"^{field}") as info:
        operator(task_id="t", message="Hi", **source, **kw)
    assert info.value.field == field
