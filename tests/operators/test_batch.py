"""BatchPersonalizedSmsOperator in-process against the sandbox over loopback, with real SQLite and PostgreSQL.

The task state store is a dict here; tests/integration runs the same operator under real Airflow.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_mta.core.checkpoint import MtaSourceChangedError
from airflow_provider_mta.core.errors import MtaTransportError, MtaValidationError
from airflow_provider_mta.operators.batch import BatchPersonalizedSmsOperator
from tests.conftest import mta_conn_json
from tests.reliability.helpers import StateStore


def context(store: StateStore | None = None, try_number: int = 1) -> dict[str, Any]:
    ti = SimpleNamespace(dag_id="d", task_id="batch", run_id="r1", map_index=-1, try_number=try_number)
    return {
        "ds": "2025-03-06",
        "params": {"shop": "Acme"},
        "ti": ti,
        "task_state_store": store if store is not None else StateStore(),
    }


def run(ctx: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
    ctx = ctx or context()
    op = BatchPersonalizedSmsOperator(task_id="batch", **kw)
    op.render_template_fields(ctx)
    return op.execute(ctx)


def people(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [{"phone": f"317555{1000 + i}", "first_name": f"P{i}", "plan": "gold"} for i in range(start, start + n)]


def texts(sandbox) -> Counter:
    return Counter(m["to"] for m in sandbox.messages())


def test_xcom_rows_are_sent_in_chunks_personalized_once_each(sandbox):
    rows = [*people(7), {"phone": "nope", "first_name": "X"}, {"phone": "+13175551000", "first_name": "Dup"}]
    out = run(
        rows=rows,
        message="Hi {{ first_name }}, your {{ plan }} plan at {{ params.shop }} renews {{ ds }}",
        chunk_size=3,
        on_invalid="skip",
    )
    assert {
        k: out[k] for k in ("rows", "recipients", "sent", "invalid", "duplicates", "skipped", "chunks", "credits")
    } == {"rows": 9, "recipients": 7, "sent": 7, "invalid": 1, "duplicates": 1, "skipped": 2, "chunks": 3, "credits": 7}
    assert len(out["message_ids"]) == 3 and len(out["outbound_ids"]) == 7
    ledger = sandbox.messages()
    assert texts(sandbox) == Counter(f"+1317555{1000 + i}" for i in range(7))
    first = next(m for m in ledger if m["to"] == "+13175551000")
    assert first["text"] == "Hi P0, your gold plan at Acme renews 2025-03-06"
    assert len({m["requestId"] for m in ledger}) == 3
    assert len(json.dumps(out)) < 2000  # no rows in XCom


def test_validation_failures_send_nothing(sandbox):
    with pytest.raises(MtaValidationError, match=r"rows: 1 of 8 row\(s\) have no valid recipient: row 8: "):
        run(rows=[*people(7), {"phone": "12", "first_name": "X", "plan": "p"}], message="Hi {{ first_name }}")
    with pytest.raises(MtaValidationError, match=r"lack a value: row 2 \(\*\*\*1001\): lacks first_name"):
        run(rows=[people(1)[0], {"phone": "3175551001", "first_name": None}], message="Hi {{ first_name }}")
    with pytest.raises(MtaValidationError, match=r"\{\{ frist \}\} is neither an Airflow context name nor a property"):
        run(rows=people(2), message="Hi {{ frist }}")
    with pytest.raises(MtaValidationError, match="max_credits: the batch would use an estimated 14 credits"):
        run(rows=people(7), message="Hi {{ first_name }} " + "ж" * 80, max_credits=10)  # UCS-2, 2 parts each
    assert sandbox.messages() == []


def test_dry_run_reports_estimate_and_previews_and_sends_nothing(sandbox):
    out = run(rows=people(4), message="Hi {{ first_name }} 😀", dry_run=True)
    assert out["dry_run"] is True and out["recipients"] == 4 and out["credits"] == 4
    assert out["previews"][0] == {"to": "***1000", "text": "Hi P0 😀", "parts": 1}
    assert sandbox.messages() == []


def test_retry_resumes_after_the_last_confirmed_chunk_and_a_lost_answer_is_not_resent(sandbox, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_MTA_DEFAULT", mta_conn_json(sandbox.base_url, send_rate_limit="0", max_retries=0))
    store = StateStore()
    op = BatchPersonalizedSmsOperator(task_id="batch", rows=people(10), message="Hi {{ first_name }}", chunk_size=3)
    real_send, calls = op.hook.send, []

    def send(request, *, request_id=None):
        calls.append(request_id)
        if len(calls) == 2:
            sandbox.fault("drop_after_commit")  # chunk 2 is recorded by MTA, its answer never arrives
        return real_send(request, request_id=request_id)

    monkeypatch.setattr(op.hook, "send", send)
    ctx = context(store)
    op.render_template_fields(ctx)
    with pytest.raises(MtaTransportError):
        op.execute(ctx)
    assert store["mta_batch_checkpoint"]["confirmed"] == 1
    assert len(sandbox.messages()) == 6  # chunks 1 and 2 reached MTA

    out = run(context(store, try_number=2), rows=people(10), message="Hi {{ first_name }}", chunk_size=3)
    assert out["sent"] == 10 and out["resumed_from_chunk"] == 1 and out["already_sent_chunks"] == 1
    assert texts(sandbox) == Counter(f"+1317555{1000 + i}" for i in range(10))  # each exactly once
    assert store["mta_batch_checkpoint"]["completed"] is True

    again = run(context(store, try_number=3), rows=people(10), message="Hi {{ first_name }}", chunk_size=3)
    assert again["sent"] == 10 and len(sandbox.messages()) == 10


def test_a_retry_with_changed_rows_says_so_and_sends_nothing(sandbox, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_MTA_DEFAULT", mta_conn_json(sandbox.base_url, send_rate_limit="0", max_retries=0))
    store = StateStore()
    op = BatchPersonalizedSmsOperator(task_id="batch", rows=people(6), message="Hi {{ first_name }}", chunk_size=3)
    real_send = op.hook.send
    calls = []

    def send(request, *, request_id=None):
        calls.append(1)
        if len(calls) == 2:
            sandbox.fault("status", status=503)
        return real_send(request, request_id=request_id)

    monkeypatch.setattr(op.hook, "send", send)
    ctx = context(store)
    op.render_template_fields(ctx)
    with pytest.raises(Exception, match="503"):
        op.execute(ctx)
    assert len(sandbox.messages()) == 3
    with pytest.raises(MtaSourceChangedError, match=r"had confirmed 1 of 2 chunk\(s\) \(3 recipient\(s\)\)"):
        run(
            context(store, try_number=2),
            rows=people(5) + people(1, start=50),
            message="Hi {{ first_name }}",
            chunk_size=3,
        )
    assert len(sandbox.messages()) == 3


def test_chunk_size_of_the_first_try_is_kept_on_resume(sandbox):
    store = StateStore()
    plan_only = run(context(store), rows=people(5), message="Hi {{ first_name }}", chunk_size=2)
    assert plan_only["chunks"] == 3
    again = run(context(store, try_number=2), rows=people(5), message="Hi {{ first_name }}", chunk_size=4)
    assert again["chunk_size"] == 2 and len(sandbox.messages()) == 5


@pytest.fixture
def sqlite_customers(tmp_path, monkeypatch):
    path = tmp_path / "customers.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, mobile TEXT, fname TEXT, balance REAL, active INT)")
    db.executemany(
        "INSERT INTO customers (mobile, fname, balance, active) VALUES (?, ?, ?, ?)",
        [(f"(317) 555-{2000 + i}", f"C{i}", i * 1.5, i % 2) for i in range(40)],
    )
    db.commit()
    db.close()
    monkeypatch.setenv("AIRFLOW_CONN_CUSTOMERS_DB", json.dumps({"conn_type": "sqlite", "host": str(path)}))
    return path


def test_sqlite_source_with_parameters_and_renamed_columns(sandbox, sqlite_customers):
    out = run(
        sql="SELECT mobile, fname, balance FROM customers WHERE active = ? ORDER BY id",
        parameters=[1],
        conn_id="customers_db",
        phone_column="mobile",
        rename_columns={"fname": "first_name"},
        message="{{ first_name }}, balance {{ balance }}",
        chunk_size=7,
        fetch_size=6,
    )
    assert out["recipients"] == 20 and out["sent"] == 20 and out["chunks"] == 3
    ledger = {m["to"]: m["text"] for m in sandbox.messages()}
    assert ledger["+13175552001"] == "C1, balance 1.5" and len(ledger) == 20


def test_a_non_sql_connection_is_a_clear_error(sandbox):
    with pytest.raises(Exception, match="'mta_default' has a MtaHook, not a SQL"):
        run(sql="SELECT 1", conn_id="mta_default", message="x")
    assert sandbox.messages() == []


def test_constructor_rejects_ambiguous_sources():
    with pytest.raises(ValueError, match="exactly one of rows"):
        BatchPersonalizedSmsOperator(task_id="b", message="x")
    with pytest.raises(ValueError, match="exactly one of rows"):
        BatchPersonalizedSmsOperator(task_id="b", message="x", rows=[], sql="select 1", conn_id="c")
    with pytest.raises(ValueError, match="chunk_size must be between 1 and 1000"):
        BatchPersonalizedSmsOperator(task_id="b", message="x", rows=[], chunk_size=5000)


def test_no_rows_is_a_quiet_success(sandbox):
    out = run(rows=[], message="Hi {{ first_name }}")
    assert out["recipients"] == 0 and out["sent"] == 0 and sandbox.messages() == []


@pytest.fixture
def pg_customers(postgres_uri, monkeypatch):
    import psycopg2

    conn = psycopg2.connect(postgres_uri)
    with conn, conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS mta_op_customers")
        cur.execute("CREATE TABLE mta_op_customers (id serial PRIMARY KEY, phone text, first_name text, points int)")
        cur.execute(
            "INSERT INTO mta_op_customers (phone, first_name, points) "
            "SELECT '+1317' || lpad((5550000 + g)::text, 7, '0'), 'N' || g, g FROM generate_series(0, 9999) g"
        )
    conn.close()
    monkeypatch.setenv("AIRFLOW_CONN_CUSTOMERS_PG", postgres_uri.replace("postgresql://", "postgres://"))
    yield
    conn = psycopg2.connect(postgres_uri)
    with conn, conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS mta_op_customers")
    conn.close()


@pytest.mark.postgres
def test_postgres_source_streams_through_a_server_side_cursor(sandbox, pg_customers):
    from airflow_provider_mta.utils import sql_rows

    opened = []
    real = sql_rows._cursor

    def spy(hook, conn, fetch_size):
        cur = real(hook, conn, fetch_size)
        opened.append(getattr(cur, "name", None))
        return cur

    import unittest.mock

    with unittest.mock.patch.object(sql_rows, "_cursor", spy):
        out = run(
            sql="SELECT phone, first_name, points FROM mta_op_customers ORDER BY id",
            conn_id="customers_pg",
            message="Hi {{ first_name }}, you have {{ points }} points",
            chunk_size=1000,
            fetch_size=2000,
        )
    assert opened == ["mta_batch_rows"]  # a named (server-side) cursor
    assert out["recipients"] == 10_000 and out["sent"] == 10_000 and out["chunks"] == 10
    assert out["outbound_ids"] is None and len(out["message_ids"]) == 10  # too many ids for XCom
    ledger = sandbox.messages()
    assert len(ledger) == 10_000 and len({m["to"] for m in ledger}) == 10_000
    assert {m["text"] for m in ledger if m["to"] == "+13175559999"} == {"Hi N9999, you have 9999 points"}


def test_verify_cost_asks_mta_for_the_first_chunk_and_sends_when_it_agrees(sandbox, capsys):
    out = run(rows=people(5), message="Hi {{ first_name }} 😀", chunk_size=2, verify_cost=True)
    assert out["sent"] == 5
    assert "verify_cost: MTA prices the first 2 recipient(s) at 2 credit(s), as estimated" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("quoted", "kw", "error"),
    [
        (
            9,
            {},
            r"verify_cost: MTA's /send/cost says 9 credit\(s\) for the first 3 recipient\(s\), the local estimate 3",
        ),
        (4, {"cost_tolerance": 0.5, "max_credits": 9}, r"max_credits: the batch would use about \(MTA's price\) 10"),
    ],
)
def test_verify_cost_fails_before_sending_when_mta_prices_it_otherwise(sandbox, monkeypatch, quoted, kw, error):
    # The sandbox bills with the provider's own rule, so a different price is simulated at the hook.
    monkeypatch.setattr("airflow_provider_mta.hooks.mta.MtaHook.get_send_cost", lambda self, request: quoted)
    with pytest.raises(MtaValidationError, match=error):
        run(rows=people(7), message="Hi {{ first_name }}", chunk_size=3, verify_cost=True, **kw)
    assert sandbox.messages() == []


def test_the_log_of_a_big_batch_is_a_few_progress_lines_with_a_sane_rate(sandbox, monkeypatch, capsys):
    """Every 10 %: a progress line (rate and ETA after a few chunks); chunks at DEBUG; 429 retries counted."""
    import re
    from types import SimpleNamespace

    from airflow_provider_mta.core.retry import RetryPolicy
    from airflow_provider_mta.operators import batch as batch_module

    monkeypatch.setenv("AIRFLOW_CONN_MTA_DEFAULT", mta_conn_json(sandbox.base_url, send_rate_limit="0", max_retries=5))
    monkeypatch.setattr(RetryPolicy, "wait", lambda self, state: 0.01)
    ticks = iter(range(10_000))  # a clock going 0.5 s per reading: the first chunks take no real time here
    monkeypatch.setattr(batch_module, "time", SimpleNamespace(monotonic=lambda: next(ticks) * 0.5))
    sandbox.fault("rate_limit", count=3, after=5)  # chunk 6 answered 429 three times, then sent
    out = run(rows=people(2_000), message="Hi {{ first_name }}", chunk_size=50, quiet_hours=None)
    assert out["sent"] == 2_000 and out["chunks"] == 40 and len(sandbox.messages()) == 2_000

    logged = re.findall(r"^\S+ \[(\w+) *\] (.*?) \[[\w.]+\] loc=", capsys.readouterr().out, re.MULTILINE)
    info = [text for level, text in logged if level == "info"]
    progress = [line for line in info if line.startswith("Progress:")]
    assert len(progress) == 9, info  # 10 %, 20 %, ... 90 %; the last chunk is the "Batch done" line
    shape = re.compile(
        r"Progress: ([\d,]+)/2,000 recipients \((\d+)%\), chunk (\d+)/40, ~[\d,]+/2,000 credits, "
        r"(rate and ETA after a few more chunks|[\d,.]+ recipients/s, ETA \d+s)"
        r"(; 3 retries after a 429 \(rate limited\))?$"
    )
    matches = [shape.match(line) for line in progress]
    assert all(matches), progress
    assert [m.group(2) for m in matches if m] == ["10", "20", "30", "40", "50", "60", "70", "80", "90"]
    rate = re.search(r"([\d.]+) recipients/s, ETA (\d+)s", progress[0])
    assert rate, progress[0]  # after 4 chunks of 0.5 s: 200 recipients in about 2 s
    assert 50 <= float(rate.group(1)) <= 200 and 5 <= int(rate.group(2)) <= 60, progress[0]
    assert sum("3 retries after a 429" in line for line in progress) == 1, progress
    done = [line for line in info if line.startswith("Batch done:")]
    assert len(done) == 1, info
    assert re.match(
        r"Batch done: 2,000 recipient\(s\) in 40 chunk\(s\) in \d+s, [\d,]+ recipients/s, 3 retries after a 429",
        done[0],
    ), done
    assert not [line for line in info if "Sending" in line]  # one line per chunk: DEBUG only
    assert not [text for level, text in logged if level != "info" and "429" in text]  # counted, not one line each
    for line in info:  # one number format: 2,000 (a masked ***1234 is not a number)
        assert not re.search(r"(?<![\d,.*])\d{4,}", line), line
