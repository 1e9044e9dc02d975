"""The MTA API of the sandbox, driven with the project's own client over real HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sandbox_helpers import make_client

from airflow_provider_mta.backends.mta.client import REQUEST_ID_TAG, AsyncMtaClient, MtaClient
from airflow_provider_mta.backends.mta.models import SendRequest
from airflow_provider_mta.core.errors import MtaBadRequestError, MtaNotFoundError, MtaUnauthorizedError
from airflow_provider_mta.sandbox.render import TEMPLATE_TEXT
from airflow_provider_mta.sandbox.testing import SandboxServer

ERROR_KEYS = {"httpCode", "message", "timestamp", "type", "name", "requestId"}


def test_verify_api_key(client: MtaClient) -> None:
    result = client.verify_api_key()
    assert (result.name, result.email, result.message) == (
        "Sandbox",
        "sandbox@example.com",
        "API Key verified",
    )


async def test_verify_api_key_async(aclient: AsyncMtaClient) -> None:
    result = await aclient.verify_api_key()
    assert result.email == "sandbox@example.com"


def test_wrong_key_is_401_with_mta_body(sbx: SandboxServer) -> None:
    with make_client(sbx, api_key="not-the-key") as bad, pytest.raises(MtaUnauthorizedError) as info:
        bad.verify_api_key()
    assert info.value.status_code == 401
    assert info.value.name == "MTAUnauthorizedError"
    raw = httpx.get(sbx.base_url + "/auth/verify-api-key", headers={"X-Request-Id": "rid-401"})
    body = raw.json()
    assert raw.status_code == 401
    assert set(body) == ERROR_KEYS
    assert (body["type"], body["name"], body["requestId"]) == (
        "unauthorized_error",
        "MTAUnauthorizedError",
        "rid-401",
    )
    assert sbx.stats()["unauthorized"] == 2


def test_unknown_path_is_404_with_mta_body(client: MtaClient) -> None:
    with pytest.raises(MtaNotFoundError) as info:
        client.request("GET", "/no-such-thing")
    assert info.value.error_type == "not_found_error"


def test_send_records_one_row_per_recipient(sbx: SandboxServer, client: MtaClient) -> None:
    request = SendRequest.build(
        subscribers=["+13175551111", "(317) 555-2222", "ops@example.com"],
        message="Disk full on db-1",
        external_id="ext-1",
        tags={"team": "ops"},
    )
    result = client.send(request, request_id="rid-send-1")
    assert result.total_sent == 3
    assert result.already_sent is False
    assert len(result.outbound_ids) == 3
    assert result.outbound_ids == sorted(result.outbound_ids)
    rows = sbx.messages()
    assert [r["to"] for r in rows] == ["+13175551111", "+13175552222", "ops@example.com"]
    assert [r["outboundId"] for r in rows] == result.outbound_ids
    assert {r["messageId"] for r in rows} == {result.message_id}
    assert {r["requestId"] for r in rows} == {"rid-send-1"}
    assert rows[0]["externalId"] == "ext-1"
    assert rows[0]["tags"] == {"team": "ops", REQUEST_ID_TAG: "rid-send-1"}  # the client adds the request id
    assert rows[0]["text"] == "Disk full on db-1"
    assert rows[0]["status"] == "DELIVERED"  # delivery delay 0 in tests
    assert sbx.messages(to="3175552222")[0]["outboundId"] == result.outbound_ids[1]
    stats = sbx.stats()
    assert (stats["sendsAccepted"], stats["recipientsAccepted"], stats["messages"]) == (1, 3, 3)


async def test_async_send(sbx: SandboxServer, aclient: AsyncMtaClient) -> None:
    result = await aclient.send(SendRequest.build(subscribers=["+13175551111"], message="async"))
    assert result.total_sent == 1
    assert sbx.messages()[0]["outboundId"] == result.outbound_ids[0]


def test_repeated_request_id_is_409_and_sends_nothing(sbx: SandboxServer, client: MtaClient) -> None:
    request = SendRequest.build(subscribers=["+13175551111", "+13175552222"], message="once")
    first = client.send(request, request_id="rid-dup")
    again = client.send(request, request_id="rid-dup")
    assert again.already_sent is True
    assert (again.message_id, again.outbound_ids, again.total_sent) == (
        first.message_id,
        first.outbound_ids,
        2,
    )
    raw = httpx.post(
        sbx.base_url + "/send",
        json=request.to_payload(),
        headers={"Authorization": f"Bearer {sbx.api_key}", "X-Request-Id": "rid-dup"},
    )
    assert raw.status_code == 409
    body = raw.json()
    assert (body["type"], body["name"], body["requestId"]) == (
        "conflict_error",
        "MTAConflictError",
        "rid-dup",
    )
    assert body["data"] == {"messageId": first.message_id, "totalSent": 2, "outboundIds": first.outbound_ids}
    assert len(sbx.messages()) == 2
    assert sbx.stats()["conflicts"] == 2


def test_liquid_properties_per_recipient(sbx: SandboxServer, client: MtaClient) -> None:
    request = SendRequest.build(
        subscribers=["(317) 555-1111", "+13175552222"],
        message="Hi {{ name }}, your code is {{ code | upcase }}.",
        properties={
            "(317) 555-1111": {"name": "Ann", "code": "ab1"},
            "+13175552222": {"name": "Bo", "code": 7},
        },
    )
    client.send(request)
    texts = {r["to"]: r["text"] for r in sbx.messages()}
    assert texts == {"+13175551111": "Hi Ann, your code is AB1.", "+13175552222": "Hi Bo, your code is 7."}


def test_liquid_missing_variable_is_400_and_nothing_sent(sbx: SandboxServer, client: MtaClient) -> None:
    request = SendRequest.build(
        subscribers=["+13175551111", "+13175559876"],
        message="Hi {{ name }}",
        properties={"+13175551111": {"name": "Ann"}},
    )
    with pytest.raises(MtaBadRequestError) as info:
        client.send(request)
    text = str(info.value)
    assert "'name'" in text
    assert "***9876" in text
    assert "5559876" not in text
    assert sbx.messages() == []


def test_liquid_syntax_error_is_400(sbx: SandboxServer, client: MtaClient) -> None:
    with pytest.raises(MtaBadRequestError, match="Liquid"):
        client.send(SendRequest.build(subscribers=["+13175551111"], message="Hi {{ name"))
    assert sbx.messages() == []


def test_header_and_footer(sbx: SandboxServer, client: MtaClient) -> None:
    request = SendRequest.build(subscribers=["+13175551111"], message="Failed", header="ACME", footer="STOP")
    client.send(request)
    assert sbx.messages()[0]["text"] == "ACME\nFailed STOP"


@pytest.mark.parametrize(
    ("fields", "parts", "credits", "kind"),
    [
        ({"message": "a" * 160}, 1, 1, "sms"),
        ({"message": "\u0436" * 71}, 2, 2, "sms"),  # UCS-2 over 70 units: 67 per part
        ({"message": "\u0436" * 160}, 3, 3, "sms"),  # the longest SMS MTA takes (a longer one is a 400)
        ({"message": "\U0001f600" * 35}, 1, 1, "sms"),  # 70 UTF-16 units: one UCS-2 part
        ({"message": "\U0001f600" * 36}, 2, 2, "sms"),  # 72 units: 33 emoji per 67-unit part
        ({"message": "x" * 400, "image": "https://example.com/a.png"}, 1, 3, "mms"),
        ({"message": "short", "is_mms": True}, 1, 3, "mms"),
    ],
)
def test_parts_and_credits(
    sbx: SandboxServer, client: MtaClient, fields: dict[str, Any], parts: int, credits: int, kind: str
) -> None:
    client.send(SendRequest.build(subscribers=["+13175551111"], **fields))
    row = sbx.messages()[0]
    assert (row["parts"], row["credits"], row["type"]) == (parts, credits, kind)


def test_send_cost_sends_nothing(sbx: SandboxServer, client: MtaClient) -> None:
    request = SendRequest.build(subscribers=["+13175551111", "+13175552222"], message="\u0436" * 71)
    envelope = client.request("POST", "/send/cost", json_body=request.to_payload())
    assert envelope["data"] == {"messageCredits": 4, "recipients": 2}
    assert sbx.messages() == []


def test_invalid_body_is_400_with_validation_text(sbx: SandboxServer) -> None:
    headers = {"Authorization": f"Bearer {sbx.api_key}"}
    raw = httpx.post(sbx.base_url + "/send", json={"subscribers": ["+13175551111"]}, headers=headers)
    assert raw.status_code == 400
    assert raw.json()["type"] == "bad_request_error"
    assert "no content" in raw.json()["message"]
    raw = httpx.post(sbx.base_url + "/send", json={"subscribers": ["12"], "message": "x"}, headers=headers)
    assert raw.status_code == 400
    assert "not a valid phone number" in raw.json()["message"]
    raw = httpx.post(sbx.base_url + "/send", content=b"{not json", headers=headers)
    assert raw.status_code == 400
    assert sbx.messages() == []


def test_too_many_recipients_is_400(sbx: SandboxServer, client: MtaClient) -> None:
    numbers = [f"+1317{2000000 + i:07d}" for i in range(1001)]
    with pytest.raises(MtaBadRequestError, match="too many recipients: 1001"):
        client.send(SendRequest.build(subscribers=numbers, message="x"))
    assert client.send(SendRequest.build(subscribers=numbers[:1000], message="x")).total_sent == 1000


def test_template_without_message(sbx: SandboxServer, client: MtaClient) -> None:
    client.send(SendRequest.build(subscribers=["+13175551111"], template_id=42))
    assert sbx.messages()[0]["text"] == TEMPLATE_TEXT.format(template_id=42)
    assert "#42" in sbx.messages()[0]["text"]


def test_groups_and_all_subscribers(sbx: SandboxServer, client: MtaClient) -> None:
    group = {"name": "oncall", "members": ["3175551111", "a@b.co"]}
    created = client.request("POST", "/groups", json_body=group)
    group_id = created["data"]["id"]
    assert created["data"]["members"] == ["+13175551111", "a@b.co"]
    listed = client.request("GET", "/groups")["data"]["rows"]
    assert [g["id"] for g in listed] == [group_id]
    result = client.send(SendRequest.build(groups=[group_id], message="page"))
    assert result.total_sent == 2
    assert client.send(SendRequest.build(all_subscribers=True, message="all")).total_sent == 2
    assert [r["to"] for r in sbx.messages()] == ["+13175551111", "a@b.co"] * 2
    with pytest.raises(MtaBadRequestError, match="unknown group 999"):
        client.send(SendRequest.build(groups=[999], message="x"))
    with pytest.raises(MtaBadRequestError, match="subscriber id"):
        client.send(SendRequest.build(subscriber_ids=[5], message="x"))
    with pytest.raises(MtaBadRequestError, match="thread"):
        client.send(SendRequest.build(thread_id=5, message="x"))


def test_sent_message_and_delivery_report(sbx: SandboxServer, client: MtaClient) -> None:
    result = client.send(
        SendRequest.build(subscribers=["+13175550010"], message="hello", external_id=77, tags={"k": "v"})
    )
    oid = result.outbound_ids[0]
    data = client.request("GET", f"/sent-messages/{oid}")["data"]
    assert data["outboundId"] == oid
    assert data["messageId"] == result.message_id
    assert (data["to"], data["text"], data["parts"], data["credits"]) == ("+13175550010", "hello", 1, 1)
    assert (data["status"], data["statusName"]) == (10, "INVALID_NUMBER")
    assert (data["externalId"], data["tags"]) == (77, {"k": "v", REQUEST_ID_TAG: result.request_id})
    assert data["createdAt"].endswith("Z")
    report = client.request("GET", f"/sent-messages/{oid}/delivery-report")["data"]
    assert report["destinationNumber"] == "+13175550010"
    assert (report["status"], report["statusName"]) == (10, "INVALID_NUMBER")
    assert [h["statusName"] for h in report["history"]] == ["QUEUED", "SENT", "INVALID_NUMBER"]
    with pytest.raises(MtaNotFoundError):
        client.request("GET", f"/sent-messages/{oid + 1000}")
    with pytest.raises(MtaNotFoundError):
        client.request("GET", "/sent-messages/abc/delivery-report")
