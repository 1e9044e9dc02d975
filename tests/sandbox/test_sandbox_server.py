"""SandboxServer lifecycle, restart with the ledger intact, admin routes, the inbox page and the CLI."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sandbox_helpers import make_client

from airflow_provider_mta.backends.mta.models import SendRequest
from airflow_provider_mta.core.errors import MtaConfigError
from airflow_provider_mta.sandbox.__main__ import parse_args
from airflow_provider_mta.sandbox.app import create_app
from airflow_provider_mta.sandbox.settings import Settings, is_loopback
from airflow_provider_mta.sandbox.testing import SandboxServer


def test_restart_keeps_ledger_and_request_ids(tmp_path: Path) -> None:
    db = str(tmp_path / "ledger.sqlite3")
    request = SendRequest.build(subscribers=["+13175551111", "+13175552222"], message="before restart")
    with SandboxServer(db_path=db) as first, make_client(first) as c:
        original = c.send(request, request_id="rid-restart")
        first_url = first.url
    with pytest.raises(httpx.TransportError):
        httpx.get(first_url + "/_sandbox/stats", timeout=1)
    with SandboxServer(db_path=db) as second, make_client(second) as c:
        rows = second.messages()
        assert [(r["outboundId"], r["text"], r["requestId"]) for r in rows] == [
            (original.outbound_ids[0], "before restart", "rid-restart"),
            (original.outbound_ids[1], "before restart", "rid-restart"),
        ]
        assert rows[0]["status"] == "DELIVERED"
        again = c.send(request, request_id="rid-restart")
        assert again.already_sent is True
        assert (again.message_id, again.outbound_ids) == (original.message_id, original.outbound_ids)
        fresh = c.send(request, request_id="rid-after-restart")
        assert fresh.outbound_ids[0] > original.outbound_ids[-1]
        assert len(second.messages()) == 4
    assert Path(db).exists()


def test_start_stop_methods_and_temp_ledger_removed() -> None:
    server = SandboxServer().start()
    try:
        assert server.url.startswith("http://127.0.0.1:")
        assert server.base_url == server.url + "/v3"
        assert server.api_key == "sandbox-key"
        state = server._server.config.app.state.sandbox  # the app behind uvicorn
        db_path = Path(state.store.path)
        assert db_path.exists()
    finally:
        server.stop()
    assert not db_path.exists()
    server.stop()  # stopping twice is harmless


def test_reset_clears_everything(sbx: SandboxServer) -> None:
    with make_client(sbx) as c:
        c.send(SendRequest.build(subscribers=["+13175551111"], message="x"), request_id="rid-reset")
        c.request(
            "POST",
            "/webhooks",
            json_body={"event": "delivery-status", "url": "http://127.0.0.1:9/", "secret": "s"},
        )
        sbx.fault("html", count=2)
        sbx.reset()
        assert sbx.messages() == []
        assert c.request("GET", "/webhooks")["data"]["total"] == 0
        stats = sbx.stats()
        assert stats["pendingFaults"] == [] and stats["sendsAccepted"] == 0 and stats["messages"] == 0
        again = c.send(SendRequest.build(subscribers=["+13175551111"], message="x"), request_id="rid-reset")
        assert again.already_sent is False


def test_admin_messages_filters(sbx: SandboxServer) -> None:
    with make_client(sbx) as c:
        two = SendRequest.build(subscribers=["+13175551111", "+13175550010"], message="a")
        a = c.send(two, request_id="rid-a")
        c.send(SendRequest.build(subscribers=["+13175551111"], message="b"), request_id="rid-b")
    rows = sbx.messages()
    assert list(rows[0]) == [
        "messageId", "outboundId", "to", "text", "parts", "credits", "type", "status", "externalId", "tags",
        "requestId", "createdAt", "scheduledFor", "provider",
    ]  # fmt: skip
    assert {r["provider"] for r in rows} == {"mta"}
    assert [r["text"] for r in sbx.messages(to="+1 317-555-1111")] == ["a", "b"]
    assert [r["to"] for r in sbx.messages(messageId=a.message_id)] == ["+13175551111", "+13175550010"]
    assert [r["text"] for r in sbx.messages(requestId="rid-b")] == ["b"]
    assert [r["to"] for r in sbx.messages(status="INVALID_NUMBER")] == ["+13175550010"]
    assert len(sbx.messages(limit=1, offset=1)) == 1


def test_inbox_page_renders_and_escapes(sbx: SandboxServer) -> None:
    with make_client(sbx) as c:
        hostile = '<script>alert("x")</script> & <b>co</b>'
        c.send(SendRequest.build(subscribers=["+13175551111"], message=hostile))
        c.send(SendRequest.build(subscribers=["+13175552222"], message="\u0436" * 71))  # 2 UCS-2 parts
    page = httpx.get(sbx.url + "/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;co&lt;/b&gt;" in html
    assert "<script>" not in html and "<b>co" not in html
    assert html.count('class="card"') == 2
    assert "+13175551111" in html and "+13175552222" in html
    assert "2 part(s)" in html and "DELIVERED" in html
    assert "http://" not in html and "https://" not in html  # no external assets
    only_one = httpx.get(sbx.url + "/", params={"to": "3175552222"}).text
    assert only_one.count('class="card"') == 1
    assert html.count('class="msg"') == 2
    newest = httpx.get(sbx.url + "/", params={"limit": 1}).text
    assert newest.count('class="msg"') == 1 and "+13175552222" in newest


async def test_admin_routes_need_a_key_on_a_non_loopback_host() -> None:
    """In-process (ASGI transport, no socket): the app as it would be bound to 0.0.0.0."""
    exposed = create_app(Settings(host="0.0.0.0", api_keys=("k1",)))
    local = create_app(Settings(host="127.0.0.1"))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=exposed), base_url="http://t") as c:
            wrong, right = {"Authorization": "Bearer nope"}, {"Authorization": "Bearer k1"}
            assert (await c.get("/_sandbox/stats")).status_code == 401
            assert (await c.get("/_sandbox/stats", headers=wrong)).status_code == 401
            assert (await c.get("/_sandbox/stats", headers=right)).status_code == 200
            assert (await c.post("/_sandbox/reset")).status_code == 401
            assert (await c.get("/")).status_code == 401
            assert (await c.get("/", params={"key": "k1"})).status_code == 200
            assert (await c.get("/v3/auth/verify-api-key", headers=right)).status_code == 200
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=local), base_url="http://t") as c:
            assert (await c.get("/_sandbox/stats")).status_code == 200
    finally:
        exposed.state.sandbox.close()
        local.state.sandbox.close()


def test_loopback_detection() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "192.168.1.5", "example.com", ""))


def test_cli_flags() -> None:
    settings, level = parse_args(
        ["--port", "9999", "--api-key", "a", "--api-key", "b", "--latency-ms", "5", "--send-rate-limit", "0",
         "--max-recipients", "50", "--delivery-delay-s", "0.5", "--db", "/tmp/x.sqlite3",
         "--log-level", "warning"]
    )  # fmt: skip
    assert settings == Settings(
        host="127.0.0.1",
        port=9999,
        api_keys=("a", "b"),
        latency_ms=5,
        send_rate_limit="0",
        max_recipients=50,
        delivery_delay_s=0.5,
        db_path="/tmp/x.sqlite3",
    )
    assert settings.rate_limit is None and level == "warning"
    defaults, _ = parse_args([])
    assert (defaults.api_keys, defaults.send_rate_limit, defaults.max_recipients) == (
        ("sandbox-key",),
        "25/15",
        1000,
    )
    assert defaults.delivery_delay_s == 2.0 and defaults.db_path is None and defaults.rate_limit is not None
    with pytest.raises(SystemExit):
        parse_args(["--send-rate-limit", "lots"])
    with pytest.raises(MtaConfigError):
        Settings(send_rate_limit="3/0")
