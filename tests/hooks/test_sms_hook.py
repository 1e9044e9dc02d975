"""The backend seam: a connection's type picks its hook; sms_conn_id and mta_conn_id; settings parsed once."""

from __future__ import annotations

import json

import pytest

from airflow_provider_mta.core.errors import MtaConfigError, MtaValidationError
from airflow_provider_mta.hooks.mta import MtaHook
from airflow_provider_mta.hooks.sms import SmsHook, get_sms_hook, hook_class, resolve_conn_id
from airflow_provider_mta.hooks.telnyx import TelnyxHook

pytestmark = pytest.mark.integration  # real Airflow connections from AIRFLOW_CONN_* variables

TELNYX = {"conn_type": "telnyx", "password": "KEYtest", "extra": {"from": "+13125550100"}}


def use_conn(monkeypatch: pytest.MonkeyPatch, conn_id: str, value: dict) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(value))


def test_the_connection_type_picks_the_hook(monkeypatch):
    use_conn(monkeypatch, "sms_a", {"conn_type": "mta", "password": "k"})
    use_conn(monkeypatch, "sms_b", TELNYX)
    mta, telnyx = get_sms_hook("sms_a"), get_sms_hook("sms_b")
    assert type(mta) is MtaHook and mta.sms_conn_id == mta.mta_conn_id == "sms_a"
    assert type(telnyx) is TelnyxHook and telnyx.sms_conn_id == "sms_b"
    assert isinstance(mta, SmsHook) and isinstance(telnyx, SmsHook)
    assert (mta.provider, telnyx.provider) == ("mta", "telnyx")
    assert telnyx.settings.base_url == "https://api.telnyx.com/v2"
    assert (mta.sends_per_recipient, telnyx.sends_per_recipient) == (False, True)
    assert (mta.resend_is_safe, telnyx.resend_is_safe) == (True, False)


def test_a_connection_of_another_type_is_a_clear_error_naming_it(monkeypatch):
    use_conn(monkeypatch, "warehouse", {"conn_type": "postgres", "host": "127.0.0.1", "password": "k"})
    with pytest.raises(MtaConfigError) as info:
        get_sms_hook("warehouse")
    assert str(info.value).startswith("Connection 'warehouse' is of type 'postgres', which is no SMS API")
    assert "'mta', 'telnyx'" in str(info.value)
    with pytest.raises(MtaConfigError, match="is of type 'postgres', not 'mta'"):
        MtaHook(mta_conn_id="warehouse").verify_api_key()


def test_hook_class_never_imports_an_unknown_type():
    with pytest.raises(MtaConfigError, match="Connection 'x' is of type 'http'"):
        hook_class("http", conn_id="x")
    assert hook_class("telnyx", conn_id="x") is TelnyxHook


def test_sms_conn_id_and_mta_conn_id_are_the_same_thing():
    assert resolve_conn_id(sms_conn_id=None, mta_conn_id=None, owner="X") == "mta_default"
    assert resolve_conn_id(sms_conn_id="a", mta_conn_id=None, owner="X") == "a"
    assert resolve_conn_id(sms_conn_id=None, mta_conn_id="b", owner="X") == "b"
    assert resolve_conn_id(sms_conn_id="a", mta_conn_id="a", owner="X") == "a"
    with pytest.raises(MtaConfigError, match="X: sms_conn_id='a' and mta_conn_id='b' name different connections"):
        resolve_conn_id(sms_conn_id="a", mta_conn_id="b", owner="X")


def test_operators_take_either_name():
    from airflow_provider_mta.notifications.mta import MtaNotifier
    from airflow_provider_mta.operators.batch import BatchPersonalizedSmsOperator
    from airflow_provider_mta.operators.send import SendSmsOperator
    from airflow_provider_mta.sensors.delivery import MtaDeliverySensor

    send = SendSmsOperator(task_id="s", sms_conn_id="telnyx_x", subscribers=["+13175551111"], message="hi")
    old = SendSmsOperator(task_id="o", mta_conn_id="mta_x", subscribers=["+13175551111"], message="hi")
    batch = BatchPersonalizedSmsOperator(task_id="b", sms_conn_id="telnyx_x", rows=[], message="hi")
    sensor = MtaDeliverySensor(task_id="d", sms_conn_id="telnyx_x", outbound_ids=[1])
    notifier = MtaNotifier(sms_conn_id="telnyx_x", subscribers=["+13175551111"], message="hi")
    assert (send.sms_conn_id, old.sms_conn_id, old.mta_conn_id) == ("telnyx_x", "mta_x", "mta_x")
    assert batch.sms_conn_id == sensor.sms_conn_id == notifier.sms_conn_id == "telnyx_x"
    for owner in (send, batch, sensor, notifier):
        assert "sms_conn_id" in owner.template_fields
    with pytest.raises(MtaConfigError, match="SendSmsOperator: sms_conn_id='a' and mta_conn_id='b'"):
        SendSmsOperator(task_id="x", sms_conn_id="a", mta_conn_id="b", subscribers=["+13175551111"], message="hi")


def test_telnyx_connection_without_a_sender_is_an_error_naming_it(monkeypatch):
    use_conn(monkeypatch, "telnyx_nosender", {"conn_type": "telnyx", "password": "KEYtest"})
    with pytest.raises(MtaConfigError) as info:
        get_sms_hook("telnyx_nosender").settings  # noqa: B018
    assert str(info.value).startswith("Connection 'telnyx_nosender' (Telnyx) names no sender")
    assert "'from'" in str(info.value) and "'messaging_profile_id'" in str(info.value)
    use_conn(monkeypatch, "telnyx_profile", {**TELNYX, "extra": {"messaging_profile_id": "4001-abc"}})
    assert get_sms_hook("telnyx_profile").settings.extras["messaging_profile_id"] == "4001-abc"


def test_telnyx_connection_without_a_key_is_an_error_naming_it(monkeypatch):
    use_conn(monkeypatch, "telnyx_nokey", {**TELNYX, "password": ""})
    with pytest.raises(MtaConfigError, match="Connection 'telnyx_nokey' has no API key: put the Telnyx API key"):
        get_sms_hook("telnyx_nokey").settings  # noqa: B018


def test_an_mta_only_field_on_a_telnyx_connection_is_refused_by_name(monkeypatch):
    use_conn(monkeypatch, "telnyx_x", TELNYX)
    hook = get_sms_hook("telnyx_x")
    with pytest.raises(MtaValidationError) as info:
        hook.check_fields(["message", "groups", "template_id"])
    assert info.value.field == "groups"
    assert "connection 'telnyx_x' is of type 'telnyx'" in str(info.value)
    assert "groups, template_id" in str(info.value)
    with pytest.raises(MtaValidationError, match="groups: is not a field of Telnyx's POST /v2/messages"):
        hook.build_request(subscribers=["+13175551111"], message="hi", groups=[1])


def test_prefixed_extras_are_read_when_the_plain_one_is_empty(monkeypatch):
    use_conn(
        monkeypatch,
        "telnyx_x",
        {**TELNYX, "extra": {"from": "", "extra__telnyx__from": "+13125550199", "extra__telnyx__timeout": "4"}},
    )
    settings = get_sms_hook("telnyx_x").settings
    assert settings.extras["from"] == "+13125550199"
    assert settings.timeout == 4.0


@pytest.mark.parametrize(
    ("host", "base_url"),
    [
        ("127.0.0.1:8789", "http://127.0.0.1:8789/v2"),
        ("localhost:8789/v2", "http://localhost:8789/v2"),
        ("api.telnyx.com", "https://api.telnyx.com/v2"),
        ("http://127.0.0.1:8787/v2/", "http://127.0.0.1:8787/v2"),
    ],
)
def test_base_url_with_host_and_port_in_one_field(monkeypatch, host, base_url):
    use_conn(monkeypatch, "telnyx_x", {**TELNYX, "host": host})
    assert get_sms_hook("telnyx_x").settings.base_url == base_url


def test_the_ui_form_is_declared_per_connection_type():
    mta, telnyx = MtaHook.get_ui_field_behaviour(), TelnyxHook.get_ui_field_behaviour()
    assert mta["placeholders"]["host"] == "https://api.mobile-text-alerts.com/v3"
    assert telnyx["placeholders"]["host"] == "https://api.telnyx.com/v2"
    assert telnyx["relabeling"] == {"host": "Base URL", "password": "API Key"}
    for hook in (MtaHook, TelnyxHook):  # Airflow 3.1 reads the form methods only from a class's own __dict__
        assert {"get_ui_field_behaviour", "get_connection_form_widgets"} <= set(hook.__dict__), hook
