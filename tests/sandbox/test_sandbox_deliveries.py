"""GET /deliveries: filters, sorting and paging."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from airflow_provider_mta.backends.mta.client import MtaClient
from airflow_provider_mta.backends.mta.models import SendRequest
from airflow_provider_mta.core.errors import MtaBadRequestError
from airflow_provider_mta.sandbox.testing import SandboxServer

NORMAL = [f"+1317555{1000 + i}" for i in range(6)]  # +13175551000 .. +13175551005
FAILING = ["+13175550010", "+13175550011", "+13175550006", "+13175550008"]


def deliveries(client: MtaClient, **params: Any) -> dict[str, Any]:
    data: dict[str, Any] = client.request("GET", "/deliveries", params=params)["data"]
    return data


@pytest.fixture
def ledger(sbx: SandboxServer, client: MtaClient) -> dict[str, Any]:
    sms = client.send(SendRequest.build(subscribers=NORMAL + FAILING, message="sms"))
    mms_numbers = ["+13175559999", "ops@example.com"]
    mms = client.send(SendRequest.build(subscribers=mms_numbers, message="m", is_mms=True))
    return {"sms": sms, "mms": mms}


def test_rows_shape_and_default_sort(client: MtaClient, ledger: dict[str, Any]) -> None:
    data = deliveries(client)
    assert (data["page"], data["pageSize"], data["total"]) == (1, 25, 12)
    ids = [r["outboundId"] for r in data["rows"]]
    assert ids == sorted(ids, reverse=True)  # newest first by default
    row = data["rows"][0]
    assert set(row) == {
        "outboundId", "messageId", "destinationNumber", "status", "statusName", "type", "externalId", "tags",
        "createdAt", "updatedAt",
    }  # fmt: skip
    assert (row["destinationNumber"], row["type"], row["status"], row["statusName"]) == (
        "ops@example.com", "mms", 4, "DELIVERED"
    )  # fmt: skip


def test_paging(client: MtaClient, ledger: dict[str, Any]) -> None:
    all_ids = [r["outboundId"] for r in deliveries(client, sortBy="outboundId", sortDirection="ASC")["rows"]]
    by_id = {"sortBy": "outboundId", "sortDirection": "asc"}
    pages = [deliveries(client, page=p, pageSize=5, **by_id)["rows"] for p in (1, 2, 3, 4)]
    assert [len(p) for p in pages] == [5, 5, 2, 0]
    assert [r["outboundId"] for p in pages for r in p] == all_ids
    assert deliveries(client, page=3, pageSize=5)["total"] == 12


def test_filters(client: MtaClient, ledger: dict[str, Any]) -> None:
    assert deliveries(client, **{"filters[type]": "mms"})["total"] == 2
    assert deliveries(client, **{"filters[type]": "sms"})["total"] == 10
    delivered = deliveries(client, **{"filters[status]": "delivered"})
    assert delivered["total"] == 8
    undeliverable = deliveries(client, **{"filters[status]": "undeliverable"})["rows"]
    assert sorted(r["statusName"] for r in undeliverable) == ["INVALID_NUMBER", "STOPPED_NUMBER"]
    undelivered = deliveries(client, **{"filters[status]": "undelivered"})["rows"]
    assert [(r["destinationNumber"], r["status"]) for r in undelivered] == [("+13175550006", 6)]
    rejected = deliveries(client, **{"filters[status]": "rejected"})["rows"]
    assert [r["status"] for r in rejected] == [8]
    assert deliveries(client, **{"filters[status]": "sent"})["total"] == 0
    assert deliveries(client, query="555100")["total"] == 6
    assert deliveries(client, query="example.com")["rows"][0]["destinationNumber"] == "ops@example.com"
    by_message = deliveries(client, **{"filters[messageId]": ledger["mms"].message_id})
    assert sorted(r["outboundId"] for r in by_message["rows"]) == ledger["mms"].outbound_ids


def test_date_filters(client: MtaClient, ledger: dict[str, Any]) -> None:
    created = deliveries(client, pageSize=1)["rows"][0]["createdAt"]
    day = dt.date.fromisoformat(created[:10])
    before, after = (day - dt.timedelta(days=1)).isoformat(), (day + dt.timedelta(days=1)).isoformat()
    same_day = {"filters[startDate]": day.isoformat(), "filters[endDate]": day.isoformat()}
    assert deliveries(client, **same_day)["total"] == 12
    assert deliveries(client, **{"filters[startDate]": after})["total"] == 0
    assert deliveries(client, **{"filters[endDate]": before})["total"] == 0


def test_sort_by_updated_at(client: MtaClient, ledger: dict[str, Any]) -> None:
    rows = deliveries(client, sortBy="updatedAt", sortDirection="ASC", pageSize=100)["rows"]
    stamps = [r["updatedAt"] for r in rows]
    assert stamps == sorted(stamps)
    assert len(rows) == 12


@pytest.mark.parametrize(
    "params",
    [
        {"pageSize": 1001},
        {"page": 0},
        {"sortBy": "name"},
        {"sortDirection": "UP"},
        {"filters[status]": "lost"},
        {"filters[type]": "tts"},
        {"filters[startDate]": "06/03/2025"},
    ],
)
def test_bad_params_are_400(client: MtaClient, params: dict[str, Any]) -> None:
    with pytest.raises(MtaBadRequestError):
        client.request("GET", "/deliveries", params=params)
