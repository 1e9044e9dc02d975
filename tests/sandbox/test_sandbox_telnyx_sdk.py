"""Contract test with Telnyx's official SDK (``telnyx`` on PyPI) pointed at the sandbox's /v2: the
sandbox accepts what the SDK sends and the SDK parses what the sandbox answers."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import telnyx
from telnyx.types import OutboundMessagePayload

from airflow_provider_mta.sandbox.testing import SandboxServer


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer(delivery_delay_s=0.4) as s:
        yield s


@pytest.fixture
def sdk(server: SandboxServer) -> Iterator[telnyx.Telnyx]:
    server.reset()
    client = telnyx.Telnyx(api_key=server.api_key, base_url=server.telnyx_base_url, max_retries=0)
    yield client
    client.close()


def test_sdk_sends_and_retrieves_a_message(server: SandboxServer, sdk: telnyx.Telnyx) -> None:
    sent = sdk.messages.send(
        to="+13175551111",
        from_="+13175550100",
        text="Hello from the SDK",
        type="SMS",
        encoding="auto",
        auto_detect=True,
        use_profile_webhooks=False,
    )
    data = sent.data
    assert isinstance(data, OutboundMessagePayload)
    assert data.record_type == "message" and data.direction == "outbound" and data.type == "SMS"
    assert data.to is not None and data.to[0].phone_number == "+13175551111"
    assert data.to[0].status == "queued"
    assert data.from_ is not None and data.from_.phone_number == "+13175550100"
    assert (data.text, data.parts, data.encoding) == ("Hello from the SDK", 1, "GSM-7")
    assert data.cost is not None and (data.cost.amount, data.cost.currency) == ("0.0040", "USD")
    assert data.errors == [] and data.received_at is not None and data.completed_at is None
    assert data.id is not None
    rows = server.messages(provider="telnyx")
    assert [(r["messageId"], r["text"]) for r in rows] == [(data.id, "Hello from the SDK")]

    deadline = time.monotonic() + 5
    while True:
        got = sdk.messages.retrieve(data.id).data
        assert isinstance(got, OutboundMessagePayload)  # the SDK picked the outbound model by direction
        assert got.to is not None
        if got.to[0].status == "delivered" or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert got.to[0].status == "delivered"
    assert got.id == data.id and got.completed_at is not None and got.sent_at is not None


def test_sdk_mms_with_profile_and_idempotency_key(server: SandboxServer, sdk: telnyx.Telnyx) -> None:
    kwargs = {
        "to": "+13175552222",
        "messaging_profile_id": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
        "media_urls": ["https://example.com/cat.png"],
        "subject": "cat",
        "idempotency_key": "sdk-key-1",
    }
    first = sdk.messages.with_raw_response.send(**kwargs)  # type: ignore[arg-type]
    second = sdk.messages.with_raw_response.send(**kwargs)  # type: ignore[arg-type]
    assert second.headers["idempotent-replayed"] == "true"
    a, b = first.parse().data, second.parse().data
    assert a is not None and b is not None
    assert a.id == b.id and a.type == "MMS" and a.media is not None and a.media[0].url == kwargs["media_urls"][0]
    assert len(server.messages(provider="telnyx")) == 1


def test_sdk_maps_sandbox_refusals_to_its_exceptions(server: SandboxServer, sdk: telnyx.Telnyx) -> None:
    with pytest.raises(telnyx.BadRequestError) as bad:
        sdk.messages.send(to="3175551111", from_="+13175550100", text="x")
    assert isinstance(bad.value.body, dict) and bad.value.body["errors"][0]["code"] == "40310"
    server.opt_out("+13175553333")
    with pytest.raises(telnyx.PermissionDeniedError) as stopped:
        sdk.messages.send(to="+13175553333", from_="+13175550100", text="x")
    assert isinstance(stopped.value.body, dict) and stopped.value.body["errors"][0]["code"] == "40300"
    with pytest.raises(telnyx.NotFoundError):
        sdk.messages.retrieve("40385f64-5717-4562-b3fc-2c963f66afa6")
    with pytest.raises(telnyx.AuthenticationError):
        telnyx.Telnyx(api_key="wrong", base_url=server.telnyx_base_url, max_retries=0).balance.retrieve()
    assert server.messages(provider="telnyx") == []


def test_sdk_reads_the_balance(sdk: telnyx.Telnyx) -> None:
    balance = sdk.balance.retrieve().data
    assert balance is not None
    assert (balance.record_type, balance.balance, balance.currency) == ("balance", "100.0000", "USD")


def test_sdk_retries_a_fault_and_the_sandbox_sends_once(server: SandboxServer) -> None:
    server.reset()
    server.fault("status", status=503, provider="telnyx")
    client = telnyx.Telnyx(api_key=server.api_key, base_url=server.telnyx_base_url, max_retries=2)
    sent = client.messages.send(to="+13175551111", from_="+13175550100", text="retried")
    client.close()
    assert sent.data is not None and sent.data.to is not None and sent.data.to[0].status == "queued"
    stats = server.stats()
    assert (stats["faultsFired"], stats["telnyxSendsAccepted"]) == (1, 1)
    assert len(server.messages(provider="telnyx")) == 1
