"""BirdHook: connection checks, fields refused by name, the form, and "Test" (against a loopback stub).

The sends over real HTTP are in tests/hooks/test_bird_hook_sandbox.py (against the sandbox's Bird routes).
"""

from __future__ import annotations

import json

import pytest

from airflow_provider_mta.core.errors import MtaConfigError, MtaValidationError
from airflow_provider_mta.hooks.bird import BirdHook, message_reference
from airflow_provider_mta.hooks.sms import SmsHook, get_sms_hook, hook_class
from tests.loopback_http import LoopbackServer, QuietHandler

pytestmark = pytest.mark.integration  # real Airflow connections from AIRFLOW_CONN_* variables

KEY = "bird-key-SECRET-4711"
WS = "5f0c1b2e-0000-4000-8000-00000000b1d0"
CH = "5f0c1b2e-0000-4000-8000-00000000c4a1"
BIRD = {"conn_type": "bird", "password": KEY, "extra": {"workspace_id": WS, "channel_id": CH}}
ANN, BO = "+13175551111", "+13175552222"


def use_conn(monkeypatch: pytest.MonkeyPatch, conn_id: str, value: dict) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(value))


def test_the_bird_connection_type_picks_the_bird_hook(monkeypatch):
    use_conn(monkeypatch, "bird_x", BIRD)
    hook = get_sms_hook("bird_x")
    assert type(hook) is BirdHook and isinstance(hook, SmsHook) and hook_class("bird", conn_id="x") is BirdHook
    assert (hook.provider, hook.sends_per_recipient, hook.resend_is_safe) == ("bird", True, False)
    assert hook.sms_conn_id == hook.bird_conn_id == "bird_x"
    assert (BirdHook.conn_name_attr, BirdHook.default_conn_name) == ("bird_conn_id", "bird_default")
    settings = hook.settings
    assert settings.base_url == "https://api.bird.com"
    assert settings.extras == {"workspace_id": WS, "channel_id": CH}
    assert BirdHook(bird_conn_id="bird_x").sms_conn_id == "bird_x"


@pytest.mark.parametrize("missing", ["workspace_id", "channel_id"])
def test_a_missing_id_is_an_error_naming_the_connection_and_extra(monkeypatch, missing):
    extra = {k: v for k, v in BIRD["extra"].items() if k != missing}
    use_conn(monkeypatch, "bird_noid", {**BIRD, "extra": extra})
    hook = get_sms_hook("bird_noid")
    with pytest.raises(MtaConfigError) as info:
        hook.send_message(subscribers=[ANN], message="hi")
    assert str(info.value).startswith(f"Connection 'bird_noid' (Bird) has no {missing}: set its extra '{missing}'")
    use_conn(monkeypatch, "bird_blank", {**BIRD, "extra": {**BIRD["extra"], missing: "  "}})
    with pytest.raises(MtaConfigError, match=f"has no {missing}"):
        get_sms_hook("bird_blank").settings  # noqa: B018


def test_no_key_is_an_error_naming_the_connection(monkeypatch):
    use_conn(monkeypatch, "bird_nokey", {**BIRD, "password": ""})
    with pytest.raises(MtaConfigError, match="Connection 'bird_nokey' has no API key: put the Bird API key"):
        get_sms_hook("bird_nokey").settings  # noqa: B018


def test_an_mta_only_field_is_refused_by_name(monkeypatch):
    use_conn(monkeypatch, "bird_x", BIRD)
    hook = get_sms_hook("bird_x")
    with pytest.raises(MtaValidationError) as info:
        hook.check_fields(["message", "groups", "template_id"])
    assert info.value.field == "groups"
    assert "connection 'bird_x' is of type 'bird'" in str(info.value) and "groups, template_id" in str(info.value)
    with pytest.raises(MtaValidationError, match="groups: is not a field of Bird's POST /workspaces"):
        hook.build_request(subscribers=[ANN], message="hi", groups=[1])
    with pytest.raises(MtaValidationError, match="tags: Bird messages carry no tags"):
        hook.build_request(subscribers=[ANN], message="hi", tags={"a": "b"})
    with pytest.raises(MtaConfigError, match="Bird has no cost quote"):
        hook.get_send_cost(hook.build_request(subscribers=[ANN], message="hi"))


def test_references_are_deterministic_per_send_and_recipient():
    assert message_reference("r", ANN) == message_reference("r", ANN)
    assert len({message_reference("r", ANN), message_reference("r", BO), message_reference("s", ANN)}) == 3
    assert len(message_reference("r", ANN)) <= 256


@pytest.mark.parametrize(
    ("host", "base_url"),
    [
        ("127.0.0.1:8789", "http://127.0.0.1:8789"),
        ("localhost:8789", "http://localhost:8789"),
        ("api.bird.com", "https://api.bird.com"),
        ("http://127.0.0.1:8787/", "http://127.0.0.1:8787"),
    ],
)
def test_base_url(monkeypatch, host, base_url):
    use_conn(monkeypatch, "bird_x", {**BIRD, "host": host})
    assert get_sms_hook("bird_x").settings.base_url == base_url


def test_the_form_is_declared():
    from airflow_provider_mta.get_provider_info import get_provider_info

    info = get_provider_info()
    (entry,) = [e for e in info["connection-types"] if e["connection-type"] == "bird"]
    assert entry["hook-class-name"] == "airflow_provider_mta.hooks.bird.BirdHook" and entry["hook-name"] == "Bird"
    assert set(entry["conn-fields"]) == {
        "workspace_id",
        "channel_id",
        "timeout",
        "max_retries",
        "send_rate_limit",
        "default_region",
        "opt_out_conn_id",
        "rate_limit_conn_id",
        "webhook_secret",
        "webhook_url",
        "webhook_store_conn_id",
    }
    assert set(entry["conn-fields"]) == set(BirdHook.extra_names)
    behaviour = BirdHook.get_ui_field_behaviour()
    assert behaviour["relabeling"] == {"host": "Base URL", "password": "Access Key"}
    assert behaviour["placeholders"]["host"] == "https://api.bird.com"
    assert {"get_ui_field_behaviour", "get_connection_form_widgets"} <= set(BirdHook.__dict__)
    (integration,) = [i for i in info["integrations"] if i["integration-name"] == "Bird"]
    assert integration["external-doc-url"] == "https://docs.bird.com/api/channels-api"


class _Channel(QuietHandler):
    calls: list[tuple[str, str]] = []

    def do_GET(self) -> None:
        _Channel.calls.append((self.path, self.headers.get("Authorization", "")))
        if self.headers.get("Authorization") != f"AccessKey {KEY}":
            self.reply(401, b'{"code": "Unauthorized", "message": "bad access key"}', "application/json")
        elif self.path != f"/workspaces/{WS}/channels/{CH}":
            self.reply(404, b'{"code": "NotFound", "message": "channel not found"}', "application/json")
        else:
            body = {"id": CH, "platformId": "sms-messagebird", "status": "active", "name": "Alerts"}
            self.reply(200, json.dumps(body).encode(), "application/json")


@pytest.fixture
def channel_stub():
    _Channel.calls = []
    server = LoopbackServer(_Channel)
    try:
        yield server
    finally:
        server.close()


def test_test_connection_gets_the_channel(monkeypatch, channel_stub):
    host = channel_stub.root.removeprefix("http://")
    use_conn(monkeypatch, "bird_t", {**BIRD, "host": host})
    ok, message = BirdHook(bird_conn_id="bird_t").test_connection()
    assert ok, message
    assert message == f"Bird access key accepted: channel 'Alerts' ({CH}, active) at {channel_stub.root}"
    assert _Channel.calls == [(f"/workspaces/{WS}/channels/{CH}", f"AccessKey {KEY}")]


def test_test_connection_failures_name_channel_and_url_never_the_key(monkeypatch, channel_stub):
    use_conn(monkeypatch, "bird_bad", {**BIRD, "host": channel_stub.root, "password": "wrong-key-zz9"})
    ok, message = BirdHook(bird_conn_id="bird_bad").test_connection()
    assert not ok and "401" in message and CH in message and channel_stub.root in message
    assert "wrong-key-zz9" not in message
    use_conn(
        monkeypatch, "bird_other", {**BIRD, "host": channel_stub.root, "extra": {**BIRD["extra"], "channel_id": "nope"}}
    )
    ok, message = BirdHook(bird_conn_id="bird_other").test_connection()
    assert not ok and "404" in message and "workspace_id and channel_id" in message
    assert len(_Channel.calls) == 2  # no retries
    use_conn(monkeypatch, "bird_down", {**BIRD, "host": "http://127.0.0.1:9"})
    ok, message = BirdHook(bird_conn_id="bird_down").test_connection()
    assert not ok and "could not reach Bird at http://127.0.0.1:9" in message and KEY not in message
