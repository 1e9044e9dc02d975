"""The sandbox's Telnyx Messaging API (/v2) over real HTTP on 127.0.0.1: every refusal, idempotency,
STOP, status progression, rate limit, faults, signed webhooks, and MTA's /v3 left as it was."""

from __future__ import annotations

import base64
import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sandbox_helpers import Receiver, make_client, wait_until

from airflow_provider_mta.backends.mta.models import SendRequest
from airflow_provider_mta.sandbox.__main__ import parse_args
from airflow_provider_mta.sandbox.stats import Stats
from airflow_provider_mta.sandbox.statuses import final_status_for
from airflow_provider_mta.sandbox.store import NewMessage, Store
from airflow_provider_mta.sandbox.telnyx_signing import WebhookSigner
from airflow_provider_mta.sandbox.testing import SandboxServer
from airflow_provider_mta.sandbox.webhook_dispatcher import WebhookDispatcher

FROM = "+13175550100"
TO = "+13175551111"


def post(sbx: SandboxServer, body: Any, headers: dict[str, str] | None = None, **kwargs: Any) -> httpx.Response:
    auth = {"Authorization": f"Bearer {sbx.api_key}", **(headers or {})}
    if isinstance(body, (bytes, str)):
        return httpx.post(sbx.telnyx_base_url + "/messages", content=body, headers=auth, trust_env=False, **kwargs)
    return httpx.post(sbx.telnyx_base_url + "/messages", json=body, headers=auth, trust_env=False, **kwargs)


def get(sbx: SandboxServer, path: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {sbx.api_key}"}
    return httpx.get(sbx.telnyx_base_url + path, headers=headers, trust_env=False)


def sms(**fields: Any) -> dict[str, Any]:
    return {"from": FROM, "to": TO, "text": "hello from the sandbox", **fields}


def only_error(response: httpx.Response) -> dict[str, Any]:
    errors = response.json()["errors"]
    assert len(errors) == 1
    error: dict[str, Any] = errors[0]
    return error


def telnyx_rows(sbx: SandboxServer) -> list[dict[str, Any]]:
    return sbx.messages(provider="telnyx")


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


# -- authentication ------------------------------------------------------------------------------


def test_missing_and_wrong_api_key_are_telnyx_401(sbx: SandboxServer) -> None:
    url = sbx.telnyx_base_url + "/messages"
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {sbx.api_key}"}):
        response = httpx.post(url, json=sms(), headers=headers, trust_env=False)
        assert response.status_code == 401
        error = only_error(response)
        assert (error["code"], error["title"]) == ("10009", "Authentication failed")
    assert httpx.get(sbx.telnyx_base_url + "/balance", trust_env=False).status_code == 401
    assert telnyx_rows(sbx) == []


# -- refusals ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "code", "pointer"),
    [
        (sms(colour="blue"), "10015", "/colour"),
        ({"from": FROM, "text": "x"}, "10004", "/to"),
        (sms(to="3175551111"), "40310", "/to"),
        (sms(to="+1317555"), "40310", "/to"),
        (sms(to="+1 317 555 1111"), "40310", "/to"),
        (sms(to=["+13175551111", "+13175552222"]), "40310", "/to"),
        (sms(to=17), "40310", "/to"),
        ({"to": TO, "text": "x"}, "10004", "/from"),
        (sms(**{"from": "not a sender!"}), "40305", "/from"),
        (sms(**{"from": "TooLongSenderId"}), "40305", "/from"),
        (sms(**{"from": "Sandbox"}), "10004", "/messaging_profile_id"),
        (sms(messaging_profile_id="profile-1"), "10006", "/messaging_profile_id"),
        (sms(text=None), "10004", "/text"),
        (sms(text=""), "10004", "/text"),
        (sms(text=5), "10015", "/text"),
        (sms(type="SMS", media_urls=["https://example.com/a.png"]), "40304", "/media_urls"),
        (sms(type="MMS"), "10004", "/media_urls"),
        (sms(type="RCS"), "10015", "/type"),
        (sms(media_urls=["ftp://example.com/a.png"]), "10003", "/media_urls/0"),
        (sms(media_urls="https://example.com/a.png"), "10015", "/media_urls"),
        (sms(webhook_url="not-a-url"), "10003", "/webhook_url"),
        (sms(webhook_failover_url="https://x/" + "a" * 2000), "10003", "/webhook_failover_url"),
        (sms(use_profile_webhooks="yes"), "10015", "/use_profile_webhooks"),
        (sms(auto_detect=1), "10015", "/auto_detect"),
        (sms(encoding="utf8"), "10015", "/encoding"),
        (sms(encoding="gsm7", text="привет"), "10015", "/text"),
        (sms(send_at="tomorrow"), "10015", "/send_at"),
        (sms(send_at="2030-01-01T10:00:00"), "10015", "/send_at"),
        (sms(send_at="2000-01-01T10:00:00Z"), "10015", "/send_at"),
        (sms(text="a" * 1531), "40302", "/text"),
        (sms(text="ж" * 671), "40302", "/text"),
        (sms(text="{" * 766), "40302", "/text"),
    ],
)
def test_refused_bodies(sbx: SandboxServer, body: dict[str, Any], code: str, pointer: str) -> None:
    response = post(sbx, body)
    assert response.status_code == 400
    error = only_error(response)
    assert error["code"] == code
    assert error["source"] == {"pointer": pointer}
    assert error["title"] and error["detail"]
    assert telnyx_rows(sbx) == []


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"", b'"text"'])
def test_a_body_that_is_not_a_json_object_is_10015(sbx: SandboxServer, raw: bytes) -> None:
    response = post(sbx, raw, {"Content-Type": "application/json"})
    assert response.status_code == 400
    assert only_error(response)["code"] == "10015"
    assert telnyx_rows(sbx) == []


@pytest.mark.parametrize(
    ("text", "encoding", "parts", "wire"),
    [
        ("a" * 160, "auto", 1, "GSM-7"),
        ("a" * 161, "auto", 2, "GSM-7"),
        ("a" * 1530, "auto", 10, "GSM-7"),
        ("{" * 765, "auto", 10, "GSM-7"),
        ("é", "auto", 1, "UCS-2"),  # not in Telnyx's GSM-7 safe set
        ("ж" * 70, "auto", 1, "UCS-2"),
        ("ж" * 670, "auto", 10, "UCS-2"),
        ("hello", "ucs2", 1, "UCS-2"),
        ("hello", "gsm7", 1, "GSM-7"),
    ],
)
def test_accepted_texts_are_measured_like_telnyx(
    sbx: SandboxServer, text: str, encoding: str, parts: int, wire: str
) -> None:
    response = post(sbx, sms(text=text, encoding=encoding, auto_detect=True))
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert (data["parts"], data["encoding"]) == (parts, wire)
    assert data["cost"] == {"amount": f"{0.004 * parts:.4f}", "currency": "USD"}


def test_accepted_answer_has_telnyx_shape(sbx: SandboxServer) -> None:
    response = post(sbx, sms(webhook_url="https://hooks.example.com/a", subject="hi"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    data = response.json()["data"]
    assert data["record_type"] == "message"
    assert data["direction"] == "outbound"
    assert data["type"] == "SMS"
    assert data["to"] == [
        {"phone_number": TO, "status": "queued", "carrier": "Sandbox Carrier", "line_type": "Wireless"}
    ]
    assert data["from"]["phone_number"] == FROM
    assert (data["text"], data["subject"], data["errors"], data["completed_at"]) == (
        "hello from the sandbox",
        "hi",
        [],
        None,
    )
    assert data["webhook_url"] == "https://hooks.example.com/a"
    rows = telnyx_rows(sbx)
    assert [(r["messageId"], r["to"], r["provider"], r["type"]) for r in rows] == [(data["id"], TO, "telnyx", "sms")]


def test_to_as_a_one_element_list_and_mms_and_profile_sender(sbx: SandboxServer) -> None:
    mms = post(sbx, {"from": FROM, "to": [TO], "media_urls": ["https://example.com/cat.png"]})
    assert mms.status_code == 200, mms.text
    data = mms.json()["data"]
    assert (data["type"], data["parts"], data["to"][0]["phone_number"]) == ("MMS", 1, TO)
    assert data["media"][0]["url"] == "https://example.com/cat.png"
    profile = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
    alpha = post(sbx, {"from": "Sandbox", "messaging_profile_id": profile, "to": TO, "text": "x"})
    assert alpha.status_code == 200, alpha.text
    assert alpha.json()["data"]["messaging_profile_id"] == profile
    pool = post(sbx, {"messaging_profile_id": profile, "to": TO, "text": "x"})
    assert pool.status_code == 200
    assert len(telnyx_rows(sbx)) == 3


# -- idempotency ----------------------------------------------------------------------------------------


def test_same_key_same_body_replays_the_first_answer(sbx: SandboxServer) -> None:
    raw = json.dumps(sms()).encode()
    headers = {"Idempotency-Key": "key-1", "Content-Type": "application/json"}
    first = post(sbx, raw, headers)
    second = post(sbx, raw, headers)
    assert first.status_code == second.status_code == 200
    assert "idempotent-replayed" not in first.headers
    assert second.headers["idempotent-replayed"] == "true"
    assert second.content == first.content
    assert len(telnyx_rows(sbx)) == 1
    assert sbx.stats()["telnyxReplays"] == 1


def test_same_key_different_body_is_422_and_sends_nothing(sbx: SandboxServer) -> None:
    assert post(sbx, sms(), {"Idempotency-Key": "key-2"}).status_code == 200
    changed = post(sbx, sms(text="another text"), {"Idempotency-Key": "key-2"})
    assert changed.status_code == 422
    assert only_error(changed)["code"] == "10015"
    # byte-for-byte: the same JSON with other spacing is a different body
    spaced = post(sbx, json.dumps(sms(), indent=2), {"Idempotency-Key": "key-2", "Content-Type": "application/json"})
    assert spaced.status_code == 422
    assert len(telnyx_rows(sbx)) == 1


def test_only_successful_answers_are_remembered(sbx: SandboxServer) -> None:
    refused = post(sbx, sms(to="555"), {"Idempotency-Key": "key-3"})
    assert refused.status_code == 400
    accepted = post(sbx, sms(), {"Idempotency-Key": "key-3"})
    assert accepted.status_code == 200
    assert "idempotent-replayed" not in accepted.headers
    assert len(telnyx_rows(sbx)) == 1


@pytest.mark.parametrize("key", ["has space", "a" * 256, "semi;colon"])
def test_malformed_idempotency_key_is_refused(sbx: SandboxServer, key: str) -> None:
    response = post(sbx, sms(), {"Idempotency-Key": key})
    assert response.status_code == 400
    error = only_error(response)
    assert (error["code"], error["source"]) == ("10015", {"parameter": "Idempotency-Key"})
    assert telnyx_rows(sbx) == []


def test_idempotency_keys_survive_a_restart(tmp_path: Any) -> None:
    db = str(tmp_path / "ledger.sqlite3")
    with SandboxServer(db_path=db) as first:
        original = post(first, sms(), {"Idempotency-Key": "key-restart"})
    with SandboxServer(db_path=db) as second:
        again = post(second, sms(), {"Idempotency-Key": "key-restart"})
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json() == original.json()
        assert len(telnyx_rows(second)) == 1


# -- STOP ----------------------------------------------------------------------------------------------


def test_a_number_that_texted_stop_is_403_40300(sbx: SandboxServer) -> None:
    sbx.opt_out("(317) 555-1111")
    response = post(sbx, sms())
    assert response.status_code == 403
    error = only_error(response)
    assert (error["code"], error["title"], error["source"]) == (
        "40300",
        "Blocked due to STOP message",
        {"pointer": "/to"},
    )
    assert telnyx_rows(sbx) == []
    assert post(sbx, sms(to="+13175552222")).status_code == 200


# -- retrieve, status progression, balance ------------------------------------------------------------


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
        status = response.json()["data"]["to"][0]["status"]
        if not seen or seen[-1] != status:
            seen.append(status)
        if status == until:
            return seen
        time.sleep(0.05)
    pytest.fail(f"{message_id} never reached {until}: {seen}")


@pytest.mark.parametrize(
    ("to", "path", "error_code"),
    [
        ("+13175551111", ["queued", "sent", "delivered"], None),
        ("+13175550005", ["queued", "sending", "sending_failed"], "40008"),
        ("+13175550006", ["queued", "sent", "delivery_failed"], "40008"),
        ("+13175550007", ["queued", "sent", "delivery_unconfirmed"], None),
        ("+13175550012", ["queued", "sent", "delivery_failed"], "40001"),
    ],
)
def test_status_progresses_with_the_delivery_simulation(
    slow_sbx: SandboxServer, to: str, path: list[str], error_code: str | None
) -> None:
    sent = post(slow_sbx, sms(to=to))
    assert sent.json()["data"]["to"][0]["status"] == "queued"
    message_id = sent.json()["data"]["id"]
    assert statuses_seen(slow_sbx, message_id, path[-1]) == path
    data = get(slow_sbx, f"/messages/{message_id}").json()["data"]
    assert data["completed_at"] is not None
    assert [e["code"] for e in data["errors"]] == ([error_code] if error_code else [])


def test_unknown_message_id_is_telnyx_404(sbx: SandboxServer) -> None:
    for message_id in ("40385f64-5717-4562-b3fc-2c963f66afa6", "17"):
        response = get(sbx, f"/messages/{message_id}")
        assert response.status_code == 404
        assert only_error(response)["code"] == "10005"
    unknown_path = get(sbx, "/numbers")
    assert (unknown_path.status_code, only_error(unknown_path)["code"]) == (404, "10005")


def test_an_mta_outbound_id_is_not_a_telnyx_message(sbx: SandboxServer) -> None:
    with make_client(sbx) as client:
        result = client.send(SendRequest.build(subscribers=[TO], message="mta"))
    assert get(sbx, f"/messages/{result.message_id}").status_code == 404


def test_balance_goes_down_with_each_part(sbx: SandboxServer) -> None:
    before = get(sbx, "/balance").json()["data"]
    assert before == {
        "record_type": "balance",
        "balance": "100.0000",
        "credit_limit": "0.0000",
        "available_credit": "100.0000",
        "currency": "USD",
        "pending": "0.0000",
    }
    assert post(sbx, sms(text="a" * 161)).status_code == 200  # 2 parts
    after = get(sbx, "/balance").json()["data"]
    assert (after["balance"], after["available_credit"]) == ("99.9920", "99.9920")


# -- rate limit ----------------------------------------------------------------------------------------


def test_v2_rate_limit_is_per_api_key_with_telnyx_headers() -> None:
    with SandboxServer(api_keys=("key-a", "key-b"), telnyx_rate_limit="2/60") as server:
        h = {"Authorization": "Bearer key-a"}
        base = server.telnyx_base_url
        first = httpx.get(base + "/balance", headers=h, trust_env=False)
        assert (first.headers["x-ratelimit-limit"], first.headers["x-ratelimit-remaining"]) == ("2", "1")
        assert 59 <= int(first.headers["x-ratelimit-reset"]) <= 60
        assert httpx.post(base + "/messages", json=sms(), headers=h, trust_env=False).status_code == 200
        refused = httpx.post(base + "/messages", json=sms(), headers=h, trust_env=False)
        assert refused.status_code == 429
        error = only_error(refused)
        assert (error["code"], error["title"]) == ("10011", "Too many requests")
        assert refused.headers["x-ratelimit-remaining"] == "0"
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        other = httpx.get(base + "/balance", headers={"Authorization": "Bearer key-b"}, trust_env=False)
        assert other.status_code == 200
        # MTA's own /v3 window is separate (and off here)
        mta = httpx.get(server.base_url + "/auth/verify-api-key", headers=h, trust_env=False)
        assert mta.status_code == 200
        assert len(telnyx_rows(server)) == 1


# -- faults ---------------------------------------------------------------------------------------------


def test_status_fault_for_telnyx_leaves_mta_sends_alone(sbx: SandboxServer) -> None:
    sbx.fault("status", status=503, provider="telnyx")
    with make_client(sbx) as client:
        assert client.send(SendRequest.build(subscribers=[TO], message="mta")).total_sent == 1
    assert sbx.stats()["pendingFaults"] == [{"fault": "status", "count": 1, "status": 503, "provider": "telnyx"}]
    response = post(sbx, sms())
    assert response.status_code == 503
    assert only_error(response)["code"] == "10007"
    assert telnyx_rows(sbx) == []
    assert post(sbx, sms()).status_code == 200


def test_rate_limit_and_html_faults_for_telnyx(sbx: SandboxServer) -> None:
    sbx.fault("rate_limit", provider="telnyx")
    sbx.fault("html", provider="telnyx")
    limited = post(sbx, sms())
    assert (limited.status_code, limited.headers["retry-after"], only_error(limited)["code"]) == (429, "1", "10011")
    page = post(sbx, sms())
    assert page.status_code == 502
    assert page.headers["content-type"].startswith("text/html")
    assert "502 Bad Gateway" in page.text
    assert telnyx_rows(sbx) == []


def test_timeout_fault_for_telnyx(sbx: SandboxServer) -> None:
    sbx.fault("timeout", provider="telnyx")
    with pytest.raises(httpx.ReadTimeout):
        post(sbx, sms(), timeout=0.5)
    assert telnyx_rows(sbx) == []


def test_drop_after_commit_records_then_drops_and_the_key_replays(sbx: SandboxServer) -> None:
    sbx.fault("drop_after_commit", provider="telnyx")
    with pytest.raises(httpx.RemoteProtocolError):
        post(sbx, sms(), {"Idempotency-Key": "drop-1"})
    rows = telnyx_rows(sbx)
    assert len(rows) == 1
    retry = post(sbx, sms(), {"Idempotency-Key": "drop-1"})
    assert retry.status_code == 200
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.json()["data"]["id"] == rows[0]["messageId"]
    assert len(telnyx_rows(sbx)) == 1


def test_fault_with_an_unknown_provider_is_refused(sbx: SandboxServer) -> None:
    response = sbx.client().post("/_sandbox/faults", json={"fault": "status", "provider": "twilio"})
    assert response.status_code == 400
    assert "provider" in response.json()["message"]


# -- webhooks ---------------------------------------------------------------------------------------------


def verify(public_key: str, headers: dict[str, str], body: bytes) -> None:
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key))
    signed = headers["telnyx-timestamp"].encode() + b"|" + body
    key.verify(base64.b64decode(headers["telnyx-signature-ed25519"]), signed)


def test_webhooks_are_signed_telnyx_events(sbx: SandboxServer, receiver: Receiver) -> None:
    sent = post(sbx, sms(webhook_url=receiver.url))
    message_id = sent.json()["data"]["id"]
    calls = wait_until(lambda: len(receiver.snapshot()) >= 2 and receiver.snapshot())
    public_key = sbx.telnyx_public_key()
    assert len(base64.b64decode(public_key)) == 32
    events = []
    for headers, body in calls:
        verify(public_key, headers, body)
        assert abs(int(headers["telnyx-timestamp"]) - time.time()) < 60
        events.append(json.loads(body))
    assert [e["data"]["event_type"] for e in events] == ["message.sent", "message.finalized"]
    final = events[1]
    assert final["data"]["record_type"] == "event"
    assert final["data"]["payload"]["id"] == message_id
    assert final["data"]["payload"]["to"][0]["status"] == "delivered"
    assert final["meta"] == {"attempt": 1, "delivered_to": receiver.url}
    headers, body = calls[1]
    with pytest.raises(InvalidSignature):
        verify(public_key, headers, body.replace(b"delivered", b"delivery_failed"))
    with pytest.raises(InvalidSignature):
        verify(public_key, {**headers, "telnyx-timestamp": str(int(headers["telnyx-timestamp"]) + 1)}, body)


def test_failover_url_gets_the_event_when_the_primary_fails(sbx: SandboxServer, receiver: Receiver) -> None:
    post(sbx, sms(to="+13175550006", webhook_url=closed_port_url(), webhook_failover_url=receiver.url))
    calls = wait_until(lambda: len(receiver.snapshot()) >= 2 and receiver.snapshot())
    final = json.loads(calls[-1][1])
    assert final["data"]["payload"]["to"][0]["status"] == "delivery_failed"
    assert final["meta"]["delivered_to"] == receiver.url
    verify(sbx.telnyx_public_key(), calls[-1][0], calls[-1][1])


def test_profile_webhook_setting_and_use_profile_webhooks(receiver: Receiver) -> None:
    signer = WebhookSigner()
    with SandboxServer(telnyx_webhook_url=receiver.url, telnyx_signing_key=signer.private_key) as server:
        assert server.telnyx_public_key() == signer.public_key
        assert post(server, sms(use_profile_webhooks=False)).status_code == 200
        assert post(server, sms(to="+13175550005")).status_code == 200
        wait_until(receiver.snapshot)
        time.sleep(0.3)
        calls = receiver.snapshot()
        # the first message opted out of profile webhooks; the second fails sending: no message.sent
        assert [json.loads(b)["data"]["event_type"] for _, b in calls] == ["message.finalized"]
        assert json.loads(calls[0][1])["data"]["payload"]["to"][0]["status"] == "sending_failed"
        verify(signer.public_key, calls[0][0], calls[0][1])


def test_mta_webhooks_do_not_fire_for_telnyx_messages(sbx: SandboxServer, receiver: Receiver) -> None:
    sbx.client().post("/v3/webhooks", json={"event": "delivery-status", "url": receiver.url, "secret": "s"})
    assert post(sbx, sms()).status_code == 200
    with make_client(sbx) as client:
        client.send(SendRequest.build(subscribers=["+13175552222"], message="mta"))
    wait_until(lambda: len(receiver.snapshot()) >= 2)
    time.sleep(0.2)
    bodies = [json.loads(b) for _, b in receiver.snapshot()]
    assert {b["destinationNumber"] for b in bodies} == {"+13175552222"}


# -- MTA unchanged, CLI ------------------------------------------------------------------------------------


def test_mta_routes_ignore_telnyx_messages(sbx: SandboxServer) -> None:
    telnyx_id = post(sbx, sms()).json()["data"]["id"]
    outbound = telnyx_rows(sbx)[0]["outboundId"]
    with make_client(sbx) as client:
        result = client.send(SendRequest.build(subscribers=["+13175552222"], message="mta"))
    mta = sbx.client()
    assert mta.get(f"/v3/sent-messages/{outbound}").status_code == 404
    rows = mta.get("/v3/deliveries").json()["data"]["rows"]
    assert [r["destinationNumber"] for r in rows] == ["+13175552222"]
    assert [r["provider"] for r in sbx.messages()] == ["telnyx", "mta"]
    assert [r["messageId"] for r in sbx.messages(provider="mta")] == [result.message_id]
    assert telnyx_id != result.message_id
    assert sbx.client().get("/_sandbox/messages", params={"provider": "sms"}).status_code == 400
    unknown = mta.get("/v3/nope")
    assert unknown.status_code == 404 and unknown.json()["type"] == "not_found_error"
    assert "Telnyx /v2" in mta.get("/").text


def test_cli_telnyx_flags() -> None:
    key = WebhookSigner().private_key
    settings, _ = parse_args(
        ["--telnyx-rate-limit", "5/1", "--telnyx-webhook-url", "http://127.0.0.1:9/h", "--telnyx-signing-key", key]
    )
    assert (settings.telnyx_rate_limit, settings.telnyx_webhook_url, settings.telnyx_signing_key) == (
        "5/1",
        "http://127.0.0.1:9/h",
        key,
    )
    assert parse_args([])[0].telnyx_rate_limit == "100/60"
    for bad in (["--telnyx-signing-key", "c2hvcnQ="], ["--telnyx-webhook-url", "ftp://x"]):
        with pytest.raises(SystemExit):
            parse_args(bad)


def test_a_message_stored_after_a_tick_with_an_earlier_final_time_still_gets_its_webhook() -> None:
    """The send handler takes its clock before it stores the row (in a thread); a tick in between must
    not lose that message's event (seen as a flaky missing ``message.finalized`` on a loaded machine)."""
    store = Store(":memory:")
    dispatcher = WebhookDispatcher(store, Stats(), signer=WebhookSigner(), telnyx_default_url="http://127.0.0.1:9/hook")
    t0 = time.time()
    message = NewMessage("+13175550005", "hi", 1, 1, "sms", final_status_for("+13175550005"))
    assert dispatcher.tick(now=t0 + 1) == 0  # the tick runs first ...
    data = {
        "type": "SMS", "from": "+13175550100", "messaging_profile_id": None, "text": "hi", "subject": None,
        "media_urls": [], "webhook_url": None, "webhook_failover_url": None, "use_profile_webhooks": True,
        "encoding": "GSM-7", "cost": "0.0040",
    }  # fmt: skip
    # ... then the row lands, its times (delay 0) taken at t0, before that tick
    store.record_telnyx(message, message_id="m-late", data=data, now=t0, release_at=None, delivery_delay_s=0.0)
    assert dispatcher.tick(now=t0 + 2) == 1  # message.finalized (it fails sending: no message.sent)
    assert dispatcher.tick(now=t0 + 3) == 0  # and only once
