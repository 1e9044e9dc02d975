"""MtaHook.register_webhook / list_webhooks (and async twins) against the sandbox over loopback; the secret never
shows in logs or errors."""

from __future__ import annotations

import logging

import httpx
import pytest

from airflow_provider_mta.backends.mta.client import MtaClient
from airflow_provider_mta.core.errors import MtaBadRequestError, MtaValidationError
from airflow_provider_mta.core.retry import RetryPolicy
from airflow_provider_mta.hooks.mta import MtaHook
from tests.backends.scripted_http import Script

pytestmark = pytest.mark.integration
SECRET = "whsec-CANARY-5b1e0c7d"
URL = "http://127.0.0.1:9/sms-webhooks/mta_default"


def test_a_registered_webhook_is_listed_by_the_sandbox_without_its_secret(sandbox, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    hook = MtaHook()
    created = hook.register_webhook(event="delivery-status", url=URL, secret=SECRET)
    assert (created["event"], created["url"]) == ("delivery-status", URL) and isinstance(created["id"], int)
    raw = httpx.get(f"{sandbox.base_url}/webhooks", headers={"Authorization": f"Bearer {sandbox.api_key}"})
    assert [(r["id"], r["url"]) for r in raw.json()["data"]["rows"]] == [(created["id"], URL)]
    assert [w["id"] for w in hook.list_webhooks()] == [created["id"]]
    assert SECRET not in capsys.readouterr().out + caplog.text + repr(created)


@pytest.mark.parametrize("event", ["delivery", "Delivery-Status", "", "message.finalized"])
def test_a_bad_event_is_refused_before_any_request(sandbox, monkeypatch, event):
    def no_request(*args, **kwargs):
        raise AssertionError("a request was made")

    monkeypatch.setattr(MtaClient, "request", no_request)
    with pytest.raises(MtaValidationError, match=r"^event: .*delivery-status, message-reply") as caught:
        MtaHook().register_webhook(event=event, url=URL, secret=SECRET)
    assert caught.value.field == "event" and SECRET not in str(caught.value)


@pytest.mark.parametrize(("url", "secret", "field"), [("ftp://x", SECRET, "url"), (URL, " ", "secret")])
def test_url_and_secret_are_checked_too(sandbox, url, secret, field):
    with pytest.raises(MtaValidationError) as caught:
        MtaHook().register_webhook(event="delivery-status", url=url, secret=secret)
    assert caught.value.field == field


async def test_async_twins(sandbox, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    hook = MtaHook()
    created = await hook.aregister_webhook(event="delivery-status", url=URL, secret=SECRET)
    async with await hook.aget_conn() as client:
        listed = await hook.alist_webhooks(client=client)
    assert [(w["id"], w["event"]) for w in listed] == [(created["id"], "delivery-status")]
    assert SECRET not in capsys.readouterr().out + caplog.text


def test_an_error_echoing_the_secret_shows_stars_in_the_error_and_the_retry_log(caplog, capsys):
    caplog.set_level(logging.DEBUG)
    echo = {"httpCode": 400, "message": f'bad secret "{SECRET}" for url', "type": "bad_request_error"}
    script = Script(httpx.Response(500, json={**echo, "httpCode": 500}), httpx.Response(400, json=echo))
    client = MtaClient(
        api_key="k", base_url="http://mta.test/v3", transport=httpx.MockTransport(script),
        retry=RetryPolicy(max_retries=1, backoff_initial=0.001, backoff_max=0.002),
        send_rate_limit=None, general_rate_limit=None, sleep=lambda s: None,
    )  # fmt: skip
    hook = MtaHook()
    hook.__dict__["client"] = client  # the cached client, pointed at the scripted server
    with pytest.raises(MtaBadRequestError) as caught:
        hook.register_webhook(event="message-reply", url=URL, secret=SECRET)
    assert len(script.requests) == 2 and SECRET in script.requests[0].content.decode()
    assert "***" in str(caught.value) and SECRET not in str(caught.value) + repr(caught.value.body)
    logged = capsys.readouterr().out + caplog.text
    assert "retry 1/1" in logged and "Registering an MTA message-reply webhook" in logged and SECRET not in logged
