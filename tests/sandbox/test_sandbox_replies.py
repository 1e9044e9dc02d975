"""``POST /_sandbox/reply``: the sandbox plays the phone. Each vendor's inbound event arrives signed and in
its exact shape, STOP/START change the opt-outs (and later sends), Bird's delivery webhooks fire, bad input
is a 400, and the inbox page lists replies and has the reply boxes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sandbox_helpers import Receiver, assert_masked_400, wait_until

from airflow_provider_mta.backends.bird import webhook_signature as bird_signature
from airflow_provider_mta.backends.mta.webhook_signature import verify_signature as verify_mta
from airflow_provider_mta.backends.telnyx.webhook_signature import verify_signature as verify_telnyx
from airflow_provider_mta.core.errors import MtaWebhookSignatureError
from airflow_provider_mta.sandbox.__main__ import parse_args
from airflow_provider_mta.sandbox.replies import MTA_ACCOUNT_NUMBER
from airflow_provider_mta.sandbox.telnyx_payload import SANDBOX_POOL_NUMBER
from airflow_provider_mta.sandbox.telnyx_signing import WebhookSigner
from airflow_provider_mta.sandbox.testing import SandboxServer

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
TELNYX_SIGNER = WebhookSigner()
BIRD_KEY = "bird-signing-key-for-tests"
BIRD_SENDER = "+15550000000"


class Hooks:
    """The module's Telnyx profile webhook and Bird webhook receivers; Bird's URL has a query string, so a
    signature over any other URL would not verify."""

    def __init__(self) -> None:
        self.telnyx = Receiver()
        self.bird = Receiver()
        self.bird_url = self.bird.url + "?subscription=sbx-1"

    def clear(self) -> None:
        for receiver in (self.telnyx, self.bird):
            with receiver._lock:
                receiver.calls.clear()

    def close(self) -> None:
        self.telnyx.close()
        self.bird.close()


@pytest.fixture(scope="module")
def hooks() -> Iterator[Hooks]:
    h = Hooks()
    yield h
    h.close()


@pytest.fixture(scope="module")
def sbx_server(hooks: Hooks) -> Iterator[SandboxServer]:
    """Overrides conftest's: this module's server posts Telnyx and Bird webhooks to ``hooks``."""
    with SandboxServer(
        telnyx_webhook_url=hooks.telnyx.url,
        telnyx_signing_key=TELNYX_SIGNER.private_key,
        bird_webhook_url=hooks.bird_url,
        bird_signing_key=BIRD_KEY,
    ) as server:
        yield server


@pytest.fixture(autouse=True)
def fresh(sbx: SandboxServer, hooks: Hooks) -> None:
    time.sleep(0.1)  # let the last test's queued posts land before clearing
    hooks.clear()


def reply(sbx: SandboxServer, body: Any, **kwargs: Any) -> httpx.Response:
    return sbx.client().post("/_sandbox/reply", json=body, **kwargs)


def register(sbx: SandboxServer, event: str, url: str, secret: str) -> None:
    answer = sbx.client().post("/v3/webhooks", json={"event": event, "url": url, "secret": secret})
    assert answer.status_code == 200, answer.text


def bodies(receiver: Receiver) -> list[dict[str, Any]]:
    return [json.loads(body) for _, body in receiver.snapshot()]


def opted_out(sbx: SandboxServer) -> list[str]:
    numbers: list[str] = sbx.client().get("/_sandbox/opt-outs").json()["data"]["optedOut"]
    return numbers


def mta_final_status(sbx: SandboxServer, number: str) -> int:
    sent = sbx.client().post("/v3/send", json={"subscribers": [number], "message": "after the reply"})
    assert sent.status_code == 200, sent.text
    outbound = sent.json()["data"]["outboundIds"][0]
    status: int = sbx.client().get(f"/v3/sent-messages/{outbound}").json()["data"]["status"]
    return status


def telnyx_send(sbx: SandboxServer, number: str) -> httpx.Response:
    body = {"from": SANDBOX_POOL_NUMBER, "to": number, "text": "after the reply"}
    return sbx.client().post("/v2/messages", json=body)


def bird_send(sbx: SandboxServer, *numbers: str, reference: str | None = None) -> httpx.Response:
    body: dict[str, Any] = {
        "receiver": {"contacts": [{"identifierKey": "phonenumber", "identifierValue": n} for n in numbers]},
        "body": {"type": "text", "text": {"text": "from Bird"}},
    }
    if reference is not None:
        body["reference"] = reference
    headers = {"Authorization": f"AccessKey {sbx.api_key}"}
    return httpx.post(sbx.bird_channel_url + "/messages", json=body, headers=headers, trust_env=False)


def check_bird_signature(headers: dict[str, str], body: bytes, url: str) -> None:
    """By hand (HMAC-SHA256 over ``timestamp\\nurl\\n`` + the raw SHA-256 of the body) and with the project's
    ``verify``; the same signature over the URL without its query string does not verify."""
    stamp, signature = headers["messagebird-request-timestamp"], headers["messagebird-signature"]
    assert abs(int(stamp) - time.time()) < 60
    signed = f"{stamp}\n{url}\n".encode() + hashlib.sha256(body).digest()
    expected = base64.b64encode(hmac.new(BIRD_KEY.encode(), signed, hashlib.sha256).digest()).decode()
    assert hmac.compare_digest(signature, expected)
    bird_signature.verify(body=body, url=url, signature=signature, timestamp=stamp, signing_key=BIRD_KEY)
    with pytest.raises(MtaWebhookSignatureError):
        bird_signature.verify(
            body=body, url=url.split("?")[0], signature=signature, timestamp=stamp, signing_key=BIRD_KEY
        )


# -- MTA ---------------------------------------------------------------------------------------------------


def test_mta_webhooks_accept_the_four_events_and_refuse_others(sbx: SandboxServer, receiver: Receiver) -> None:
    for event in ("delivery-status", "message-reply", "message-send", "number-opt-in"):
        register(sbx, event, receiver.url, "s")
    refused = sbx.client().post("/v3/webhooks", json={"event": "message-read", "url": receiver.url, "secret": "s"})
    error = refused.json()
    assert refused.status_code == 400
    assert (error["httpCode"], error["type"], error["name"]) == (400, "bad_request_error", "MTABadRequestError")
    assert "message-reply" in error["message"] and "number-opt-in" in error["message"]
    listed = sbx.client().get("/v3/webhooks").json()["data"]["rows"]
    assert [r["event"] for r in listed] == ["delivery-status", "message-reply", "message-send", "number-opt-in"]


def test_mta_reply_event_shape_and_signature(sbx: SandboxServer, receiver: Receiver) -> None:
    register(sbx, "message-reply", receiver.url, "reply-secret")
    register(sbx, "delivery-status", receiver.url + "/delivery", "other")  # gets no reply
    answer = reply(sbx, {"from": "(317) 555-2001", "text": "Running late, sorry"})
    assert (answer.status_code, answer.json()) == (202, {"queued": 1, "optOut": None})
    reply(sbx, {"from": "+13175552001", "text": "second", "provider": "mta"})
    reply(sbx, {"from": "+13175552002", "text": "other phone", "to": "317.555.0199"})
    calls = wait_until(lambda: len(receiver.snapshot()) >= 3 and receiver.snapshot())
    time.sleep(0.1)
    assert len(receiver.snapshot()) == 3

    for headers, body in calls:
        expected = hmac.new(b"reply-secret", body, hashlib.sha256).hexdigest()
        assert headers["x-signature"] == expected
        assert verify_mta("reply-secret", body, headers["x-signature"])
        assert not verify_mta("other", body, headers["x-signature"])
    first, second, third = (json.loads(body) for _, body in calls)
    assert list(first) == ["event", "fromNumber", "toNumber", "message", "threadId", "replyId", "receivedAt"]
    assert first["event"] == "message-reply"
    assert (first["fromNumber"], first["toNumber"], first["message"]) == (
        "+13175552001",
        MTA_ACCOUNT_NUMBER,
        "Running late, sorry",
    )
    assert ISO_Z.match(first["receivedAt"])
    assert all(isinstance(e[k], int) for e in (first, second, third) for k in ("threadId", "replyId"))
    assert second["threadId"] == first["threadId"] != third["threadId"]  # stable per sender
    assert first["replyId"] < second["replyId"] < third["replyId"]
    assert third["toNumber"] == "+13175550199"

    stats = wait_until(lambda: (s := sbx.stats())["webhooksDelivered"] >= 3 and s)
    assert (stats["repliesReceived"], stats["webhooksDelivered"], stats["webhooksFailed"]) == (3, 3, 0)


def test_mta_stop_posts_opt_out_refuses_later_sends_and_start_allows_them(
    sbx: SandboxServer, receiver: Receiver, hooks: Hooks
) -> None:
    number = "+13175552010"
    opt_ins = Receiver()
    try:
        register(sbx, "message-reply", receiver.url, "r")
        register(sbx, "number-opt-in", opt_ins.url, "o")
        answer = reply(sbx, {"from": "317-555-2010", "text": "Stop"})
        assert (answer.status_code, answer.json()) == (202, {"queued": 2, "optOut": True})
        headers, body = wait_until(opt_ins.snapshot)[0]
        assert verify_mta("o", body, headers["x-signature"])
        event = json.loads(body)
        assert list(event) == ["event", "number", "optIn", "keyword", "receivedAt"]
        assert (event["event"], event["number"], event["optIn"], event["keyword"]) == (
            "number-opt-in",
            number,
            False,
            "Stop",
        )
        assert ISO_Z.match(event["receivedAt"])
        assert wait_until(lambda: bodies(receiver))[0]["message"] == "Stop"
        assert opted_out(sbx) == [number]
        assert mta_final_status(sbx, number) == 11  # STOPPED_NUMBER, as for any opted-out number

        answer = reply(sbx, {"from": number, "text": "START"})
        assert (answer.status_code, answer.json()) == (202, {"queued": 2, "optOut": False})
        wait_until(lambda: len(opt_ins.snapshot()) >= 2)
        assert [(e["optIn"], e["keyword"]) for e in bodies(opt_ins)] == [(False, "Stop"), (True, "START")]
        assert opted_out(sbx) == []
        assert mta_final_status(sbx, number) == 4  # DELIVERED again
    finally:
        opt_ins.close()


@pytest.mark.parametrize(
    ("text", "opt_out"),
    [
        ("STOP", True),
        ("stopall", True),
        (" Opt Out ", True),
        ("OPT-OUT", True),
        ("unsubscribe", True),
        ("Cancel", True),
        ("quit", True),
        ("END", True),
        ("revoke", True),
        ("start", False),
        ("UNSTOP", False),
        ("stop sending me these", None),
        ("Please STOP", None),
    ],
)
def test_keywords_without_webhooks_queue_nothing(sbx: SandboxServer, text: str, opt_out: bool | None) -> None:
    answer = reply(sbx, {"from": "+13175552020", "text": text})
    assert (answer.status_code, answer.json()) == (202, {"queued": 0, "optOut": opt_out})
    assert opted_out(sbx) == (["+13175552020"] if opt_out else [])


# -- Telnyx ------------------------------------------------------------------------------------------------


def test_telnyx_reply_event_shape_and_signature(sbx: SandboxServer, hooks: Hooks) -> None:
    answer = reply(sbx, {"from": "+1 317 555 2030", "text": "On my way", "provider": "telnyx"})
    assert (answer.status_code, answer.json()) == (202, {"queued": 1, "optOut": None})
    headers, body = wait_until(hooks.telnyx.snapshot)[0]

    public_key = sbx.telnyx_public_key()
    assert public_key == TELNYX_SIGNER.public_key
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key))
    signed = headers["telnyx-timestamp"].encode() + b"|" + body
    key.verify(base64.b64decode(headers["telnyx-signature-ed25519"]), signed)  # raises InvalidSignature if not
    verify_telnyx(
        body=body,
        signature=headers["telnyx-signature-ed25519"],
        timestamp=headers["telnyx-timestamp"],
        public_key=public_key,
    )
    with pytest.raises(MtaWebhookSignatureError):
        verify_telnyx(
            body=body.replace(b"On my way", b"On my wax"),
            signature=headers["telnyx-signature-ed25519"],
            timestamp=headers["telnyx-timestamp"],
            public_key=public_key,
        )

    event = json.loads(body)
    assert set(event) == {"data", "meta"}
    assert event["meta"] == {"attempt": 1, "delivered_to": hooks.telnyx.url}
    data = event["data"]
    assert set(data) == {"event_type", "id", "occurred_at", "record_type", "payload"}
    assert (data["event_type"], data["record_type"]) == ("message.received", "event")
    assert UUID.match(data["id"]) and ISO_Z.match(data["occurred_at"])
    payload = data["payload"]
    assert UUID.match(payload.pop("id")) and ISO_Z.match(payload.pop("received_at"))
    assert payload == {
        "record_type": "message",
        "direction": "inbound",
        "type": "SMS",
        "from": {"phone_number": "+13175552030"},
        "to": [{"phone_number": SANDBOX_POOL_NUMBER, "status": "webhook_delivered"}],
        "text": "On my way",
    }


def test_telnyx_stop_refuses_later_sends_with_40300_and_start_allows_them(sbx: SandboxServer, hooks: Hooks) -> None:
    number = "+13175552040"
    answer = reply(sbx, {"from": number, "text": "STOP", "provider": "telnyx", "to": "+13125550111"})
    assert (answer.status_code, answer.json()) == (202, {"queued": 1, "optOut": True})
    event = json.loads(wait_until(hooks.telnyx.snapshot)[0][1])
    assert event["data"]["payload"]["to"][0]["phone_number"] == "+13125550111"
    assert opted_out(sbx) == [number]
    refused = telnyx_send(sbx, number)
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["code"] == "40300"

    assert reply(sbx, {"from": number, "text": "unstop", "provider": "telnyx"}).json()["optOut"] is False
    assert telnyx_send(sbx, number).status_code == 200


# -- Bird --------------------------------------------------------------------------------------------------


def test_bird_reply_event_shape_and_signature(sbx: SandboxServer, hooks: Hooks) -> None:
    answer = reply(sbx, {"from": "+13175552050", "text": "Yes, confirmed", "provider": "bird"})
    assert (answer.status_code, answer.json()) == (202, {"queued": 1, "optOut": None})
    headers, body = wait_until(hooks.bird.snapshot)[0]
    check_bird_signature(headers, body, hooks.bird_url)
    event = json.loads(body)
    payload = event["payload"]
    assert UUID.match(payload.pop("id")) and ISO_Z.match(payload.pop("createdAt"))
    assert event == {
        "service": "channels",
        "event": "sms.inbound",
        "payload": {
            "channelId": sbx.bird_channel_id,
            "direction": "incoming",
            "sender": {"contact": {"identifierValue": "+13175552050"}},
            "receiver": {"connector": {"identifierValue": BIRD_SENDER}},
            "body": {"type": "text", "text": {"text": "Yes, confirmed"}},
        },
    }


def test_bird_delivery_webhooks_fire_at_sent_and_final(sbx: SandboxServer, hooks: Hooks) -> None:
    ordinary, undelivered, send_fails, unconfirmed = "+13175552060", "+13175550006", "+13175550005", "+13175550007"
    sent = bird_send(sbx, ordinary, undelivered, send_fails, unconfirmed, reference="order-17")
    assert sent.status_code == 202
    rows = {r["to"]: r["messageId"] for r in sbx.messages(provider="bird")}
    wait_until(lambda: len(hooks.bird.snapshot()) >= 6)
    time.sleep(0.2)
    calls = hooks.bird.snapshot()
    words: dict[str, list[str]] = {}
    for headers, body in calls:
        check_bird_signature(headers, body, hooks.bird_url)
        event = json.loads(body)
        assert (event["service"], event["event"]) == ("channels", "sms.outbound")
        payload = event["payload"]
        assert list(payload) == ["id", "channelId", "status", "reference", "receiver", "updatedAt"]
        number = payload["receiver"]["contacts"][0]["identifierValue"]
        assert payload["receiver"] == {"contacts": [{"identifierValue": number}]}
        assert (payload["id"], payload["channelId"], payload["reference"]) == (
            rows[number],
            sbx.bird_channel_id,
            "order-17",
        )
        assert ISO_Z.match(payload["updatedAt"])
        words.setdefault(number, []).append(payload["status"])
    assert words == {
        ordinary: ["sent", "delivered"],
        undelivered: ["sent", "delivery_failed"],
        send_fails: ["sending_failed"],  # never sent
        unconfirmed: ["sent"],  # no delivery report ever comes
    }
    assert len(calls) == 6


def test_bird_stop_refuses_later_sends_and_start_allows_them(sbx: SandboxServer, hooks: Hooks) -> None:
    number = "+13175552070"
    assert reply(sbx, {"from": number, "text": "STOP", "provider": "bird"}).json() == {"queued": 1, "optOut": True}
    assert json.loads(wait_until(hooks.bird.snapshot)[0][1])["payload"]["body"]["text"]["text"] == "STOP"
    refused = bird_send(sbx, number)
    assert refused.status_code == 422
    assert refused.json()["details"] == {"receiver.contacts[0].identifierValue": ["has opted out"]}
    assert reply(sbx, {"from": number, "text": "start", "provider": "bird"}).json()["optOut"] is False
    assert bird_send(sbx, number).status_code == 202


def test_without_vendor_webhooks_nothing_is_queued() -> None:
    """A default server: no Telnyx profile URL, no Bird webhook, no MTA webhook; replies still count."""
    with SandboxServer() as plain:
        for provider in ("mta", "telnyx", "bird"):
            answer = reply(plain, {"from": "+13175552080", "text": "hi", "provider": provider})
            assert (answer.status_code, answer.json()) == (202, {"queued": 0, "optOut": None})
        assert bird_send(plain, "+13175552080").status_code == 202
        time.sleep(0.2)
        stats = plain.stats()
        assert (stats["repliesReceived"], stats["webhooksDelivered"], stats["webhooksFailed"]) == (3, 0, 0)


def test_cli_bird_webhook_flags() -> None:
    settings, _ = parse_args(["--bird-webhook-url", "http://127.0.0.1:9/bird?x=1", "--bird-signing-key", "k"])
    assert (settings.bird_webhook_url, settings.bird_signing_key) == ("http://127.0.0.1:9/bird?x=1", "k")
    assert (parse_args([])[0].bird_webhook_url, parse_args([])[0].bird_signing_key) == (None, None)
    bad = (
        ["--bird-webhook-url", "http://127.0.0.1:9/bird"],  # no key
        ["--bird-signing-key", "k"],  # no URL
        ["--bird-webhook-url", "ftp://127.0.0.1/bird", "--bird-signing-key", "k"],
        ["--bird-webhook-url", "http://127.0.0.1:9/bird", "--bird-signing-key", " "],
    )
    for args in bad:
        with pytest.raises(SystemExit):
            parse_args(args)


# -- bad input ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"from": "(317) 555-20", "text": "hi"},
        {"from": "ops@example.com", "text": "hi"},
        {"text": "hi"},
        {"from": "+13175552090", "text": ""},
        {"from": "+13175552090", "text": "   "},
        {"from": "+13175552090"},
        {"from": "+13175552090", "text": 7},
        {"from": "+13175552090", "text": "hi", "provider": "twilio"},
        {"from": "+13175552090", "text": "hi", "to": "12345"},
        ["+13175552090", "hi"],
    ],
    ids=["short", "email", "no-from", "empty", "blank", "no-text", "not-text", "provider", "bad-to", "list"],
)
def test_bad_reply_is_400_and_stores_nothing(sbx: SandboxServer, body: Any) -> None:
    assert_masked_400(reply(sbx, body))
    stats = sbx.stats()
    assert (stats["repliesReceived"], stats["badRequests"]) == (0, 1)


def test_invalid_json_and_cross_origin_are_refused(sbx: SandboxServer) -> None:
    headers = {"Content-Type": "application/json"}
    invalid = sbx.client().post("/_sandbox/reply", content=b"{nope", headers=headers)
    assert (invalid.status_code, invalid.json()["message"]) == (400, "the request body is not valid JSON")
    body = {"from": "+13175552091", "text": "hi"}
    foreign = reply(sbx, body, headers={"Origin": "http://attacker.test"})
    assert (foreign.status_code, foreign.json()["type"]) == (403, "forbidden_error")
    assert reply(sbx, body, headers={"Origin": sbx.url}).status_code == 202
    assert sbx.stats()["repliesReceived"] == 1


# -- the inbox page ----------------------------------------------------------------------------------------


class _Page(HTMLParser):
    """The forms (action, method, fields and provider options) and the reply texts of the inbox."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self.replies: list[str] = []
        self._in_replies = False
        self._in_reply_text = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "section":
            self._in_replies = "replies" in classes
        elif tag == "form":
            self.forms.append({"action": a.get("action"), "method": a.get("method"), "fields": {}, "options": []})
        elif tag in ("input", "select") and self.forms:
            self.forms[-1]["fields"][a.get("name")] = a.get("value")
        elif tag == "option" and self.forms:
            self.forms[-1]["options"].append(a.get("value"))
        elif tag == "div" and self._in_replies and "text" in classes:
            self._in_reply_text = True
            self.replies.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "div":
            self._in_reply_text = False

    def handle_data(self, data: str) -> None:
        if self._in_reply_text:
            self.replies[-1] += data


def test_inbox_lists_replies_newest_first_and_has_the_reply_forms(sbx: SandboxServer) -> None:
    sbx.client().post("/v3/send", json={"subscribers": ["+13175552095", "ops@example.com"], "message": "hello"})
    tricky = '<script>alert("x")</script> & done'
    reply(sbx, {"from": "+13175552095", "text": "first"})
    reply(sbx, {"from": "+13175552095", "text": tricky, "provider": "telnyx"})
    form_post = sbx.client().post(
        "/_sandbox/reply",
        data={"from": "+13175552096", "text": "from the form", "provider": "bird", "to": ""},
        follow_redirects=False,
    )
    assert (form_post.status_code, form_post.headers["location"]) == (303, "/")

    html = sbx.client().get("/").text
    assert "<script>" not in html and "&lt;script&gt;" in html
    page = _Page()
    page.feed(html)
    assert page.replies == ["from the form", tricky, "first"]  # newest first, unescaped by the parser
    assert "+13175552096" in html  # numbers shown as the inbox shows sent messages (in full)
    assert all(f["action"] == "/_sandbox/reply" and f["method"] == "post" for f in page.forms)
    general = [f for f in page.forms if f["fields"].get("from") is None]
    per_phone = [f for f in page.forms if f["fields"].get("from") is not None]
    assert len(general) == 1 and set(general[0]["fields"]) == {"from", "text", "provider"}
    assert general[0]["options"] == ["mta", "telnyx", "bird"]
    assert [f["fields"]["from"] for f in per_phone] == ["+13175552095"]  # an email card has no reply box
    assert sbx.stats()["repliesReceived"] == 3

    sbx.reset()
    assert "No replies yet" in sbx.client().get("/").text
