"""The connection extra rate_limit_conn_id and the hook's send_priority reach the clients (no Redis needed:
the Redis connection is read when the first send asks)."""

from __future__ import annotations

import pytest

from airflow_provider_mta.core.errors import MtaConfigError
from airflow_provider_mta.core.pacing import Pacer
from airflow_provider_mta.core.shared_pacing import SharedPacer
from airflow_provider_mta.hooks.sms import get_sms_hook
from tests.conftest import mta_conn_json, telnyx_conn_json

BASE = "http://127.0.0.1:1/v3"


def test_without_the_extra_each_process_paces_alone(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_MTA_PLAIN", mta_conn_json(BASE, send_rate_limit="5/2"))
    hook = get_sms_hook("mta_plain")
    assert hook.settings.rate_limit_conn_id is None
    pacer = hook.get_conn().send_pacer
    assert isinstance(pacer, Pacer) and str(pacer.limit) == "5/2"
    assert hook.get_conn().send_priority is False


def test_the_extra_shares_the_limit_through_redis(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_MTA_SHARED", mta_conn_json(BASE, rate_limit_conn_id="redis_limit"))
    hook = get_sms_hook("mta_shared")
    assert hook.settings.rate_limit_conn_id == "redis_limit"
    pacer = hook.get_conn().send_pacer
    assert isinstance(pacer, SharedPacer) and str(pacer.limit) == "25/15"  # MTA's default limit, shared
    assert pacer.connector.description == "connection 'redis_limit'"
    assert get_sms_hook("mta_shared").get_conn().send_pacer is pacer  # one per process


def test_telnyx_without_a_limit_has_nothing_to_share(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_TX_NOLIMIT", telnyx_conn_json(BASE, rate_limit_conn_id="redis_limit"))
    assert get_sms_hook("tx_nolimit").get_conn().send_pacer is None
    monkeypatch.setenv(
        "AIRFLOW_CONN_TX_LIMIT", telnyx_conn_json(BASE, rate_limit_conn_id="redis_limit", send_rate_limit="10/1")
    )
    assert isinstance(get_sms_hook("tx_limit").get_conn().send_pacer, SharedPacer)


async def test_send_priority_page_reaches_sync_and_async_clients(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_MTA_PAGE", mta_conn_json(BASE))
    hook = get_sms_hook("mta_page", send_priority="page")
    assert hook.get_conn().send_priority is True
    async with await hook.aget_conn() as client:
        assert client.send_priority is True


def test_send_priority_must_be_known(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_MTA_PAGE", mta_conn_json(BASE))
    with pytest.raises(MtaConfigError, match="send_priority"):
        get_sms_hook("mta_page", send_priority="urgent")


def test_the_notifier_pages_with_priority(monkeypatch):
    from airflow_provider_mta.notifications.mta import MtaNotifier

    assert MtaNotifier(subscribers=["+13175551111"]).sender.hook_params == {"send_priority": "page"}
    notifier = MtaNotifier(subscribers=["+13175551111"], fallback_conn_ids=["telnyx_oncall"])
    assert notifier.sender.hook_params["send_priority"] == "page"
