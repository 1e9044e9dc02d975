"""MtaHook against real Airflow connections (from AIRFLOW_CONN_* variables) and the sandbox over loopback."""

from __future__ import annotations

import pytest

from airflow_provider_mta.core.errors import MtaConfigError, MtaTransportError, MtaUnauthorizedError, MtaValidationError
from airflow_provider_mta.hooks.mta import MtaHook
from tests.conftest import mta_conn_json

pytestmark = pytest.mark.integration


def use_conn(monkeypatch: pytest.MonkeyPatch, conn_id: str, value: str) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", value)


@pytest.mark.parametrize(
    ("conn", "base_url"),
    [
        ('{"conn_type": "mta", "password": "k"}', "https://api.mobile-text-alerts.com/v3"),
        ('{"conn_type": "mta", "host": "http://127.0.0.1:8787/v3/", "password": "k"}', "http://127.0.0.1:8787/v3"),
        ('{"conn_type": "mta", "host": "127.0.0.1", "port": 8787, "password": "k"}', "http://127.0.0.1:8787/v3"),
        ('{"conn_type": "mta", "host": "api.example.com/v3", "password": "k"}', "https://api.example.com/v3"),
        ("mta://:k@localhost:8787/v3", "http://localhost:8787/v3"),
    ],
)
def test_base_url_from_connection(monkeypatch, conn, base_url):
    use_conn(monkeypatch, "mta_x", conn)
    assert MtaHook(mta_conn_id="mta_x").client.base_url == base_url


def test_extras_configure_the_client_and_hook_arguments_win(monkeypatch):
    use_conn(
        monkeypatch,
        "mta_x",
        mta_conn_json(
            "http://127.0.0.1:1/v3", timeout="7.5", max_retries=2, send_rate_limit="5/2", default_region="gb"
        ),
    )
    client = MtaHook(mta_conn_id="mta_x").client
    assert (client.timeout, client.retry.max_retries) == (7.5, 2)
    assert client.send_pacer is not None and str(client.send_pacer.limit) == "5/2"
    hook = MtaHook(mta_conn_id="mta_x", max_retries=0, send_rate_limit="0", timeout=3)
    assert (hook.client.timeout, hook.client.retry.max_retries, hook.client.send_pacer) == (3.0, 0, None)
    request = MtaHook(mta_conn_id="mta_x").build_request(subscribers=["020 7946 0012"], message="hi")
    assert request.subscribers == ["+442079460012"]


@pytest.mark.parametrize(
    ("extra", "text"), [({"timeout": "soon"}, r"timeout/max_retries"), ({"send_rate_limit": "fast"}, r"N/SECONDS")]
)
def test_bad_extras_are_one_clear_error(monkeypatch, extra, text):
    use_conn(monkeypatch, "mta_x", mta_conn_json("http://127.0.0.1:1/v3", **extra))
    with pytest.raises(MtaConfigError, match=text):
        MtaHook(mta_conn_id="mta_x").client  # noqa: B018


def test_missing_api_key_is_one_clear_error(monkeypatch):
    use_conn(monkeypatch, "mta_x", '{"conn_type": "mta", "host": "http://127.0.0.1:1/v3"}')
    with pytest.raises(MtaConfigError) as info:
        MtaHook(mta_conn_id="mta_x").verify_api_key()
    assert str(info.value) == "Connection 'mta_x' has no API key: put the MTA API key in its password field."
    ok, message = MtaHook(mta_conn_id="mta_x").test_connection()
    assert not ok and "no API key" in message


def test_form_is_declared_as_data_and_by_the_legacy_methods():
    from airflow_provider_mta.get_provider_info import get_provider_info

    conn_type, telnyx, bird = get_provider_info()["connection-types"]
    assert telnyx["connection-type"] == "telnyx" and telnyx["hook-class-name"].endswith("TelnyxHook")
    assert bird["connection-type"] == "bird" and bird["hook-class-name"].endswith("BirdHook")
    assert conn_type["connection-type"] == "mta" and conn_type["hook-class-name"].endswith("MtaHook")
    assert set(conn_type["conn-fields"]) == {
        "timeout",
        "max_retries",
        "send_rate_limit",
        "default_region",
        "opt_out_conn_id",
        "rate_limit_conn_id",
        "general_rate_limit",
        "webhook_secret",
        "webhook_url",
        "webhook_store_conn_id",
    }
    assert MtaHook.get_ui_field_behaviour()["relabeling"] == {"host": "Base URL", "password": "API Key"}
    assert isinstance(MtaHook.get_connection_form_widgets(), dict)
    assert conn_type["conn-fields"]["webhook_secret"]["schema"]["format"] == "password"  # masked in the form
    assert telnyx["conn-fields"]["webhook_public_key"]["schema"]["format"] == "password"


def test_verify_and_test_connection_against_the_sandbox(sandbox):
    hook = MtaHook()
    account = hook.verify_api_key()
    assert account.name and account.email
    ok, message = hook.test_connection()
    assert ok and message.startswith("API key verified for") and sandbox.base_url in message


def test_wrong_key_and_unreachable_host(sandbox, monkeypatch):
    use_conn(monkeypatch, "mta_wrong", mta_conn_json(sandbox.base_url, api_key="wrong-key-zz9"))
    with pytest.raises(MtaUnauthorizedError) as info:
        MtaHook(mta_conn_id="mta_wrong").verify_api_key()
    assert "HTTP 401" in str(info.value) and "wrong-key-zz9" not in str(info.value)
    ok, message = MtaHook(mta_conn_id="mta_wrong").test_connection()
    assert not ok and "HTTP 401" in message and "\n" not in message
    use_conn(monkeypatch, "mta_down", mta_conn_json("http://127.0.0.1:9/v3", max_retries=0))
    with pytest.raises(MtaTransportError, match=r"could not reach MTA at http://127\.0\.0\.1:9/v3"):
        MtaHook(mta_conn_id="mta_down").verify_api_key()


def test_send_message_normalizes_and_sends_once(sandbox):
    result = MtaHook().send_message(
        subscribers=["(317) 555-1111", "+1 317 555 2222"],
        message="Hi {{name}}",
        properties={"(317) 555-1111": {"name": "Ann"}, "+1 317 555 2222": {"name": "Bob"}},
        request_id="hook-test-1",
    )
    assert result.total_sent == 2 and len(result.outbound_ids) == 2 and result.message_id
    rows = sorted(sandbox.messages(), key=lambda r: r["to"])
    assert [(r["to"], r["text"], r["requestId"]) for r in rows] == [
        ("+13175551111", "Hi Ann", "hook-test-1"),
        ("+13175552222", "Hi Bob", "hook-test-1"),
    ]
    again = MtaHook().send_message(
        subscribers=["3175551111"],
        message="Hi {{name}}",
        properties={"3175551111": {"name": "Ann"}},
        request_id="hook-test-1",
    )
    assert again.already_sent and len(sandbox.messages()) == 2


def test_send_message_validates_before_sending(sandbox):
    with pytest.raises(MtaValidationError, match=r"subscribers\[0\]"):
        MtaHook().send_message(subscribers=["12"], message="x")
    assert sandbox.messages() == []


async def test_a_text_mta_would_refuse_as_too_long_is_refused_before_sending(sandbox):
    with pytest.raises(MtaValidationError, match=r"for \*\*\*1111, the text is 161 characters; an SMS holds"):
        MtaHook().send_message(subscribers=["+13175551111"], message="x" * 161)
    with pytest.raises(MtaValidationError, match="the text is 161 characters"):
        await MtaHook().asend_message(subscribers=["+13175551111"], message="x" * 161)
    assert sandbox.stats()["sendRequests"] == 0  # refused here, not by the sandbox
    # As an MMS the same text goes out (3 credits), and the request id also travels in the tags.
    result = MtaHook().send_message(subscribers=["+13175551111"], message="x" * 161, is_mms=True, request_id="r-mms")
    (row,) = sandbox.messages()
    assert result.total_sent == 1 and row["credits"] == 3
    assert row["requestId"] == "r-mms" and row["tags"] == {"requestId": "r-mms"}


async def test_async_twins(sandbox):
    hook = MtaHook()
    assert (await hook.averify_api_key()).name
    result = await hook.asend_message(subscribers=["+13175553333"], message="async hi", request_id="hook-async-1")
    assert result.total_sent == 1
    assert [r["text"] for r in sandbox.messages()] == ["async hi"]
