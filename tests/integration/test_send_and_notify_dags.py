"""SendSmsOperator and MtaNotifier under real Airflow (`airflow dags test`) against the sandbox ledger."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from tests.conftest import API_KEY

pytestmark = pytest.mark.integration


def test_send_renders_jinja_and_liquid_pushes_xcom_and_pages_on_call(run_dag, sandbox):
    result = run_dag("mta_it_send")
    assert result.returncode != 0  # the DAG's last task fails on purpose
    assert "ValueError: the nightly load failed" in result.log  # the original error is not hidden

    rows = sandbox.messages()
    texts = {r["to"]: r["text"] for r in rows}
    today = dt.datetime.now(dt.timezone.utc).date().isoformat()
    assert texts["+13175551111"] == f"Hi Ann, Acme report for {today} is ready"
    assert texts["+13175552222"] == f"Hi Bob, Acme report for {today} is ready"
    page = texts["+13175559999"]
    assert page.startswith("Airflow FAILED: mta_it_send.boom try 1")
    assert len(page) <= 160
    assert len(rows) == 3

    xcom = result.out
    assert xcom is not None and set(xcom) >= {"message_id", "outbound_ids", "total_sent", "credits"}
    assert xcom["total_sent"] == 2 and xcom["credits"] == 2 and not xcom["already_sent"]
    sent_ids = sorted(r["outboundId"] for r in rows if r["to"] != "+13175559999")
    assert sorted(xcom["outbound_ids"]) == sent_ids
    assert "***1111" in result.log and "+13175551111" not in result.log  # masked in task logs
    assert API_KEY not in result.log


def test_airflow_retry_after_committed_but_dropped_answer_texts_each_recipient_once(run_dag, sandbox):
    sandbox.fault("drop_after_commit", count=1)
    result = run_dag("mta_it_retry", conn_extra={"max_retries": 0})
    assert result.succeeded, result.log[-4000:]
    counts = Counter(r["to"] for r in sandbox.messages())
    assert counts == {"+13175551111": 1, "+13175552222": 1, "+13175553333": 1, "+13175558888": 1}
    (retry_page,) = sandbox.messages(to="+13175558888")
    assert retry_page["text"].startswith("Airflow UP FOR RETRY: mta_it_retry.send try 1")
    assert "already sent" in result.log.lower()
    assert result.out is not None and result.out["already_sent"] is True


def test_client_retry_after_committed_but_dropped_answer_texts_each_recipient_once(run_dag, sandbox):
    sandbox.fault("drop_after_commit", count=1)
    result = run_dag("mta_it_retry", conn_extra={"max_retries": 3})
    assert result.succeeded, result.log[-4000:]
    assert Counter(r["to"] for r in sandbox.messages()) == {
        "+13175551111": 1,
        "+13175552222": 1,
        "+13175553333": 1,
    }
    assert len({r["requestId"] for r in sandbox.messages()}) == 1
