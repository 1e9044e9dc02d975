"""SendSmsOperator(fallback_conn_ids=...) against the sandbox: clean failures fail over, ambiguous ones do not."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from airflow_provider_mta.core.errors import MtaConfigError, MtaTransportError, MtaUnauthorizedError
from airflow_provider_mta.operators.send import SendSmsOperator
from tests.conftest import mta_conn_json, telnyx_conn_json

TO = "+13175551111"
CONTEXT = {"ti": SimpleNamespace(dag_id="d", task_id="send", run_id="r1", map_index=-1), "params": {}}


@pytest.fixture
def vendors(sandbox, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_MTA_DEFAULT",
        mta_conn_json(sandbox.base_url, api_key=sandbox.api_key, send_rate_limit="0", max_retries=1, timeout=1),
    )
    monkeypatch.setenv("AIRFLOW_CONN_TELNYX_BACKUP", telnyx_conn_json(sandbox.telnyx_base_url, api_key=sandbox.api_key))
    return sandbox


def run(**kw):
    op = SendSmsOperator(task_id="send", subscribers=[TO], message="Your order shipped", **kw)
    op.render_template_fields(CONTEXT)
    return op.execute(CONTEXT)


def texts(sandbox, provider):
    return [(m["to"], m["text"]) for m in sandbox.messages(provider=provider)]


def test_healthy_primary_sends_alone(vendors):
    out = run(fallback_conn_ids=["telnyx_backup"])
    assert out["provider"] == "mta" and "failover" not in out
    assert texts(vendors, "mta") == [(TO, "Your order shipped")] and texts(vendors, "telnyx") == []


@pytest.mark.parametrize(("fault", "status"), [("status", 402), ("rate_limit", None)])
def test_a_vendor_that_cannot_text_hands_over_and_exactly_one_texts(vendors, fault, status):
    vendors.fault(fault, count=10, status=status)
    out = run(fallback_conn_ids=["telnyx_backup"])
    assert out["provider"] == "telnyx" and out["total_sent"] == 1
    assert out["failover"][0].startswith("mta_default (mta): down: ") and out["failover"][-1].endswith(": sent")
    assert texts(vendors, "mta") == [] and texts(vendors, "telnyx") == [(TO, "Your order shipped")]


def test_an_ambiguous_failure_is_not_failed_over_by_default(vendors):
    vendors.fault("drop_after_commit", count=5)
    with pytest.raises(MtaTransportError):
        run(fallback_conn_ids=["telnyx_backup"], request_id="amb-1")
    assert len(texts(vendors, "mta")) == 1 and texts(vendors, "telnyx") == []


def test_failover_on_ambiguous_resends_through_the_fallback(vendors):
    vendors.fault("status", count=10, status=503)
    out = run(fallback_conn_ids=["telnyx_backup"], failover_on_ambiguous=True)
    assert out["provider"] == "telnyx" and out["failover"][0].startswith("mta_default (mta): ambiguous: ")
    assert texts(vendors, "telnyx") == [(TO, "Your order shipped")]


def test_every_vendor_down_fails_the_task_with_the_last_error(vendors, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_TELNYX_BACKUP", telnyx_conn_json(vendors.telnyx_base_url, api_key="revoked"))
    vendors.fault("status", count=10, status=402)
    with pytest.raises(MtaUnauthorizedError, match="Telnyx answered HTTP 401"):
        run(fallback_conn_ids=["telnyx_backup"])
    assert vendors.messages() == []


def test_a_fallback_that_cannot_carry_the_request_fails_before_anything_is_sent(vendors):
    op = SendSmsOperator(
        task_id="send", subscribers=[TO], message="hi", header="Acme", fallback_conn_ids=["telnyx_backup"]
    )
    op.render_template_fields(CONTEXT)
    with pytest.raises(
        MtaConfigError, match=r"fallback_conn_ids: connection 'telnyx_backup' cannot send this request: .*header"
    ):
        op.execute(CONTEXT)
    assert vendors.messages() == []


def test_a_missing_or_non_sms_fallback_fails_before_anything_is_sent(vendors, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", '{"conn_type": "postgres", "host": "127.0.0.1"}')
    with pytest.raises(MtaConfigError, match=r"'nope'.*cannot be used"):
        run(fallback_conn_ids=["nope"])
    with pytest.raises(MtaConfigError, match=r"'warehouse'.*no SMS API"):
        run(fallback_conn_ids=["warehouse"])
    assert vendors.messages() == []


def test_fallback_conn_ids_checked_at_parse_time():
    with pytest.raises(MtaConfigError, match="names the primary"):
        SendSmsOperator(task_id="s", subscribers=[TO], message="hi", fallback_conn_ids=["mta_default"])


def test_each_send_tries_the_primary_first(vendors):
    """No circuit breaker between tasks' sends: after MTA failed once, the next send still tries MTA first."""
    vendors.fault("status", count=1, status=402)  # a 402 is not retried: one fault, one failed send
    assert run(fallback_conn_ids=["telnyx_backup"], request_id="one")["provider"] == "telnyx"
    assert run(fallback_conn_ids=["telnyx_backup"], request_id="two")["provider"] == "mta"
