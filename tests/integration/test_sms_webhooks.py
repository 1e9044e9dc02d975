"""SMS events into Airflow, end to end: a real ``airflow api-server`` with the provider's plugin, and the
sandbox posting each vendor's signed webhooks to ``POST /sms-webhooks/{conn_id}`` on it."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from airflow_provider_mta.compliance.opt_out_table import OptOutTable
from airflow_provider_mta.hooks.mta import MtaHook
from airflow_provider_mta.hooks.sms import get_sms_hook
from airflow_provider_mta.sandbox.telnyx_signing import WebhookSigner
from airflow_provider_mta.sandbox.testing import SandboxServer
from airflow_provider_mta.sensors.reply import MtaReplySensor
from airflow_provider_mta.utils.sms_event_store import SmsEventStore
from tests.conftest import AIRFLOW, API_KEY, TELNYX_FROM
from tests.integration.api_server import ApiServer, wait_for

pytestmark = pytest.mark.integration

MTA_SECRET = "mta-webhook-secret-4711"
BIRD_KEY = "bird-signing-key-4711"
TELNYX_SIGNER = WebhookSigner()
APPROVER, STOPPER = "+13175551111", "+13175552222"


@pytest.fixture(scope="module")
def wired(api_server: ApiServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    """The sandbox posting to the API server, and the three connections (with their webhook secrets) in its DB."""
    hooks = f"{api_server.base_url}/sms-webhooks"
    optouts = tmp_path_factory.mktemp("optouts") / "optouts.sqlite"
    with SandboxServer(
        api_keys=(API_KEY,),
        delivery_delay_s=0.3,
        telnyx_webhook_url=f"{hooks}/telnyx_hooks",
        telnyx_signing_key=TELNYX_SIGNER.private_key,
        bird_webhook_url=f"{hooks}/bird_hooks",
        bird_signing_key=BIRD_KEY,
    ) as server:
        connections = [
            {"connection_id": "optouts_it", "conn_type": "sqlite", "host": str(optouts)},
            {
                "connection_id": "mta_hooks", "conn_type": "mta", "host": server.base_url, "password": API_KEY,
                "extra": json.dumps({"webhook_secret": MTA_SECRET, "opt_out_conn_id": "optouts_it",
                                     "general_rate_limit": "0", "send_rate_limit": "0"}),
            },
            {
                "connection_id": "telnyx_hooks", "conn_type": "telnyx", "host": server.telnyx_base_url,
                "password": API_KEY,
                "extra": json.dumps({"from": TELNYX_FROM, "webhook_public_key": TELNYX_SIGNER.public_key}),
            },
            {
                "connection_id": "bird_hooks", "conn_type": "bird", "host": server.url.removeprefix("http://"),
                "password": API_KEY,
                "extra": json.dumps({"workspace_id": server.bird_workspace_id, "channel_id": server.bird_channel_id,
                                     "webhook_secret": BIRD_KEY}),
            },
        ]  # fmt: skip
        saved_env = dict(os.environ)
        for conn in connections:  # in the API server's database, and in this process's environment
            api_server.client.delete(f"/api/v2/connections/{conn['connection_id']}")
            created = api_server.client.post("/api/v2/connections", json=conn)
            assert created.status_code == 201, created.text
            as_env = {k: v for k, v in conn.items() if k != "connection_id"}
            as_env["extra"] = json.loads(str(conn.get("extra") or "{}"))
            os.environ[f"AIRFLOW_CONN_{conn['connection_id'].upper()}"] = json.dumps(as_env)
        hook = MtaHook("mta_hooks")
        for event in ("delivery-status", "message-reply", "number-opt-in"):
            hook.register_webhook(event=event, url=f"{hooks}/mta_hooks", secret=MTA_SECRET)
        out = subprocess.run([AIRFLOW, "dags", "reserialize"], capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
        unpaused = api_server.client.patch("/api/v2/dags/mta_it_on_reply", json={"is_paused": False})
        assert unpaused.status_code == 200, unpaused.text
        try:
            yield server
        finally:
            os.environ.clear()
            os.environ.update(saved_env)


def stored(conn_id: str, outbound_ids: list[Any]) -> dict[str, Any]:
    store = SmsEventStore()
    try:
        return store.latest_deliveries(conn_id=conn_id, outbound_ids=[str(i) for i in outbound_ids])
    finally:
        store.close()


def final_deliveries(conn_id: str, outbound_ids: list[Any]) -> dict[str, Any] | None:
    found = stored(conn_id, outbound_ids)
    done = len(found) == len(outbound_ids) and all(e.outcome != "pending" for e in found.values())
    return found if done else None


def test_mta_delivery_events_arrive_verified_and_stored_once(wired, api_server):
    sent = MtaHook("mta_hooks").send_message(subscribers=[APPROVER, "+13175550010"], message="Your order shipped")
    found = wait_for("both MTA deliveries final", lambda: final_deliveries("mta_hooks", sent.outbound_ids), timeout=30)
    assert {e.status for e in found.values()} == {"DELIVERED", "INVALID_NUMBER"}
    assert {e.masked for e in found.values()} == {"***1111", "***0010"}
    assert "+13175551111" not in api_server.log_tail()


def test_a_yes_reply_releases_the_reply_sensor_and_makes_an_asset_event(wired, api_server):
    since = time.time()
    answer = wired.client().post("/_sandbox/reply", json={"from": APPROVER, "text": "YES"})
    assert answer.status_code == 202 and answer.json()["queued"] >= 1
    sensor = MtaReplySensor(task_id="approve", recipients=[APPROVER], sms_conn_id="mta_hooks", since=since)

    def released() -> Any:
        done = sensor.poke({"dag_run": None})
        return done.xcom_value if done.is_done else None

    summary = wait_for("the reply sensor to see YES", released, timeout=30)
    assert summary["approved_by"] == ["***1111"] and summary["replies"][0]["text"] == "YES"
    assets = api_server.client.get("/api/v2/assets", params={"name_pattern": "sms_reply__mta_hooks"}).json()
    (asset,) = [a for a in assets["assets"] if a["name"] == "sms_reply__mta_hooks"]

    def reply_event() -> list[Any]:  # recorded right after the event is stored: it may trail the sensor a little
        answer = api_server.client.get("/api/v2/assets/events", params={"asset_id": asset["id"]})
        events = answer.json()["asset_events"]
        return [e for e in events if e["extra"].get("text") == "YES" and e["extra"]["number"] == "***1111"]

    wait_for("the reply's asset event", reply_event, timeout=30)
    queued = api_server.client.get("/api/v2/dags/mta_it_on_reply/assets/queuedEvents")
    assert queued.status_code == 200 and queued.json()["total_entries"] >= 1, queued.text


def test_a_stop_reply_lands_in_the_opt_out_table(wired):
    answer = wired.client().post("/_sandbox/reply", json={"from": STOPPER, "text": "Stop"})
    assert answer.status_code == 202 and answer.json()["optOut"] is True
    table = OptOutTable(conn_id="optouts_it")
    wait_for("the opt-out table to hold the number", lambda: STOPPER in set(table.recipients()), timeout=30)
    # the next batch on this connection (which names the table in its opt_out_conn_id extra) skips the number
    from types import SimpleNamespace

    from airflow_provider_mta.operators.batch import BatchPersonalizedSmsOperator
    from tests.reliability.helpers import StateStore

    rows = [{"phone": APPROVER, "name": "Ann"}, {"phone": "(317) 555-2222", "name": "Bo"}]
    op = BatchPersonalizedSmsOperator(task_id="next_batch", sms_conn_id="mta_hooks", rows=rows, message="Hi {{ name }}")
    ti = SimpleNamespace(dag_id="d", task_id="next_batch", run_id="after-stop", map_index=-1, try_number=1)
    ctx: dict[str, Any] = {"ds": "2026-12-06", "params": {}, "ti": ti, "task_state_store": StateStore()}
    op.render_template_fields(ctx)
    out = op.execute(ctx)
    assert (out["sent"], out["suppressed"]) == (1, 1)
    texted = {m["to"] for m in wired.messages() if m["text"].startswith("Hi ")}
    assert texted == {APPROVER}


def test_telnyx_and_bird_events_arrive_verified(wired):
    for conn_id in ("telnyx_hooks", "bird_hooks"):
        sent = get_sms_hook(conn_id).send_message(subscribers=[APPROVER], message="Your order shipped")
        found = wait_for(
            f"{conn_id} delivery final", lambda ids=sent.outbound_ids, c=conn_id: final_deliveries(c, ids), timeout=30
        )
        assert [e.outcome for e in found.values()] == ["delivered"]
    since = time.time()
    for provider in ("telnyx", "bird"):
        wired.client().post("/_sandbox/reply", json={"from": APPROVER, "text": "approve", "provider": provider})
    for conn_id in ("telnyx_hooks", "bird_hooks"):
        sensor = MtaReplySensor(task_id="approve", recipients=[APPROVER], sms_conn_id=conn_id, since=since)
        wait_for(f"{conn_id} reply", lambda s=sensor: s.poke({"dag_run": None}).is_done, timeout=30)


@pytest.mark.parametrize(
    ("conn_id", "headers", "body", "status"),
    [
        (
            "mta_hooks",
            {"X-Signature": "00" * 32},
            b'{"destinationNumber":"+13175551111","messageId":1,"status":4}',
            401,
        ),
        ("mta_hooks", {}, b'{"destinationNumber":"+13175551111","messageId":1,"status":4}', 401),
        ("mta_hooks", {"X-Signature": "00"}, b"x" * (300 * 1024), 413),
        ("no_such_conn", {}, b"{}", 404),
        ("optouts_it", {}, b"{}", 404),  # not an SMS connection
        ("telnyx_hooks", {"telnyx-signature-ed25519": "AAAA", "telnyx-timestamp": "1"}, b"{}", 401),
    ],
)
def test_refused_requests_store_nothing(wired, api_server, conn_id, headers, body, status):
    before = len(SmsEventStore()._query("SELECT event_key FROM mta_sms_events", ()))
    answer = httpx.post(f"{api_server.base_url}/sms-webhooks/{conn_id}", content=body, headers=headers, timeout=30)
    assert answer.status_code == status, answer.text
    assert len(SmsEventStore()._query("SELECT event_key FROM mta_sms_events", ())) == before
    assert MTA_SECRET not in answer.text


def test_a_replayed_event_is_stored_once(wired, api_server):
    from airflow_provider_mta.backends.mta.webhook_signature import sign

    body = b'{"destinationNumber":"+13175553333","messageId":987654,"externalId":null,"status":4}'
    url = f"{api_server.base_url}/sms-webhooks/mta_hooks"
    answers = [httpx.post(url, content=body, headers={"X-Signature": sign(MTA_SECRET, body)}) for _ in range(2)]
    assert [a.json()["stored"] for a in answers] == [1, 0] and answers[1].json()["duplicates"] == 1


def test_the_delivery_sensor_needs_no_request_after_its_first_check(wired):
    """The first check lists the send's rows (mapping its outbound ids); then the webhooks bring every status."""
    from airflow_provider_mta.sensors.delivery import MtaDeliverySensor

    sent = MtaHook("mta_hooks").send_message(subscribers=["+13175554441", "+13175554442"], message="Shipped")
    xcom = {"message_id": sent.message_id, "outbound_ids": sent.outbound_ids, "total_sent": sent.total_sent}
    sensor = MtaDeliverySensor(task_id="wait", send_result=xcom, sms_conn_id="mta_hooks", poll_interval=0.2)
    assert sensor.webhooks[0]  # the connection has a webhook secret
    first = sensor.check()
    assert sensor.tracker.requests_made == 1 and first["state"] == "pending"
    wait_for(
        "the webhooks to bring both final statuses",
        lambda: final_deliveries("mta_hooks", sent.outbound_ids),
        timeout=30,
    )
    second = sensor.check()
    assert second["state"] == "success" and second["delivered"] == 2
    assert sensor.tracker.requests_made == 1  # nothing asked of MTA after the first check
    assert "2 status(es) from webhooks" in sensor.tracker.progress()


def test_the_deferrable_path_reads_the_webhooks_too(wired, monkeypatch):
    import asyncio

    from airflow_provider_mta.backends.mta.client import AsyncMtaClient
    from airflow_provider_mta.sensors.delivery import MtaDeliverySensor

    asked: list[str] = []
    attempt = AsyncMtaClient._attempt

    async def spy(self: AsyncMtaClient, method: str, path: str, *args: Any) -> Any:
        asked.append(path)
        return await attempt(self, method, path, *args)

    monkeypatch.setattr(AsyncMtaClient, "_attempt", spy)
    sent = MtaHook("mta_hooks").send_message(subscribers=["+13175554443"], message="Shipped")
    xcom = {"message_id": sent.message_id, "outbound_ids": sent.outbound_ids, "total_sent": sent.total_sent}
    sensor = MtaDeliverySensor(task_id="wait", send_result=xcom, sms_conn_id="mta_hooks", poll_interval=0.2)
    trigger = sensor.build_trigger(deadline=time.time() + 30)
    assert trigger.serialize()[1]["webhook_grace_s"] == 300.0

    async def run() -> list[Any]:
        return [event async for event in trigger.run()]

    (event,) = asyncio.run(run())
    assert event.payload["status"] == "success", event.payload
    assert asked == ["/deliveries"]  # one listing to map the outbound id; its statuses came by webhook


def test_the_api_server_log_holds_no_secret_and_no_full_number(wired, api_server):
    """Run last in this module: every request above went through this server."""
    log = api_server.log_path.read_text(errors="replace")
    assert "SMS webhook for 'mta_hooks'" in log  # the receiver did log its work
    for secret in (MTA_SECRET, BIRD_KEY, TELNYX_SIGNER.public_key, API_KEY):
        assert secret not in log
    for number in (APPROVER, STOPPER, "3175551111", "3175552222"):
        assert number not in log
    rows = SmsEventStore()._query("SELECT * FROM mta_sms_events", ())
    assert rows and APPROVER not in repr(rows) and MTA_SECRET not in repr(rows)
