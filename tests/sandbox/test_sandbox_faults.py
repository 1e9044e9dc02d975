"""Injected faults and how the project's client copes with them."""

from __future__ import annotations

import time

import httpx
import pytest
from sandbox_helpers import make_client

from airflow_provider_mta.backends.mta.client import AsyncMtaClient, MtaClient
from airflow_provider_mta.backends.mta.models import SendRequest
from airflow_provider_mta.core.errors import MtaServerError, MtaTransportError
from airflow_provider_mta.core.retry import RetryPolicy
from airflow_provider_mta.sandbox.testing import SandboxServer

NO_RETRY = RetryPolicy(max_retries=0)


def one_send() -> SendRequest:
    return SendRequest.build(subscribers=["+13175551111", "+13175552222"], message="fault test")


@pytest.mark.parametrize("status", [500, 502, 503])
def test_status_fault_is_retried_then_succeeds(sbx: SandboxServer, client: MtaClient, status: int) -> None:
    sbx.fault("status", count=2, status=status)
    result = client.send(one_send(), request_id=f"rid-status-{status}")
    assert result.total_sent == 2
    assert result.already_sent is False
    assert len(sbx.messages()) == 2
    stats = sbx.stats()
    assert (stats["faultsFired"], stats["sendsAccepted"]) == (2, 1)
    assert stats["pendingFaults"] == []


def test_status_fault_body_is_mta_error(sbx: SandboxServer) -> None:
    sbx.fault("status", status=503)
    raw = httpx.post(
        sbx.base_url + "/send",
        json=one_send().to_payload(),
        headers={"Authorization": f"Bearer {sbx.api_key}", "X-Request-Id": "rid-503"},
    )
    assert raw.status_code == 503
    body = raw.json()
    assert (body["httpCode"], body["type"], body["requestId"]) == (
        503,
        "service_unavailable_error",
        "rid-503",
    )
    assert sbx.messages() == []


def test_rate_limit_fault_honours_retry_after(sbx: SandboxServer, client: MtaClient) -> None:
    sbx.fault("rate_limit")
    started = time.monotonic()
    result = client.send(one_send())
    elapsed = time.monotonic() - started
    assert result.total_sent == 2
    assert elapsed >= 0.95  # Retry-After: 1 replaced the 10 ms backoff
    stats = sbx.stats()
    assert (stats["rateLimited"], stats["faultsFired"]) == (1, 1)


def test_html_fault_maps_to_server_error_mentioning_html(sbx: SandboxServer) -> None:
    sbx.fault("html")
    with make_client(sbx, retry=NO_RETRY) as c, pytest.raises(MtaServerError) as info:
        c.send(one_send())
    assert info.value.status_code == 502
    assert "HTML page" in str(info.value)
    assert "502 Bad Gateway" in str(info.value)
    assert sbx.messages() == []


def test_timeout_fault_is_a_transport_error(sbx: SandboxServer) -> None:
    sbx.fault("timeout")
    started = time.monotonic()
    with (
        make_client(sbx, retry=NO_RETRY, timeout=0.5) as c,
        pytest.raises(MtaTransportError, match="Timeout"),
    ):
        c.send(one_send())
    assert time.monotonic() - started < 5
    assert sbx.messages() == []
    assert sbx.stats()["faultsFired"] == 1


def test_drop_after_commit_is_a_real_transport_error(sbx: SandboxServer) -> None:
    sbx.fault("drop_after_commit")
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.post(
            sbx.base_url + "/send",
            json=one_send().to_payload(),
            headers={"Authorization": f"Bearer {sbx.api_key}", "X-Request-Id": "rid-raw-drop"},
        )
    rows = sbx.messages()
    assert [r["requestId"] for r in rows] == ["rid-raw-drop", "rid-raw-drop"]


def test_drop_after_commit_client_retries_and_gets_409(sbx: SandboxServer, client: MtaClient) -> None:
    sbx.fault("drop_after_commit")
    result = client.send(one_send(), request_id="rid-drop")
    assert result.already_sent is True
    assert result.total_sent == 2
    rows = sbx.messages()
    assert sorted(r["to"] for r in rows) == ["+13175551111", "+13175552222"]
    assert result.outbound_ids == [r["outboundId"] for r in rows]
    stats = sbx.stats()
    assert (stats["sendsAccepted"], stats["conflicts"], stats["faultsFired"]) == (1, 1, 1)


async def test_drop_after_commit_async_client(sbx: SandboxServer, aclient: AsyncMtaClient) -> None:
    sbx.fault("drop_after_commit")
    result = await aclient.send(one_send(), request_id="rid-drop-async")
    assert result.already_sent is True
    assert len(sbx.messages(requestId="rid-drop-async")) == 2


def test_fault_admin_routes(sbx: SandboxServer) -> None:
    sbx.fault("status", count=3, status=502)
    sbx.fault("html")
    admin = httpx.Client(base_url=sbx.url)
    assert admin.get("/_sandbox/faults").json()["pending"] == [
        {"fault": "status", "count": 3, "status": 502},
        {"fault": "html", "count": 1, "status": 500},
    ]
    assert admin.post("/_sandbox/faults", json={"fault": "explode"}).status_code == 400
    assert admin.post("/_sandbox/faults", json={"fault": "status", "status": 200}).status_code == 400
    assert admin.delete("/_sandbox/faults").json()["pending"] == []
    assert sbx.stats()["pendingFaults"] == []
    admin.close()


def test_faults_apply_to_send_only_and_in_order(sbx: SandboxServer, client: MtaClient) -> None:
    sbx.fault("status", count=1, status=500)
    sbx.fault("html", count=1)
    assert client.verify_api_key().name == "Sandbox"  # not a /send: no fault consumed
    with make_client(sbx, retry=NO_RETRY) as c:
        with pytest.raises(MtaServerError) as first:
            c.send(one_send())
        with pytest.raises(MtaServerError) as second:
            c.send(one_send())
        assert c.send(one_send()).total_sent == 2
    assert first.value.status_code == 500 and "HTML" not in str(first.value)
    assert "HTML page" in str(second.value)


def test_a_fault_can_wait_for_its_send(sbx: SandboxServer) -> None:
    """``after=M`` lets M sends through first (counted once the fault is at the head of the queue)."""
    sbx.fault("status", status=503, after=2)
    sbx.fault("html", after=1)
    assert sbx.stats()["pendingFaults"][0] == {"fault": "status", "count": 1, "status": 503, "after": 2}
    codes = []
    for i in range(6):
        answer = httpx.post(
            sbx.base_url + "/send",
            json=one_send().to_payload(),
            headers={"Authorization": f"Bearer {sbx.api_key}", "X-Request-Id": f"rid-after-{i}"},
        )
        codes.append(answer.status_code)
    assert codes == [200, 200, 503, 200, 502, 200]
    stats = sbx.stats()
    assert (stats["sendRequests"], stats["sendsAccepted"], stats["faultsFired"]) == (6, 4, 2)
    assert stats["pendingFaults"] == []
    with httpx.Client(base_url=sbx.url) as admin:
        assert admin.post("/_sandbox/faults", json={"fault": "html", "after": -1}).status_code == 400
        assert admin.post("/_sandbox/faults", json={"fault": "html", "after": "2"}).status_code == 400
