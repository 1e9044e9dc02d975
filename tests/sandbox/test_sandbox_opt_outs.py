"""Opt-outs (numbers that texted STOP): a send to one is accepted but its message ends 11 STOPPED_NUMBER."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sandbox_helpers import Receiver, assert_masked_400, wait_until

from airflow_provider_mta.backends.mta.client import MtaClient
from airflow_provider_mta.backends.mta.models import SendRequest
from airflow_provider_mta.sandbox.testing import SandboxServer

STOPPED = "+13175550101"
OTHER = "+13175551111"


def opt_out(sbx: SandboxServer, body: Any) -> httpx.Response:
    return sbx.client().post("/_sandbox/opt-outs", json=body)


def listed(sbx: SandboxServer) -> list[str]:
    answer = sbx.client().get("/_sandbox/opt-outs")
    assert answer.status_code == 200
    numbers: list[str] = answer.json()["data"]["optedOut"]
    return numbers


def finals(client: MtaClient, oids: list[int]) -> list[tuple[int, str]]:
    """``(status, statusName)`` of each message from ``GET /v3/sent-messages/{id}``."""
    out = []
    for oid in oids:
        data = client.request("GET", f"/sent-messages/{oid}")["data"]
        out.append((data["status"], data["statusName"]))
    return out


def test_opted_out_number_is_accepted_and_ends_stopped(
    sbx: SandboxServer, client: MtaClient, receiver: Receiver
) -> None:
    answer = opt_out(sbx, {"number": "(317) 555-0101"})
    assert answer.status_code == 200
    assert answer.json()["data"] == {"optedOut": [STOPPED]}
    hook = {"event": "delivery-status", "url": receiver.url, "secret": "stop"}
    client.request("POST", "/webhooks", json_body=hook)

    result = client.send(SendRequest.build(subscribers=[STOPPED, OTHER], message="hello"))
    assert result.total_sent == 2 and len(result.outbound_ids) == 2  # accepted, like MTA does
    stopped_id, other_id = result.outbound_ids

    assert finals(client, result.outbound_ids) == [(11, "STOPPED_NUMBER"), (4, "DELIVERED")]
    report = client.request("GET", f"/sent-messages/{stopped_id}/delivery-report")["data"]
    assert [h["status"] for h in report["history"]] == [1, 3, 11]
    rows = client.request("GET", "/deliveries", params={"sortDirection": "ASC"})["data"]["rows"]
    assert [(r["outboundId"], r["status"], r["statusName"]) for r in rows] == [
        (stopped_id, 11, "STOPPED_NUMBER"),
        (other_id, 4, "DELIVERED"),
    ]
    undeliverable = client.request("GET", "/deliveries", params={"filters[status]": "undeliverable"})["data"]
    assert [r["outboundId"] for r in undeliverable["rows"]] == [stopped_id]
    assert [(r["to"], r["status"]) for r in sbx.messages()] == [(STOPPED, "STOPPED_NUMBER"), (OTHER, "DELIVERED")]

    calls = wait_until(lambda: len(receiver.snapshot()) >= 4 and receiver.snapshot())
    by_number: dict[str, list[int]] = {}
    for _, body in calls:
        payload = json.loads(body)
        by_number.setdefault(payload["destinationNumber"], []).append(payload["status"])
    assert by_number == {STOPPED: [3, 11], OTHER: [3, 4]}


def test_opt_out_does_not_change_earlier_messages(sbx: SandboxServer, client: MtaClient) -> None:
    before = client.send(SendRequest.build(subscribers=[STOPPED], message="before")).outbound_ids
    sbx.opt_out("317.555.0101")
    after = client.send(SendRequest.build(subscribers=[STOPPED], message="after")).outbound_ids
    assert finals(client, before + after) == [(4, "DELIVERED"), (11, "STOPPED_NUMBER")]


def test_list_deduplicates_and_normalizes(sbx: SandboxServer) -> None:
    assert listed(sbx) == []
    answer = opt_out(sbx, {"numbers": ["(317) 555-0101", "+1 317 555 0101", "3175552222"]})
    assert answer.json()["data"]["optedOut"] == [STOPPED, "+13175552222"]
    assert sbx.opt_out("+13175552222", "13175553333") == ["+13175552222", "+13175553333"]
    assert listed(sbx) == [STOPPED, "+13175552222", "+13175553333"]


def test_delete_and_reset_clear_opt_outs(sbx: SandboxServer, client: MtaClient) -> None:
    sbx.opt_out(STOPPED)
    cleared = sbx.client().delete("/_sandbox/opt-outs")
    assert (cleared.status_code, cleared.json()["data"]) == (200, {"optedOut": []})
    assert listed(sbx) == []

    sbx.opt_out(STOPPED)
    sbx.reset()
    assert listed(sbx) == []
    oids = client.send(SendRequest.build(subscribers=[STOPPED], message="after reset")).outbound_ids
    assert finals(client, oids) == [(4, "DELIVERED")]


@pytest.mark.parametrize(
    "body",
    [
        {"number": "(317) 555-010"},
        {"numbers": ["+13175551111", "12345"]},
        {"number": "ops@example.com"},
        {"number": True},
        {"numbers": []},
        {"numbers": "+13175551111"},
        {"number": "+13175551111", "numbers": ["+13175552222"]},
        {},
        ["+13175551111"],
    ],
    ids=["short", "one-bad-in-list", "email", "bool", "empty-list", "not-a-list", "both-keys", "empty", "list"],
)
def test_invalid_opt_out_is_400_and_stores_nothing(sbx: SandboxServer, body: Any) -> None:
    assert_masked_400(opt_out(sbx, body))
    assert listed(sbx) == []


def test_invalid_json_is_400(sbx: SandboxServer) -> None:
    answer = sbx.client().post("/_sandbox/opt-outs", content=b"{not json", headers={"Content-Type": "application/json"})
    assert (answer.status_code, answer.json()["message"]) == (400, "the request body is not valid JSON")
