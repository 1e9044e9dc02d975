"""MtaHook's delivery calls (sync and async) against the sandbox over loopback."""

from __future__ import annotations

import pytest

from airflow_provider_mta.backends.mta.client import AsyncMtaClient
from airflow_provider_mta.core.delivery import Outcome
from airflow_provider_mta.core.errors import MtaNotFoundError
from airflow_provider_mta.hooks.mta import MtaHook

pytestmark = pytest.mark.integration
NUMBERS = ["+13175551111", "+13175550010", "+13175552222"]


def test_list_deliveries_of_one_send_page_by_page(sandbox):
    hook = MtaHook()
    first = hook.send_message(subscribers=NUMBERS, message="a")
    hook.send_message(subscribers=["+13175553333"], message="another send")
    page = hook.list_deliveries(message_id=first.message_id, page=1, page_size=2)
    assert (page.page, page.page_size, page.total) == (1, 2, 3)
    second = hook.list_deliveries(message_id=first.message_id, page=2, page_size=2)
    records = page.records + second.records
    assert sorted(r.outbound_id for r in records) == sorted(first.outbound_ids)
    assert {r.message_id for r in records} == {first.message_id}
    by_number = {r.recipient: r.status for r in records}  # delivery delay 0: final at once
    assert by_number["***0010"].name == "INVALID_NUMBER" and by_number["***0010"].outcome is Outcome.FAILED
    assert by_number["***1111"].outcome is Outcome.DELIVERED
    assert hook.list_deliveries().total == 4


def test_delivery_report(sandbox):
    hook = MtaHook()
    sent = hook.send_message(subscribers=NUMBERS, message="a")
    report = hook.get_delivery_report(sent.outbound_ids[1])
    assert (report.outbound_id, report.recipient, report.status.code) == (sent.outbound_ids[1], "***0010", 10)
    with pytest.raises(MtaNotFoundError, match="HTTP 404"):
        hook.get_delivery_report(999999)


async def test_async_twins_with_and_without_an_open_client(sandbox):
    hook = MtaHook()
    sent = await hook.asend_message(subscribers=NUMBERS, message="a")
    page = await hook.alist_deliveries(message_id=sent.message_id)
    assert sorted(r.outbound_id for r in page.records) == sorted(sent.outbound_ids)
    async with await hook.aget_conn() as client:
        assert isinstance(client, AsyncMtaClient)
        report = await hook.aget_delivery_report(sent.outbound_ids[0], client=client)
        again = await hook.alist_deliveries(message_id=sent.message_id, page_size=1, client=client)
    assert report.status.name == "DELIVERED" and again.total == 3 and len(again.records) == 1
