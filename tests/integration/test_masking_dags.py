"""No full phone number of a recipient in the metadata database (rendered template fields, XCom, task
instances, ... every table) or in the task logs, from any of the provider's operators, under ``airflow dags test``.

The masking rule: numbers a person or the UI can read keep only their last 4 digits (``***0601``). The only
place allowed to hold them in full is the XCom of the DAG's own tasks that produced them.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

LAST4 = (601, 602, 603, 604, 611, 612, 613, 621, 622)
# E.164, the bare national number, or the national number with separators: "(503) 555-0601", "503.555.0601"
FULL = re.compile(r"(?<!\d)(?:\+?1\W{0,2})?503\W{0,2}555\W?06(?:0[1-4]|1[1-3]|2[12])(?!\d)")


def full_numbers(text: str) -> list[str]:
    return sorted(set(FULL.findall(text)))


def test_the_pattern_finds_every_form_and_spares_masked_numbers() -> None:
    found = full_numbers("+15035550601 (503) 555-0602 5035550603 503.555.0604 +1 503 555 0611")
    assert len(found) == 5, found
    assert not full_numbers("***0601 ***0612 outbound 15035550699 id 5035550600")


def _metadata_text(db: Path) -> dict[str, str]:
    """Every row of every table, as text; the XCom of the tasks producing the numbers (the DAG's data) left out."""
    out: dict[str, str] = {}
    with sqlite3.connect(db) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            columns = [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]
            rows = conn.execute(f'SELECT * FROM "{table}"').fetchall()
            if table == "xcom":
                task_id = columns.index("task_id")
                rows = [r for r in rows if r[task_id] not in ("numbers", "mapped_numbers")]
            out[table] = "\n".join(repr(r) for r in rows)
    return out


def test_no_full_number_in_the_database_or_the_logs(run_dag: Any, sandbox: Any, airflow_home: Path) -> None:
    result = run_dag("mta_it_masking")
    assert result.succeeded, result.log[-5000:]
    out = result.out
    assert out is not None
    # the values sent stay exact: every number in full, the suppressed ones left out, properties applied
    sent = {m["to"]: m.get("text", m.get("message")) for m in sandbox.messages()}
    assert sorted(sent) == ["+15035550601", "+15035550602", "+15035550603", "+15035550611", "+15035550612",
                            "+15035550621", "+15035550622"], sent  # fmt: skip
    assert out["batch"]["sent"] == 3 and out["batch"]["suppressed"] == 1 and out["send"]["total_sent"] == 2
    assert "Hi Ann" in sent["+15035550601"] and "Hello Flo" in sent["+15035550612"], sent

    rows = _metadata_text(airflow_home / "airflow.db")
    problems = {table: found for table, text in rows.items() if (found := full_numbers(text))}
    logs_dir = airflow_home / "logs" / "dag_id=mta_it_masking"
    logs = {str(p): p.read_text(errors="replace") for p in logs_dir.rglob("*") if p.is_file()}
    logs["airflow dags test output"] = result.log
    problems |= {name: found for name, text in logs.items() if (found := full_numbers(text))}
    assert not problems, f"full phone numbers (only ***1234 may appear): {problems}"
    rendered = rows["rendered_task_instance_fields"]  # the Rendered Templates tab: masked, still readable
    for shown in ("***0601", "***0604", "***0611", "***0613", "***0622", '"first_name": "Ann"', "call ***0602"):
        assert shown in rendered, (shown, rendered[-3000:])
