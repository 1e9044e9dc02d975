"""What a user writes is what each phone receives: context-name columns, Liquid on the values MTA gets,
odd values (NaN, blanks, containers, huge numbers), email spellings, and clear errors instead of crashes."""

from __future__ import annotations

import datetime as dt
import math
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_mta.core.errors import MtaValidationError
from airflow_provider_mta.operators.batch import BatchPersonalizedSmsOperator
from airflow_provider_mta.operators.send import SendSmsOperator
from tests.reliability.helpers import StateStore

pytestmark = pytest.mark.integration

ANN, BO = "+13175550101", "+13175550102"


def context() -> dict[str, Any]:
    ti = SimpleNamespace(dag_id="d", task_id="t", run_id="r1", map_index=-1, try_number=1)
    return {"ds": "2025-03-06", "ts": "2025-03-06T00:00:00+00:00", "params": {}, "ti": ti,
            "task": "the Airflow task", "task_state_store": StateStore()}  # fmt: skip


def batch(rows: Any, message: str, **kw: Any) -> dict[str, Any]:
    op = BatchPersonalizedSmsOperator(task_id="t", rows=rows, message=message, **kw)
    ctx = context()
    op.render_template_fields(ctx)
    return op.execute(ctx)


def send(**kw: Any) -> dict[str, Any]:
    kw.setdefault("subscribers", [ANN])
    op = SendSmsOperator(task_id="t", **kw)
    ctx = context()
    op.render_template_fields(ctx)
    return op.execute(ctx)


def delivered(sandbox) -> dict[str, str]:
    return {m["to"]: m["text"] for m in sandbox.messages()}


def test_a_column_named_like_a_context_name_is_filled_by_the_row(sandbox):
    rows = [{"phone": ANN, "task": "Buy milk", "ds": "Friday"}]
    preview = batch(rows, "Todo: {{ task }} by {{ ds }}", dry_run=True)["previews"][0]["text"]
    batch(rows, "Todo: {{ task }} by {{ ds }}")
    assert preview == delivered(sandbox)[ANN] == "Todo: Buy milk by Friday"


@pytest.mark.parametrize(
    ("message", "props"),
    [
        ("{% if vip %}VIP {% endif %}Hi {{ name }}", {"vip": False}),
        ("{% if vip %}VIP {% endif %}Hi {{ name }}", {"vip": True}),
        ("{% if n == 0 %}none{% else %}some{% endif %} for {{ name }}", {"n": 0}),
        ('{% if n == "0" %}none{% else %}some{% endif %} for {{ name }}', {"n": 0}),
        ("{{ name | upcase }} has {{ n | plus: 1 }}", {"n": 41}),
        ("{{ name }}: {{ score }}", {"score": 2.5}),
        ("{% unless vip %}regular{% endunless %} {{ name }}", {"vip": False}),
    ],
)
def test_the_dry_run_shows_exactly_what_is_delivered(sandbox, message, props):
    rows = [{"phone": ANN, "name": "Ann", **props}]
    preview = batch(rows, message, dry_run=True)["previews"][0]["text"]
    batch(rows, message)
    assert delivered(sandbox)[ANN] == preview


def test_a_comparison_mta_cannot_make_fails_before_sending_naming_the_row(sandbox):
    with pytest.raises(MtaValidationError, match=r"message: row 1 \(\*\*\*0101\) does not render"):
        batch([{"phone": ANN, "p": 150}], "{% if p > 100 %}gold{% else %}silver{% endif %}")
    assert sandbox.messages() == []


def test_scheduled_date_is_decided_once_and_a_time_that_comes_mid_batch_sends_now(sandbox, capsys):
    soon = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=30)).strftime("%Y%m%dT%H%M%S+0000")
    out = batch([{"phone": f"+1317555{1000 + i}", "name": "x"} for i in range(5)], "Hi {{ name }}",
                scheduled_date=soon, chunk_size=2)  # fmt: skip
    assert out["sent"] == 5 and {m["scheduledFor"] for m in sandbox.messages()} == {None}
    assert "has come: the remaining chunks are sent now" in capsys.readouterr().out


def test_nan_and_infinity_are_no_value_so_defaults_apply(sandbox):
    rows = [{"phone": ANN, "points": math.nan}, {"phone": BO, "points": math.inf}]
    batch(rows, "You have {{ points }} points", defaults={"points": "no"})
    assert delivered(sandbox) == {ANN: "You have no points", BO: "You have no points"}
    with pytest.raises(MtaValidationError, match=r"row 1 \(\*\*\*0101\): lacks points"):
        batch(rows[:1], "You have {{ points }} points")
    with pytest.raises(MtaValidationError, match=r"properties\['\*\*\*0101'\]\['points'\] is nan"):
        send(message="You have {{ points }}", properties={ANN: {"points": math.nan}})


@pytest.mark.parametrize("name", [" ", "\u200b\u200b", ""])
def test_blank_texts_are_refused(sandbox, name):
    rows = [{"phone": ANN, "name": name}, {"phone": BO, "name": "Bo"}]
    with pytest.raises(MtaValidationError, match=r"row 1 \(\*\*\*0101\): the text is blank"):
        batch(rows, "{{ name }}", defaults={"name": ""})
    out = batch(rows, "{{ name }}", defaults={"name": ""}, on_invalid="skip")
    assert out["sent"] == 1 and out["skipped"] == 1 and delivered(sandbox) == {BO: "Bo"}
    with pytest.raises(MtaValidationError, match=r"message: for \*\*\*0101, the text is blank"):
        send(message="{{ name }}", properties={ANN: {"name": name or " "}})


@pytest.mark.parametrize("value", [{"a": 1}, [1, 2], 10**5000], ids=["dict", "list", "5000-digit int"])
def test_values_mta_would_get_as_python_text_are_refused_naming_row_and_column(sandbox, value):
    with pytest.raises(MtaValidationError, match=r"properties: row 1 \(\*\*\*0101\): column 'extra'"):
        batch([{"phone": ANN, "extra": value}], "Hi {{ extra }}")
    assert sandbox.messages() == []


def test_email_spellings_are_one_recipient(sandbox):
    rows = [{"phone": "Ann@Example.com"}, {"phone": "ann@example.com"}, {"phone": "mailto:ANN@example.com"},
            {"phone": "<ann@example.com>"}]  # fmt: skip
    out = batch(rows, "Hi")
    assert (out["recipients"], out["duplicates"]) == (1, 3) and list(delivered(sandbox)) == ["ann@example.com"]


@pytest.mark.parametrize(
    ("kw", "text"),
    [
        ({"message": "Hi \ud800 there"}, "message: holds a character that is not valid Unicode"),
        ({"message": 42}, "message: must be text, got int"),
        ({"message": b"hi"}, "message: must be text, got bytes"),
        ({"message": ["hi"]}, "message: must be text, got list"),
        ({"message": "Hi {{ n }}", "properties": [ANN]}, "properties"),
        (
            {"message": "Hi {{ n | frobnicate }}", "properties": {ANN: {"n": "x"}}},
            "message: for ***0101, it does not render",
        ),
        ({"message": "Hi {{ n }}", "properties": {ANN: {"n": 10**5000}}}, "more than 100 digits"),
    ],
    ids=["lone-surrogate", "int", "bytes", "list", "properties-list", "unknown-filter", "huge-int"],
)
def test_clear_errors_instead_of_crashes(sandbox, kw, text):  # ids: pytest cannot print a 5000-digit int
    with pytest.raises(MtaValidationError) as info:
        send(**kw)
    assert text in str(info.value)
    assert sandbox.messages() == []


def test_properties_keyed_by_another_spelling_of_a_subscriber(sandbox):
    send(subscribers=[ANN], message="Hi {{ n }}", properties={"(317) 555-0101": {"n": "Ann"}})
    assert delivered(sandbox) == {ANN: "Hi Ann"}


def test_a_sql_column_named_like_a_context_name_is_filled_by_the_row(sandbox, tmp_path, monkeypatch):
    import json
    import sqlite3

    path = tmp_path / "todo.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE todo (phone TEXT, task TEXT)")
    db.execute("INSERT INTO todo VALUES ('(317) 555-0101', 'Buy milk')")
    db.commit()
    monkeypatch.setenv("AIRFLOW_CONN_TODO_DB", json.dumps({"conn_type": "sqlite", "host": str(path)}))
    kw = {"sql": "SELECT phone, task FROM todo", "conn_id": "todo_db"}
    preview = batch(None, "Todo: {{ task }} ({{ ds }})", dry_run=True, **kw)["previews"][0]["text"]
    batch(None, "Todo: {{ task }} ({{ ds }})", **kw)
    assert preview == delivered(sandbox)[ANN] == "Todo: Buy milk (2025-03-06)"
