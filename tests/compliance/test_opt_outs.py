"""Opt-outs that last: suppression lists, the shared opt-out table (SQLite, PostgreSQL), operators and the sensor."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_mta.compliance.opt_out_table import OptOutTable
from airflow_provider_mta.core.errors import MtaConfigError, MtaValidationError
from airflow_provider_mta.core.suppression import SuppressionList
from airflow_provider_mta.operators.batch import BatchPersonalizedSmsOperator
from airflow_provider_mta.operators.send import SendSmsOperator
from airflow_provider_mta.sensors.delivery import MtaDeliverySensor
from tests.conftest import mta_conn_json
from tests.reliability.helpers import StateStore

pytestmark = pytest.mark.integration

ANN, BO, CY = "+13175550101", "+13175550102", "+13175550103"


def context() -> dict[str, Any]:
    ti = SimpleNamespace(dag_id="d", task_id="t", run_id="r1", map_index=-1, try_number=1)
    return {"ds": "2025-03-06", "params": {}, "ti": ti, "task_state_store": StateStore()}


def batch(**kw: Any) -> dict[str, Any]:
    kw.setdefault("rows", [{"phone": n, "name": n[-4:]} for n in (ANN, BO, CY)])
    op = BatchPersonalizedSmsOperator(task_id="t", message="Hi {{ name }}", **kw)
    ctx = context()
    op.render_template_fields(ctx)
    return op.execute(ctx)


def send(**kw: Any) -> dict[str, Any]:
    op = SendSmsOperator(task_id="t", message="Hi", **kw)
    ctx = context()
    op.render_template_fields(ctx)
    return op.execute(ctx)


@pytest.fixture
def sqlite_conn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "optouts.db"
    monkeypatch.setenv("AIRFLOW_CONN_OPTOUTS", json.dumps({"conn_type": "sqlite", "host": str(path)}))
    return path


@pytest.fixture
def postgres_conn(postgres_uri: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AIRFLOW_CONN_OPTOUTS_PG", postgres_uri)
    table = OptOutTable(conn_id="optouts_pg", table="mta_opt_outs_test")
    table.db_hook.run("DROP TABLE IF EXISTS mta_opt_outs_test")
    return "optouts_pg"


def test_a_number_matches_however_it_is_written():
    found = SuppressionList()
    found.add(
        ["(317) 555-0101", "317.555.0102", "not a number", None, {"phone": "1-317-555-0103"}], source="x", region="US"
    )
    assert ANN in found and BO in found and CY in found and len(found) == 3
    assert found.describe() == "3 opted-out recipient(s) (x: 5 read, 2 not a number)"


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_the_opt_out_table_is_created_read_and_added_to_once(backend, request):
    if backend == "sqlite":
        request.getfixturevalue("sqlite_conn")
        table = OptOutTable(conn_id="optouts")
    else:
        table = OptOutTable(conn_id=request.getfixturevalue("postgres_conn"), table="mta_opt_outs_test")
    assert list(table.recipients()) == []
    assert table.record([ANN, BO, ANN], source="test") == 2
    assert table.record([BO, CY], source="test") == 1  # BO is there already
    # Two workers recording the same numbers at once: each stored once, no error.
    results: list[int] = []
    workers = [
        threading.Thread(
            target=lambda: results.append(table.record([f"+1317555{n:04d}" for n in range(200, 260)], source="t"))
        )
        for _ in range(2)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert sum(results) == 60
    assert sorted(table.recipients()) == sorted([ANN, BO, CY, *(f"+1317555{n:04d}" for n in range(200, 260))])


def test_a_bad_table_name_or_connection_fails_naming_it(sandbox, sqlite_conn):
    with pytest.raises(MtaConfigError, match="opt_out_table: 'x; drop table y' is not a table name"):
        OptOutTable(conn_id="optouts", table="x; drop table y")
    with pytest.raises(MtaConfigError, match="conn_id: connection 'mta_default' has a MtaHook, not a SQL"):
        list(OptOutTable(conn_id="mta_default").recipients())


def test_batch_skips_opted_out_numbers_from_a_list_a_query_and_the_table(sandbox, sqlite_conn):
    db = sqlite3.connect(sqlite_conn)
    db.execute("CREATE TABLE unsubscribed (mobile TEXT)")
    db.execute("INSERT INTO unsubscribed VALUES ('(317) 555-0102')")
    db.commit()
    OptOutTable(conn_id="optouts").record([CY], source="test")
    out = batch(suppress=["317-555-0101"])
    assert out["suppressed"] == 1 and out["sent"] == 2
    sandbox.reset()
    out = batch(
        suppress=["317-555-0101"],
        suppress_sql="SELECT mobile FROM unsubscribed",
        suppress_conn_id="optouts",
        opt_out_conn_id="optouts",
    )
    assert (out["suppressed"], out["sent"], out["recipients"]) == (3, 0, 0)
    assert sandbox.messages() == []


def test_an_unreadable_suppression_source_fails_before_anything_is_sent(sandbox, sqlite_conn):
    with pytest.raises(
        MtaValidationError, match=r"suppress_sql: the query on connection 'optouts' failed \(OperationalError"
    ):
        batch(suppress_sql="SELECT nope FROM missing", suppress_conn_id="optouts")
    with pytest.raises(MtaValidationError, match="suppress: expected a list of phone numbers"):
        batch(suppress=3.5)
    with pytest.raises(MtaValidationError, match="suppress_sql: needs suppress_conn_id"):
        send(subscribers=[ANN], suppress_sql="SELECT 1")
    assert sandbox.messages() == []


def test_send_sms_operator_leaves_opted_out_recipients_out(sandbox):
    out = send(subscribers=[ANN, "317 555 0102"], properties=None, suppress=["(317) 555-0102"])
    assert out["suppressed"] == 1 and out["total_sent"] == 1
    assert [m["to"] for m in sandbox.messages()] == [ANN]
    out = send(subscribers=[BO], suppress=[BO])
    assert (out["total_sent"], out["message_id"], out["suppressed"]) == (0, None, 1)
    assert len(sandbox.messages()) == 1


def test_the_sensor_remembers_who_texted_stop_and_the_next_batch_skips_them(sandbox, sqlite_conn, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_MTA_DEFAULT", mta_conn_json(sandbox.base_url, send_rate_limit="0", opt_out_conn_id="optouts")
    )
    sandbox.opt_out("(317) 555-0102")  # Bo texted STOP to the account
    first = batch()
    assert first["sent"] == 3  # nobody knew yet: MTA takes the send and reports Bo as STOPPED
    summary = MtaDeliverySensor(
        task_id="wait", send_result=first, fail_on="never", poll_interval=0.2, deferrable=False
    ).execute({})
    assert summary["statuses"].get("STOPPED_NUMBER") == 1
    assert list(OptOutTable(conn_id="optouts").recipients()) == [BO]
    sandbox.reset()
    second = batch()  # the connection extra names the table: every batch reads it
    assert (second["suppressed"], second["sent"]) == (1, 2)
    assert sorted(m["to"] for m in sandbox.messages()) == [ANN, CY]
