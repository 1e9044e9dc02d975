"""Delivery simulation, deterministic failing numbers, signed webhooks and scheduled sends."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sandbox_helpers import Receiver, make_client, wait_until

from airflow_provider_mta.backends.mta.client import REQUEST_ID_TAG, MtaClient
from airflow_provider_mta.backends.mta.models import SendRequest, format_scheduled_date
from airflow_provider_mta.sandbox.statuses import Timeline, final_status_for
from airflow_provider_mta.sandbox.testing import SandboxServer

FAILING = {f"+131755500{nn:02d}": nn for nn in range(5, 14)}
NAMES = {
    5: "SENDING_FAILED", 6: "DELIVERY_FAILED", 7: "DELIVERY_UNCONFIRMED", 8: "DELIVERY_REJECTED",
    9: "UNDELIVERED", 10: "INVALID_NUMBER", 11: "STOPPED_NUMBER", 12: "LANDLINE", 13: "SEND_REJECTED",
}  # fmt: skip
DELAY = 1.0


@pytest.fixture(scope="module")
def slow() -> Iterator[SandboxServer]:
    with SandboxServer(delivery_delay_s=DELAY) as server:
        yield server


def status(client: MtaClient, oid: int) -> tuple[int, str]:
    data = client.request("GET", f"/sent-messages/{oid}")["data"]
    return data["status"], data["statusName"]


def parse_iso(value: str) -> float:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def test_final_status_rule() -> None:
    assert final_status_for("+13175550010") == 10
    assert final_status_for("+13175550004") == 4
    assert final_status_for("+13175550014") == 4
    assert final_status_for("+13175551005") == 4
    assert final_status_for("a0010@example.com") == 4
    line = Timeline(created_at=0, release_at=0, sent_at=1, final_at=2, final_status=4)
    assert [line.status(t) for t in (0, 0.9, 1, 1.9, 2, 99)] == [1, 1, 3, 3, 4, 4]


def test_normal_number_goes_queued_sent_delivered(slow: SandboxServer) -> None:
    slow.reset()
    with make_client(slow) as c:
        oid = c.send(SendRequest.build(subscribers=["+13175551111"], message="hi")).outbound_ids[0]
        assert status(c, oid) == (1, "QUEUED")
        wait_until(lambda: status(c, oid) == (3, "SENT"), timeout=3)
        wait_until(lambda: status(c, oid) == (4, "DELIVERED"), timeout=3)
        report = c.request("GET", f"/sent-messages/{oid}/delivery-report")["data"]
    times = [parse_iso(h["at"]) for h in report["history"]]
    assert [h["status"] for h in report["history"]] == [1, 3, 4]
    assert times[1] - times[0] == pytest.approx(DELAY / 2, abs=0.002)
    assert times[2] - times[0] == pytest.approx(DELAY, abs=0.002)
    assert slow.messages()[0]["status"] == "DELIVERED"


def test_every_failing_number_ends_in_its_status(slow: SandboxServer) -> None:
    slow.reset()
    with make_client(slow) as c:
        result = c.send(SendRequest.build(subscribers=[*FAILING, "+13175551111"], message="hi"))
        in_flight = c.request("GET", "/deliveries", params={"filters[status]": "sent"})["data"]["total"]
        assert in_flight == 10
        time.sleep(DELAY + 0.05)
        finals = [status(c, oid) for oid in result.outbound_ids]
    assert finals == [(nn, NAMES[nn]) for nn in FAILING.values()] + [(4, "DELIVERED")]
    assert [r["status"] for r in slow.messages()] == [*NAMES.values(), "DELIVERED"]


def register(client: MtaClient, url: str, secret: str) -> int:
    hook = {"event": "delivery-status", "url": url, "secret": secret}
    envelope = client.request("POST", "/webhooks", json_body=hook)
    hook_id: int = envelope["data"]["id"]
    return hook_id


def verified(calls: list[tuple[dict[str, str], bytes]], secret: str) -> list[dict[str, Any]]:
    """Payloads whose X-Signature an independent HMAC check accepts; fails on any bad signature."""
    out = []
    for headers, body in calls:
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(expected, headers["x-signature"]), "bad webhook signature"
        assert headers["content-type"] == "application/json"
        out.append(json.loads(body))
    return out


def test_signed_webhooks(sbx: SandboxServer, client: MtaClient, receiver: Receiver) -> None:
    secret = "s3cr3t"
    hook_id = register(client, receiver.url, secret)
    listed = client.request("GET", "/webhooks")["data"]["rows"]
    assert [(h["id"], h["url"], h["event"]) for h in listed] == [(hook_id, receiver.url, "delivery-status")]
    assert "secret" not in listed[0]
    result = client.send(
        SendRequest.build(
            subscribers=["+13175551111", "+13175550012"],
            message="hook",
            external_id="ext-9",
            tags={"run": "r1"},
            sender_name="Ops",
        )
    )
    calls = wait_until(lambda: len(receiver.snapshot()) >= 4 and receiver.snapshot())
    payloads = verified(calls, secret)
    by_number: dict[str, list[int]] = {}
    for p in payloads:
        by_number.setdefault(p["destinationNumber"], []).append(p["status"])
    assert by_number == {"+13175551111": [3, 4], "+13175550012": [3, 12]}
    first = payloads[0]
    assert set(first) == {
        "destinationNumber",
        "messageId",
        "externalId",
        "status",
        "tags",
        "senderName",
        "type",
    }
    assert {p["messageId"] for p in payloads} == set(result.outbound_ids)
    assert (first["externalId"], first["tags"], first["senderName"], first["type"]) == (
        "ext-9",
        {"run": "r1", REQUEST_ID_TAG: result.request_id},  # the client adds the request id
        "Ops",
        "sms",
    )
    wait_until(lambda: sbx.stats()["webhooksDelivered"] == 4)

    client.request("DELETE", f"/webhooks/{hook_id}")
    assert client.request("GET", "/webhooks")["data"]["rows"] == []
    client.send(SendRequest.build(subscribers=["+13175551111"], message="after delete"))
    time.sleep(0.3)
    assert len(receiver.snapshot()) == 4


def test_tampered_body_fails_signature(sbx: SandboxServer, client: MtaClient, receiver: Receiver) -> None:
    register(client, receiver.url, "right")
    client.send(SendRequest.build(subscribers=["+13175551111"], message="x"))
    calls = wait_until(lambda: receiver.snapshot())
    headers, body = calls[0]
    signature = headers["x-signature"]
    assert not hmac.compare_digest(hmac.new(b"wrong", body, hashlib.sha256).hexdigest(), signature)
    tampered = body.replace(b'"status":3', b'"status":4')
    assert tampered != body
    assert not hmac.compare_digest(hmac.new(b"right", tampered, hashlib.sha256).hexdigest(), signature)
    assert hmac.compare_digest(hmac.new(b"right", body, hashlib.sha256).hexdigest(), signature)


def test_unreachable_webhook_is_logged_not_fatal(sbx: SandboxServer, client: MtaClient) -> None:
    receiver = Receiver()
    dead_url = receiver.url
    receiver.close()  # nothing listens there any more
    register(client, dead_url, "x")
    client.send(SendRequest.build(subscribers=["+13175551111"], message="x"))
    wait_until(lambda: sbx.stats()["webhooksFailed"] >= 2)
    assert client.verify_api_key().name == "Sandbox"


def test_webhook_validation(client: MtaClient) -> None:
    from airflow_provider_mta.core.errors import MtaBadRequestError, MtaNotFoundError

    with pytest.raises(MtaBadRequestError, match="delivery-status"):
        client.request(
            "POST",
            "/webhooks",
            json_body={"event": "message-read", "url": "http://127.0.0.1/", "secret": "s"},
        )
    with pytest.raises(MtaBadRequestError, match="secret"):
        client.request("POST", "/webhooks", json_body={"event": "delivery-status", "url": "http://x.test/"})
    with pytest.raises(MtaNotFoundError):
        client.request("DELETE", "/webhooks/12345")


def test_scheduled_send_is_held_until_due(sbx: SandboxServer, client: MtaClient, receiver: Receiver) -> None:
    register(client, receiver.url, "sched")
    due = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) + dt.timedelta(seconds=2)
    when = format_scheduled_date(due)
    request = SendRequest.build(subscribers=["+13175551111"], message="later", scheduled_date=when)
    result = client.send(request)
    oid = result.outbound_ids[0]
    assert result.total_sent == 1
    assert status(client, oid) == (0, "SCHEDULED")
    assert sbx.messages()[0]["status"] == "SCHEDULED"
    assert client.request("GET", "/deliveries", params={"filters[status]": "scheduled"})["data"]["total"] == 1
    time.sleep(max(0.0, due.timestamp() - time.time() - 0.3))  # until just before the due time
    assert status(client, oid) == (0, "SCHEDULED")
    assert receiver.snapshot() == []
    wait_until(lambda: status(client, oid) == (4, "DELIVERED"), timeout=4)
    assert time.time() >= due.timestamp()
    report = client.request("GET", f"/sent-messages/{oid}/delivery-report")["data"]
    assert [h["statusName"] for h in report["history"]] == ["SCHEDULED", "QUEUED", "SENT", "DELIVERED"]
    for step in report["history"][1:]:  # released at the due time (delivery delay 0)
        assert parse_iso(step["at"]) == pytest.approx(due.timestamp(), abs=0.01)
    payloads = verified(wait_until(lambda: len(receiver.snapshot()) >= 2 and receiver.snapshot()), "sched")
    assert [p["status"] for p in payloads] == [3, 4]
    assert min(receiver.received_at) >= due.timestamp()


def test_scheduled_answer_echoes_the_date(sbx: SandboxServer) -> None:
    due = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)
    raw = httpx.post(
        sbx.base_url + "/send",
        json={"subscribers": ["+13175551111"], "message": "x", "scheduledDate": format_scheduled_date(due)},
        headers={"Authorization": f"Bearer {sbx.api_key}"},
    )
    data = raw.json()["data"]
    assert raw.status_code == 200
    assert raw.json()["message"] == "Message Sent to 1 Recipient(s)."
    assert data["scheduledDate"] == format_scheduled_date(due)
    assert data["totalSent"] == 1 and len(data["outboundIds"]) == 1
