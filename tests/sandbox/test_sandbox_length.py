"""MTA's length limits in the sandbox: a text over 160 (MMS 1,550) characters is MTA's 400, nothing recorded."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from airflow_provider_mta.core.length import MTA_MMS_LIMIT_MESSAGE, MTA_SMS_LIMIT_MESSAGE
from airflow_provider_mta.sandbox.testing import SandboxServer

ERROR_KEYS = {"httpCode", "message", "timestamp", "type", "name", "requestId"}
TO = "+13175551111"


def post(
    sbx: SandboxServer, body: dict[str, Any], *, path: str = "/send", request_id: str | None = None
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {sbx.api_key}"}
    if request_id is not None:
        headers["X-Request-Id"] = request_id
    return httpx.post(sbx.base_url + path, json=body, headers=headers)


def send(sbx: SandboxServer, message: str, **fields: Any) -> httpx.Response:
    return post(sbx, {"subscribers": [TO], "message": message, **fields})


def assert_refused(answer: httpx.Response, sbx: SandboxServer, *, message: str = MTA_SMS_LIMIT_MESSAGE) -> None:
    """MTA's whole 400 body, and nothing in the ledger."""
    body = answer.json()
    assert answer.status_code == 400
    assert set(body) == ERROR_KEYS
    assert (body["httpCode"], body["type"], body["name"]) == (400, "bad_request_error", "MTABadRequestError")
    assert body["message"] == message
    assert body["requestId"]
    assert sbx.messages() == []


def assert_sent(answer: httpx.Response, sbx: SandboxServer, text: str) -> None:
    assert answer.status_code == 200, answer.text
    assert [row["text"] for row in sbx.messages()] == [text]


@pytest.mark.parametrize(
    ("message", "fits"),
    [
        ("a" * 160, True),
        ("a" * 161, False),
        ("a" * 158 + "€", True),  # an extension character counts 2
        ("a" * 159 + "€", False),
        ("é" * 160, True),  # in the GSM-7 basic table: 1 each
        ("😀" * 80, True),  # UCS-2: 2 UTF-16 units each
        ("😀" * 80 + "a", False),
        ("ж" * 160, True),  # UCS-2 in the Basic Multilingual Plane: 1 unit each
        ("ж" * 161, False),
    ],
    ids=["gsm-160", "gsm-161", "ext-160", "ext-161", "e-acute-160", "emoji-160", "emoji-161", "bmp-160", "bmp-161"],
)
def test_sms_limit_uses_mta_counting(sbx: SandboxServer, message: str, fits: bool) -> None:
    answer = send(sbx, message)
    if fits:
        assert_sent(answer, sbx, message)
    else:
        assert_refused(answer, sbx)


def test_header_is_counted(sbx: SandboxServer) -> None:
    answer = send(sbx, "a" * 150, header="ABCDEFGHI")  # 9 + newline + 150 = 160
    assert_sent(answer, sbx, "ABCDEFGHI\n" + "a" * 150)
    sbx.reset()
    assert_refused(send(sbx, "a" * 150, header="ABCDEFGHI", footer="x"), sbx)  # + space + footer = 162


def test_footer_is_counted_after_a_space(sbx: SandboxServer) -> None:
    assert_sent(send(sbx, "a" * 158, footer="x"), sbx, "a" * 158 + " x")  # 160
    sbx.reset()
    assert_refused(send(sbx, "a" * 158, footer="xy"), sbx)  # 161


def test_liquid_rendered_length_is_counted_per_recipient(sbx: SandboxServer) -> None:
    others = ["+13175552222", "+13175553333"]
    body = {
        "subscribers": [TO, *others],
        "message": "Hi {{ name }}, " + "a" * 150,  # 155 + the name
        "properties": {TO: {"name": "Al"}, others[0]: {"name": "Bo"}, others[1]: {"name": "Maxine"}},  # 161
    }
    assert_refused(post(sbx, body), sbx)
    body["properties"][others[1]] = {"name": "Max"}  # 158
    assert post(sbx, body).status_code == 200
    assert [len(row["text"]) for row in sbx.messages()] == [157, 157, 158]


def test_mms_limit(sbx: SandboxServer) -> None:
    assert_sent(send(sbx, "a" * 1550, isMMS=True), sbx, "a" * 1550)
    assert sbx.messages()[0]["type"] == "mms"
    sbx.reset()
    assert_refused(send(sbx, "a" * 1551, isMMS=True), sbx, message=MTA_MMS_LIMIT_MESSAGE)
    assert_refused(send(sbx, "😀" * 775 + "a", isMMS=True), sbx, message=MTA_MMS_LIMIT_MESSAGE)


def test_refusal_records_nothing_and_forgets_the_request_id(sbx: SandboxServer) -> None:
    too_long = {"subscribers": [TO, "+13175552222"], "message": "a" * 161}
    refused = post(sbx, too_long, request_id="rid-long")
    assert_refused(refused, sbx)
    assert refused.json()["requestId"] == "rid-long"
    stats = sbx.stats()
    assert (stats["badRequests"], stats["sendsAccepted"], stats["messages"]) == (1, 0, 0)
    corrected = post(sbx, {**too_long, "message": "a" * 160}, request_id="rid-long")
    assert corrected.status_code == 200  # not a 409: the refused request was never accepted
    assert corrected.json()["data"]["totalSent"] == 2
    assert [row["requestId"] for row in sbx.messages()] == ["rid-long", "rid-long"]


def test_cost_refuses_the_same_way(sbx: SandboxServer) -> None:
    assert_refused(post(sbx, {"subscribers": [TO], "message": "a" * 161}, path="/send/cost"), sbx)
    priced = post(sbx, {"subscribers": [TO], "message": "a" * 160}, path="/send/cost")
    assert priced.status_code == 200
    assert priced.json()["data"] == {"messageCredits": 1, "recipients": 1}
    mms = post(sbx, {"subscribers": [TO], "message": "a" * 1551, "isMMS": True}, path="/send/cost")
    assert_refused(mms, sbx, message=MTA_MMS_LIMIT_MESSAGE)
