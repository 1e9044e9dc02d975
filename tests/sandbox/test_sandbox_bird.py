"""The sandbox's Bird Channels API over real HTTP on 127.0.0.1: every refusal with its status and body,
the 202 answer, no idempotency (the same reference twice is two texts), status progression, 404s,
the rate limit, faults, the channel, the ledger, the log and the CLI flags."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sandbox_helpers import Receiver, make_client, wait_until

from airflow_provider_mta.backends.mta.models import SendRequest
from airflow_provider_mta.sandbox.__main__ import parse_args
from airflow_provider_mta.sandbox.testing import SandboxProcess, SandboxServer

WORKSPACE = "5f0c1b2e-0000-4000-8000-00000000b1d0"
CHANNEL = "5f0c1b2e-0000-4000-8000-00000000c4a1"
OTHER = "5f0c1b2e-0000-4000-8000-000000000bad"
TO = "+13175551111"
ISO_Z = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"


def auth(sbx: SandboxServer | SandboxProcess, key: str | None = None) -> dict[str, str]:
    return {"Authorization": f"AccessKey {key or sbx.api_key}"}


def contact(number: str = TO) -> dict[str, str]:
    return {"identifierKey": "phonenumber", "identifierValue": number}


def sms(text: str = "hello from the sandbox", *numbers: str, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "receiver": {"contacts": [contact(n) for n in (numbers or (TO,))]},
        "body": {"type": "text", "text": {"text": text}},
    }
    body.update(fields)
    return body


def post(
    sbx: SandboxServer | SandboxProcess,
    body: Any,
    *,
    headers: dict[str, str] | None = None,
    channel_url: str | None = None,
    **kwargs: Any,
) -> httpx.Response:
    url = (channel_url or sbx.bird_channel_url) + "/messages"
    all_headers = {**auth(sbx), **(headers or {})}
    if isinstance(body, (bytes, str)):
        return httpx.post(url, content=body, headers=all_headers, trust_env=False, **kwargs)
    return httpx.post(url, json=body, headers=all_headers, trust_env=False, **kwargs)


def get(sbx: SandboxServer | SandboxProcess, path: str = "", headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.get(sbx.bird_channel_url + path, headers=headers or auth(sbx), trust_env=False)


def bird_rows(sbx: SandboxServer | SandboxProcess) -> list[dict[str, Any]]:
    return sbx.messages(provider="bird")


def telnyx_send(sbx: SandboxServer) -> httpx.Response:
    body = {"from": "+13175550100", "to": TO, "text": "telnyx"}
    headers = {"Authorization": f"Bearer {sbx.api_key}"}
    return httpx.post(sbx.telnyx_base_url + "/messages", json=body, headers=headers, trust_env=False)


def mta_send(sbx: SandboxServer) -> int:
    with make_client(sbx) as client:
        return client.send(SendRequest.build(subscribers=[TO], message="mta")).total_sent


# -- the testing helpers -------------------------------------------------------------------------------


def test_server_exposes_the_default_workspace_and_channel(sbx: SandboxServer) -> None:
    assert (sbx.bird_workspace_id, sbx.bird_channel_id) == (WORKSPACE, CHANNEL)
    assert sbx.bird_channel_url == f"{sbx.url}/workspaces/{WORKSPACE}/channels/{CHANNEL}"


# -- authentication ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "AccessKey wrong-key-123"},
        {"Authorization": "Bearer sandbox-key"},
        {"Authorization": "accesskey sandbox-key"},
        {"Authorization": "AccessKey"},
    ],
)
def test_missing_or_wrong_access_key_is_401(sbx: SandboxServer, headers: dict[str, str]) -> None:
    url = sbx.bird_channel_url
    for response in (
        httpx.post(url + "/messages", json=sms(), headers=headers, trust_env=False),
        httpx.get(url, headers=headers, trust_env=False),
        httpx.get(url + "/messages/" + OTHER, headers=headers, trust_env=False),
        # authentication comes before the workspace check
        httpx.get(f"{sbx.url}/workspaces/{OTHER}/channels/{CHANNEL}", headers=headers, trust_env=False),
    ):
        assert response.status_code == 401
        body = response.json()
        assert set(body) == {"code", "message"}
        assert body["code"] == "Unauthorized" and body["message"]
        assert "sandbox-key" not in response.text and "wrong-key-123" not in response.text
    assert bird_rows(sbx) == []


# -- workspace and channel -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("workspace", "channel"),
    [(OTHER, CHANNEL), (WORKSPACE, OTHER), (WORKSPACE.upper(), CHANNEL), ("workspace", "channel")],
)
def test_any_other_workspace_or_channel_is_404(sbx: SandboxServer, workspace: str, channel: str) -> None:
    base = f"{sbx.url}/workspaces/{workspace}/channels/{channel}"
    for response in (
        post(sbx, sms(), channel_url=base),
        httpx.get(base, headers=auth(sbx), trust_env=False),
        httpx.get(base + "/messages/" + OTHER, headers=auth(sbx), trust_env=False),
    ):
        assert response.status_code == 404
        assert response.json() == {"code": "NotFound", "message": "channel not found"}
    assert bird_rows(sbx) == []


def test_channel_get(sbx: SandboxServer) -> None:
    response = get(sbx)
    assert response.status_code == 200
    assert response.json() == {
        "id": CHANNEL,
        "platformId": "sms-messagebird",
        "status": "active",
        "name": "Sandbox SMS",
    }


def test_unknown_paths_and_methods_have_birds_body(sbx: SandboxServer) -> None:
    unknown = httpx.get(f"{sbx.url}/workspaces/{WORKSPACE}/things", headers=auth(sbx), trust_env=False)
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "NotFound"
    wrong_method = httpx.delete(sbx.bird_channel_url + "/messages", headers=auth(sbx), trust_env=False)
    assert wrong_method.status_code == 405
    assert wrong_method.json()["code"] == "MethodNotAllowed"


# -- refusals -----------------------------------------------------------------------------------------------


def _without(key: str) -> dict[str, Any]:
    body = sms()
    del body[key]
    return body


def _contact_with(**fields: Any) -> dict[str, Any]:
    return {"receiver": {"contacts": [{**contact(), **fields}]}, "body": sms()["body"]}


def _body(value: Any) -> dict[str, Any]:
    return {**sms(), "body": value}


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (_without("receiver"), "receiver"),
        ({**sms(), "receiver": []}, "receiver"),
        ({**sms(), "receiver": {}}, "receiver.contacts"),
        ({**sms(), "receiver": {"contacts": []}}, "receiver.contacts"),
        ({**sms(), "receiver": {"contacts": contact()}}, "receiver.contacts"),
        (sms("x", *[f"+1317555{i:04d}" for i in range(1000, 1051)]), "receiver.contacts"),
        ({**sms(), "receiver": {"contacts": [contact(), "+13175552222"]}}, "receiver.contacts[1]"),
        (_contact_with(identifierKey="emailaddress"), "receiver.contacts[0].identifierKey"),
        (_contact_with(identifierKey=None), "receiver.contacts[0].identifierKey"),
        (_contact_with(identifierValue="3175551111"), "receiver.contacts[0].identifierValue"),
        (_contact_with(identifierValue="+1 317 555 1111"), "receiver.contacts[0].identifierValue"),
        (_contact_with(identifierValue="+0317555111"), "receiver.contacts[0].identifierValue"),
        (_contact_with(identifierValue="+123456"), "receiver.contacts[0].identifierValue"),
        (_contact_with(identifierValue="+1234567890123456"), "receiver.contacts[0].identifierValue"),
        (_contact_with(identifierValue=13175551111), "receiver.contacts[0].identifierValue"),
        (_contact_with(identifierValue="+13175551111\n"), "receiver.contacts[0].identifierValue"),
        (_contact_with(identifierValue="+1317555\u0661\u0661\u0661\u0661"), "receiver.contacts[0].identifierValue"),
        (_contact_with(id="abc"), "receiver.contacts[0].id"),
        ({**sms(), "receiver": {"contacts": [contact()], "type": "x"}}, "receiver.type"),
        (_without("body"), "body"),
        ({**sms(), "template": {"projectId": "p", "version": "v"}}, "template"),
        ({**_without("body"), "template": {"projectId": "p"}}, "template"),
        (_body("hello"), "body"),
        (_body({"type": "image", "image": {"images": [{"mediaUrl": "https://example.com/a.png"}]}}), "body.type"),
        (_body({"type": "file", "text": {"text": "x"}}), "body.type"),
        (_body({"text": {"text": "x"}}), "body.type"),
        (_body({"type": "text"}), "body.text"),
        (_body({"type": "text", "text": "hello"}), "body.text"),
        (_body({"type": "text", "text": {}}), "body.text.text"),
        (_body({"type": "text", "text": {"text": ""}}), "body.text.text"),
        (_body({"type": "text", "text": {"text": 5}}), "body.text.text"),
        (_body({"type": "text", "text": {"text": "x", "actions": []}}), "body.text.actions"),
        (sms("a" * 1601), "body.text.text"),
        (sms("ж" * 1601), "body.text.text"),
        (sms(reference=17), "reference"),
        (sms(reference=None), "reference"),
        (sms(reference="r" * 257), "reference"),
        (sms(tags=["a"]), "tags"),
        (sms(sender={"connector": {"identifierValue": "+15550000000"}}), "sender"),
    ],
)
def test_refused_bodies_are_422_naming_the_field(sbx: SandboxServer, payload: dict[str, Any], field: str) -> None:
    response = post(sbx, payload)
    assert response.status_code == 422, response.text
    body = response.json()
    assert set(body) == {"code", "message", "details"}
    assert body["code"] == "InvalidPayload"
    assert list(body["details"]) == [field]
    assert body["details"][field] and all(isinstance(r, str) and r for r in body["details"][field])
    assert field in body["message"]
    assert bird_rows(sbx) == []
    assert sbx.stats()["birdRefused"] == 1


def test_template_and_media_refusals_say_not_simulated(sbx: SandboxServer) -> None:
    template = post(sbx, {**_without("body"), "template": {"projectId": "p"}}).json()
    assert "templates are not simulated" in template["details"]["template"][0]
    image = post(sbx, _body({"type": "image", "image": {}})).json()
    assert "only text bodies are simulated" in image["details"]["body.type"][0]


@pytest.mark.parametrize("raw", [b"{not json", b"", b"   ", b'{"receiver": '])
def test_malformed_json_is_400_bad_request(sbx: SandboxServer, raw: bytes) -> None:
    response = post(sbx, raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"code", "message"}
    assert body["code"] == "BadRequest" and body["message"]
    assert bird_rows(sbx) == []


@pytest.mark.parametrize("raw", [b"[1, 2]", b'"text"', b"null", b"17"])
def test_json_that_is_not_an_object_is_422(sbx: SandboxServer, raw: bytes) -> None:
    response = post(sbx, raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["code"] == "InvalidPayload"
    assert bird_rows(sbx) == []


def test_limits_are_inclusive(sbx: SandboxServer) -> None:
    numbers = [f"+1317555{i:04d}" for i in range(1000, 1050)]
    assert post(sbx, sms("a" * 1600, *numbers, reference="r" * 256)).status_code == 202
    assert post(sbx, sms("😀" * 1600, "+447700900123", reference="")).status_code == 202
    assert post(sbx, sms("x", "+4912345")).status_code == 202  # 7 digits: the shortest E.164 accepted
    rows = bird_rows(sbx)
    assert len(rows) == 52
    assert rows[-2]["text"] == "😀" * 1600


def test_a_number_that_texted_stop_is_422_and_nothing_is_sent(sbx: SandboxServer) -> None:
    sbx.opt_out("(317) 555-2222")
    response = post(sbx, sms("x", TO, "+13175552222"))
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "InvalidPayload"
    assert body["message"].endswith("has opted out")
    assert body["details"] == {"receiver.contacts[1].identifierValue": ["has opted out"]}
    assert "+13175552222" not in response.text
    assert bird_rows(sbx) == []
    assert post(sbx, sms("x", TO)).status_code == 202


# -- accepted sends ----------------------------------------------------------------------------------------


def test_accepted_answer_has_birds_shape(sbx: SandboxServer) -> None:
    payload = sms("hello bird", reference="order-17")
    response = post(sbx, payload)
    assert response.status_code == 202
    assert response.headers["content-type"] == "application/json"
    data = response.json()
    assert set(data) == {
        "id", "channelId", "sender", "receiver", "body", "reference", "status", "direction", "createdAt", "updatedAt",
    }  # fmt: skip
    assert data["channelId"] == CHANNEL
    assert data["sender"] == {"connector": {"identifierValue": "+15550000000"}}
    [c] = data["receiver"]["contacts"]
    assert (c["identifierKey"], c["identifierValue"]) == ("phonenumber", TO)
    assert data["body"] == payload["body"]
    assert (data["reference"], data["status"], data["direction"]) == ("order-17", "accepted", "outgoing")
    assert data["createdAt"] == data["updatedAt"]
    assert re.match(ISO_Z, data["createdAt"])
    assert uuid.UUID(data["id"]).version == 4 and uuid.UUID(c["id"]).version == 4
    [row] = bird_rows(sbx)
    assert (row["messageId"], row["to"], row["text"], row["provider"], row["type"]) == (
        data["id"],
        TO,
        "hello bird",
        "bird",
        "sms",
    )
    assert (row["requestId"], row["externalId"]) == ("order-17", "order-17")
    assert sbx.stats()["birdSendsAccepted"] == 1


def test_without_reference_it_is_null(sbx: SandboxServer) -> None:
    data = post(sbx, sms()).json()
    assert data["reference"] is None
    [row] = bird_rows(sbx)
    assert (row["requestId"], row["externalId"]) == (None, None)
    assert get(sbx, f"/messages/{data['id']}").json()["reference"] is None


def test_the_same_reference_twice_is_two_texts(sbx: SandboxServer) -> None:
    first = post(sbx, sms(reference="same-ref"))
    second = post(sbx, sms(reference="same-ref"))
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] != second.json()["id"]
    rows = bird_rows(sbx)
    assert [(r["to"], r["requestId"]) for r in rows] == [(TO, "same-ref"), (TO, "same-ref")]
    assert len({r["messageId"] for r in rows}) == 2
    assert sbx.messages(requestId="same-ref", provider="bird") == rows


def test_several_contacts_are_one_row_each(sbx: SandboxServer) -> None:
    data = post(sbx, sms("x", TO, "+13175552222", reference="multi")).json()
    contacts = data["receiver"]["contacts"]
    assert [c["identifierValue"] for c in contacts] == [TO, "+13175552222"]
    rows = bird_rows(sbx)
    assert [r["to"] for r in rows] == [TO, "+13175552222"]
    assert rows[0]["messageId"] == data["id"]
    assert rows[1]["messageId"] != data["id"]
    second = get(sbx, f"/messages/{rows[1]['messageId']}").json()
    assert second["receiver"]["contacts"] == [contacts[1]]
    assert second["reference"] == "multi"


# -- retrieve and status progression ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def slow_sbx() -> Iterator[SandboxServer]:
    with SandboxServer(delivery_delay_s=0.8) as server:
        yield server


def statuses_seen(sbx: SandboxServer, message_id: str, until: str, timeout: float = 5.0) -> list[str]:
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = get(sbx, f"/messages/{message_id}")
        assert response.status_code == 200
        status = response.json()["status"]
        if not seen or seen[-1] != status:
            seen.append(status)
        if status == until:
            return seen
        time.sleep(0.05)
    pytest.fail(f"{message_id} never reached {until}: {seen}")


@pytest.mark.parametrize(
    ("to", "path"),
    [
        ("+13175551111", ["accepted", "sent", "delivered"]),
        ("+13175550005", ["accepted", "sending_failed"]),
        ("+13175550013", ["accepted", "sending_failed"]),
        ("+13175550006", ["accepted", "sent", "delivery_failed"]),
        ("+13175550012", ["accepted", "sent", "delivery_failed"]),
    ],
)
def test_status_follows_the_delivery_simulation(slow_sbx: SandboxServer, to: str, path: list[str]) -> None:
    sent = post(slow_sbx, sms("x", to))
    assert sent.json()["status"] == "accepted"
    message_id = sent.json()["id"]
    assert statuses_seen(slow_sbx, message_id, path[-1]) == path
    final = get(slow_sbx, f"/messages/{message_id}").json()
    assert final["updatedAt"] > final["createdAt"]
    assert {k: v for k, v in final.items() if k not in ("status", "updatedAt")} == {
        k: v for k, v in sent.json().items() if k not in ("status", "updatedAt")
    }


def test_delivery_unconfirmed_stays_sent(slow_sbx: SandboxServer) -> None:
    message_id = post(slow_sbx, sms("x", "+13175550007")).json()["id"]
    assert statuses_seen(slow_sbx, message_id, "sent") == ["accepted", "sent"]
    time.sleep(1.0)
    assert get(slow_sbx, f"/messages/{message_id}").json()["status"] == "sent"
    assert [r["status"] for r in slow_sbx.messages(messageId=message_id)] == ["DELIVERY_UNCONFIRMED"]


def test_unknown_message_id_is_404(sbx: SandboxServer) -> None:
    telnyx_id = telnyx_send(sbx).json()["data"]["id"]
    for message_id in (OTHER, "17", telnyx_id):
        response = get(sbx, f"/messages/{message_id}")
        assert response.status_code == 404
        assert response.json() == {"code": "NotFound", "message": "message not found"}


# -- rate limit ---------------------------------------------------------------------------------------------


def test_sends_are_rate_limited_per_workspace_with_retry_after() -> None:
    with SandboxServer(api_keys=("key-a", "key-b"), send_rate_limit="2/60") as server:
        # 404s (wrong channel) come before the limit and do not count
        other = f"{server.url}/workspaces/{WORKSPACE}/channels/{OTHER}"
        assert post(server, sms(), channel_url=other).status_code == 404
        assert post(server, sms(), headers=auth(server, "key-a")).status_code == 202
        assert post(server, sms(), headers=auth(server, "key-b")).status_code == 202
        refused = post(server, sms(), headers=auth(server, "key-a"))  # the window is the workspace's
        assert refused.status_code == 429
        assert refused.json() == {"code": "TooManyRequests", "message": refused.json()["message"]}
        assert refused.json()["message"]
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        # GETs are not subject to the send limit, and MTA's /v3/send has its own window
        message_id = bird_rows(server)[0]["messageId"]
        for _ in range(3):
            assert get(server).status_code == 200
            assert get(server, f"/messages/{message_id}").status_code == 200
        assert mta_send(server) == 1
        assert len(bird_rows(server)) == 2
        assert server.stats()["rateLimited"] == 1


def test_rate_limit_is_off_in_tests_by_default(sbx: SandboxServer) -> None:
    for _ in range(30):
        assert post(sbx, sms()).status_code == 202


# -- faults ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code"),
    [(500, "InternalServerError"), (503, "ServiceUnavailable"), (409, "Conflict"), (599, "InternalServerError")],
)
def test_status_fault_for_bird_leaves_mta_and_telnyx_alone(sbx: SandboxServer, status: int, code: str) -> None:
    sbx.fault("status", status=status, provider="bird")
    assert mta_send(sbx) == 1
    assert telnyx_send(sbx).status_code == 200
    assert sbx.stats()["pendingFaults"] == [{"fault": "status", "count": 1, "status": status, "provider": "bird"}]
    response = post(sbx, sms())
    assert response.status_code == status
    assert response.json() == {"code": code, "message": f"sandbox fault: HTTP {status}"}
    assert bird_rows(sbx) == []
    assert post(sbx, sms()).status_code == 202
    assert len(bird_rows(sbx)) == 1


def test_mta_and_telnyx_faults_leave_bird_alone(sbx: SandboxServer) -> None:
    sbx.fault("status", status=503)
    sbx.fault("status", status=503, provider="telnyx")
    assert post(sbx, sms()).status_code == 202
    assert len(sbx.stats()["pendingFaults"]) == 2


def test_a_fault_waits_for_an_authenticated_send_to_the_channel(sbx: SandboxServer) -> None:
    sbx.fault("status", status=500, provider="bird")
    assert post(sbx, sms(), headers={"Authorization": "AccessKey wrong"}).status_code == 401
    other = f"{sbx.url}/workspaces/{OTHER}/channels/{CHANNEL}"
    assert post(sbx, sms(), channel_url=other).status_code == 404
    assert get(sbx).status_code == 200
    assert post(sbx, {"not": "valid"}).status_code == 500  # the fault comes before validation


def test_rate_limit_and_html_faults_for_bird(sbx: SandboxServer) -> None:
    sbx.fault("rate_limit", provider="bird")
    sbx.fault("html", provider="bird")
    limited = post(sbx, sms())
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "1")
    assert limited.json()["code"] == "TooManyRequests"
    page = post(sbx, sms())
    assert page.status_code == 502
    assert page.headers["content-type"].startswith("text/html")
    assert "502 Bad Gateway" in page.text
    assert bird_rows(sbx) == []
    assert sbx.stats()["faultsFired"] == 2


def test_timeout_fault_for_bird(sbx: SandboxServer) -> None:
    sbx.fault("timeout", provider="bird")
    with pytest.raises(httpx.ReadTimeout):
        post(sbx, sms(), timeout=0.5)
    assert bird_rows(sbx) == []
    assert post(sbx, sms()).status_code == 202


def test_drop_after_commit_records_then_drops_and_a_resend_texts_again(sbx: SandboxServer) -> None:
    sbx.fault("drop_after_commit", provider="bird")
    with pytest.raises(httpx.RemoteProtocolError):
        post(sbx, sms(reference="drop-1"))
    rows = bird_rows(sbx)
    assert [(r["to"], r["requestId"]) for r in rows] == [(TO, "drop-1")]
    # Bird has no idempotency: a retry by the caller is a second text
    assert post(sbx, sms(reference="drop-1")).status_code == 202
    assert len(bird_rows(sbx)) == 2


def test_fault_provider_bird_is_listed_and_cleared(sbx: SandboxServer) -> None:
    sbx.fault("html", count=2, provider="bird", after=1)
    assert sbx.client().get("/_sandbox/faults").json() == {
        "pending": [{"fault": "html", "count": 2, "status": 500, "provider": "bird", "after": 1}]
    }
    assert post(sbx, sms()).status_code == 202
    assert post(sbx, sms()).status_code == 502
    sbx.client().delete("/_sandbox/faults")
    assert post(sbx, sms()).status_code == 202


# -- the ledger, other providers, the inbox ----------------------------------------------------------------------


def test_ledger_rows_carry_provider_bird_and_mta_routes_ignore_them(sbx: SandboxServer) -> None:
    bird_id = post(sbx, sms("from bird")).json()["id"]
    assert telnyx_send(sbx).status_code == 200
    assert mta_send(sbx) == 1
    assert [r["provider"] for r in sbx.messages()] == ["bird", "telnyx", "mta"]
    assert [r["messageId"] for r in bird_rows(sbx)] == [bird_id]
    assert [r["provider"] for r in sbx.messages(provider="mta")] == ["mta"]
    outbound = bird_rows(sbx)[0]["outboundId"]
    mta = sbx.client()
    assert mta.get(f"/v3/sent-messages/{outbound}").status_code == 404
    assert [r["destinationNumber"] for r in mta.get("/v3/deliveries").json()["data"]["rows"]] == [TO]
    telnyx_get = httpx.get(
        f"{sbx.telnyx_base_url}/messages/{bird_id}", headers={"Authorization": f"Bearer {sbx.api_key}"}, trust_env=False
    )
    assert telnyx_get.status_code == 404
    page = mta.get("/").text
    assert "Bird Channels" in page and "from bird" in page


def test_mta_webhooks_do_not_fire_for_bird_messages(sbx: SandboxServer, receiver: Receiver) -> None:
    sbx.client().post("/v3/webhooks", json={"event": "delivery-status", "url": receiver.url, "secret": "s"})
    assert post(sbx, sms("x", "+13175552222")).status_code == 202
    assert mta_send(sbx) == 1
    wait_until(lambda: len(receiver.snapshot()) >= 2)
    time.sleep(0.2)
    bodies = [json.loads(b) for _, b in receiver.snapshot()]
    assert {b["destinationNumber"] for b in bodies} == {TO}


def test_reset_forgets_bird_messages(sbx: SandboxServer) -> None:
    message_id = post(sbx, sms()).json()["id"]
    sbx.reset()
    assert bird_rows(sbx) == []
    assert get(sbx, f"/messages/{message_id}").status_code == 404


def test_other_workspace_and_channel_ids() -> None:
    workspace, channel = "11111111-2222-4333-8444-555555555555", "66666666-7777-4888-8999-000000000000"
    with SandboxServer(bird_workspace_id=workspace, bird_channel_id=channel) as server:
        assert server.bird_channel_url.endswith(f"/workspaces/{workspace}/channels/{channel}")
        assert post(server, sms()).status_code == 202
        assert get(server).json()["id"] == channel
        default = f"{server.url}/workspaces/{WORKSPACE}/channels/{CHANNEL}"
        assert post(server, sms(), channel_url=default).status_code == 404
    with pytest.raises(ValueError, match="bird_workspace_id"):
        SandboxServer(bird_workspace_id="not-a-uuid")


# -- the process: banner, log, flags -------------------------------------------------------------------------------


def test_process_banner_flags_and_the_key_never_in_the_log(tmp_path: Path) -> None:
    key = "bird-canary-key-8c1f2e"
    workspace, channel = "11111111-2222-4333-8444-555555555555", "66666666-7777-4888-8999-000000000000"
    log = tmp_path / "sandbox.log"
    with SandboxProcess(
        api_keys=(key,),
        log_path=log,
        bird_workspace_id=workspace,
        bird_channel_id=channel,
        args=("--log-level", "debug"),
    ) as server:
        assert (server.bird_workspace_id, server.bird_channel_id) == (workspace, channel)
        assert post(server, sms(reference="log-ref")).status_code == 202
        assert post(server, sms(), headers={"Authorization": f"AccessKey {key}x"}).status_code == 401
        assert post(server, b"{bad", headers={"Content-Type": "application/json"}).status_code == 400
        assert get(server).status_code == 200
        wait_until(lambda: "/messages" in log.read_text(), timeout=10)
        assert len(bird_rows(server)) == 1
    text = log.read_text()
    assert f"workspace {workspace}, channel {channel}" in text  # the start banner
    assert f"/workspaces/{workspace}/channels/{channel}/messages" in text  # the access log
    assert key not in text


def test_cli_bird_flags() -> None:
    workspace, channel = "11111111-2222-4333-8444-555555555555", "66666666-7777-4888-8999-000000000000"
    settings, _ = parse_args(["--bird-workspace-id", workspace, "--bird-channel-id", channel])
    assert (settings.bird_workspace_id, settings.bird_channel_id) == (workspace, channel)
    defaults, _ = parse_args([])
    assert (defaults.bird_workspace_id, defaults.bird_channel_id) == (WORKSPACE, CHANNEL)
    for bad in (["--bird-workspace-id", "ws"], ["--bird-channel-id", CHANNEL.upper()], ["--bird-channel-id", ""]):
        with pytest.raises(SystemExit):
            parse_args(bad)
