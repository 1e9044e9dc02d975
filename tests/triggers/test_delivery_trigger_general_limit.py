"""Issue 20 finding 4, against the sandbox enforcing MTA's general limit (scaled down: 10 requests a second).

A batch of 40 chunks is 40 message ids. Before, one check asked all 40; under the limit the 11th got a
429, the check was lost and counted as failed, and the trigger gave up after 6 failed checks.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_mta.sandbox.testing import SandboxServer
from airflow_provider_mta.triggers.delivery import MtaDeliveryTrigger
from tests.conftest import API_KEY, mta_conn_json

pytestmark = pytest.mark.integration

CHUNKS = 40
LIMIT = "10/1"  # MTA's 30/60, scaled


@pytest.fixture(scope="module")
def limited() -> Iterator[SandboxServer]:
    with SandboxServer(api_keys=(API_KEY,), delivery_delay_s=0.0, general_rate_limit=LIMIT) as server:
        yield server


@pytest.fixture
def batch(limited: SandboxServer) -> list[str]:
    """40 chunks of 3 recipients (sent straight to the sandbox: /send has its own limit); their message ids."""
    limited.reset()
    client = limited.client()
    message_ids = []
    for chunk in range(CHUNKS):
        numbers = [f"+1317555{chunk:02d}{i:02d}" for i in range(1, 4)]
        answer = client.post("/v3/send", json={"subscribers": numbers, "message": "your order shipped"})
        answer.raise_for_status()
        message_ids.append(answer.json()["data"]["messageId"])
    return message_ids


def trigger(message_ids: list[str], **kwargs: Any) -> MtaDeliveryTrigger:
    args: dict[str, Any] = {"outbound_ids": None, "message_ids": message_ids, "expected": 3 * CHUNKS}
    return MtaDeliveryTrigger(**{**args, "sms_conn_id": "mta_limited", "poll_interval": 0.2, **kwargs})


async def run(trigger: MtaDeliveryTrigger) -> dict[str, Any]:
    events = [event async for event in trigger.run()]
    assert len(events) == 1
    return dict(events[0].payload)


async def test_an_unpaced_client_meets_429s_and_still_finishes(limited, batch, monkeypatch, capsys):
    """No client pacing, a whole round per check: the 429s are waited out, no check is lost."""
    monkeypatch.setenv("AIRFLOW_CONN_MTA_LIMITED", mta_conn_json(limited.base_url, general_rate_limit="0"))
    event = await run(trigger(batch, max_requests_per_check=None, max_errors=2))
    assert event["status"] == "success", event["message"]
    assert event["summary"]["delivered"] + event["summary"]["failed"] == 3 * CHUNKS
    stats = limited.stats()
    assert stats["generalRateLimited"] >= 1  # the limit was met, and it cost no failed check
    out = capsys.readouterr().out
    assert "asked to slow down (429); the check goes on" in out and "failed checks" not in out


async def test_the_default_budget_and_the_connection_pacing_meet_no_429(limited, batch, monkeypatch, capsys):
    monkeypatch.setenv("AIRFLOW_CONN_MTA_LIMITED", mta_conn_json(limited.base_url, general_rate_limit=LIMIT))
    event = await run(trigger(batch, max_requests_per_check=10))
    assert event["status"] == "success", event["message"]
    assert limited.stats()["generalRateLimited"] == 0
    out = capsys.readouterr().out
    assert "10 request(s) this check; round 1: 10 of 40 message id(s) read, the next check carries on" in out
    assert "round 1: 40 of 40 message id(s) read" in out
