"""MTA's general limit (every ``/v3`` route but ``POST /send``, per client address) on a dedicated server,
and ``--ignore-message-id-filter``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from airflow_provider_mta.sandbox.__main__ import parse_args
from airflow_provider_mta.sandbox.settings import Settings
from airflow_provider_mta.sandbox.testing import SandboxServer

BODY: dict[str, Any] = {"subscribers": ["+13175551111"], "message": "general"}
AUTH = {"Authorization": "Bearer sandbox-key"}


@pytest.fixture(scope="module")
def general() -> Iterator[SandboxServer]:
    with SandboxServer(general_rate_limit="3/2", send_rate_limit="3/2") as server:
        yield server


def get(server: SandboxServer, path: str = "/auth/verify-api-key") -> httpx.Response:
    return httpx.get(server.base_url + path, headers=AUTH, trust_env=False)


def post_send(server: SandboxServer) -> httpx.Response:
    return httpx.post(server.base_url + "/send", json=BODY, headers=AUTH, trust_env=False)


def shape(response: httpx.Response) -> tuple[Any, ...]:
    body = response.json()
    return response.status_code, sorted(body), body["type"], body["name"], body["message"]


def test_the_fourth_call_in_the_window_is_429_like_a_send_429(general: SandboxServer) -> None:
    general.reset()
    answers = [get(general), get(general, "/deliveries"), get(general, "/webhooks"), get(general, "/groups")]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    refused = answers[3]
    assert 1 <= int(refused.headers["Retry-After"]) <= 2
    assert 0 < int(refused.headers["RateLimit-Reset"]) <= 2000
    assert (refused.headers["RateLimit-Limit"], refused.headers["X-RateLimit-Limit"]) == ("3", "3")
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    sends = [post_send(general) for _ in range(4)]  # /send is not counted: its own window, still open
    assert [s.status_code for s in sends] == [200, 200, 200, 429]
    assert shape(refused) == shape(sends[3])
    assert set(sends[3].headers) >= {"retry-after", "ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"}
    stats = general.stats()
    assert (stats["generalRateLimited"], stats["rateLimited"]) == (1, 1)


def test_admin_routes_and_telnyx_are_not_counted(general: SandboxServer) -> None:
    general.reset()
    for _ in range(5):
        general.stats()
        general.messages()
    telnyx = [httpx.get(general.telnyx_base_url + "/balance", headers=AUTH, trust_env=False) for _ in range(5)]
    assert all(t.status_code != 429 for t in telnyx)
    assert [get(general).status_code for _ in range(3)] == [200, 200, 200]
    assert general.stats()["generalRateLimited"] == 0


def test_the_window_reopens_after_retry_after(general: SandboxServer) -> None:
    import time

    general.reset()
    answers = [get(general) for _ in range(4)]
    assert answers[3].status_code == 429
    time.sleep(float(answers[3].headers["RateLimit-Reset"]) / 1000 + 0.05)
    assert get(general).status_code == 200


def test_zero_turns_it_off() -> None:
    with SandboxServer(general_rate_limit="0") as server:
        answers = [get(server) for _ in range(40)]
        assert {a.status_code for a in answers} == {200}
        assert "RateLimit-Limit" not in answers[0].headers
        assert server.stats()["generalRateLimited"] == 0


def test_the_flags_and_their_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    defaults, _ = parse_args([])
    assert (defaults.general_rate_limit, defaults.ignore_message_id_filter) == ("30/60", False)
    assert str(defaults.general_limit) == "30/60"
    settings, _ = parse_args(["--general-rate-limit", "3/2", "--ignore-message-id-filter"])
    assert (settings.general_rate_limit, settings.ignore_message_id_filter) == ("3/2", True)
    assert parse_args(["--general-rate-limit", "0"])[0].general_limit is None
    assert SandboxServer().settings.general_limit is None  # off in tests unless asked for
    with pytest.raises(SystemExit):
        parse_args(["--general-rate-limit", "lots"])
    assert "N/SECONDS" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    general_help = text.split("--general-rate-limit N/SECONDS", 2)[2].split("--max-recipients")[0]
    assert "(default: 30/60)" in general_help
    assert "--ignore-message-id-filter" in text
    assert Settings().general_rate_limit == "30/60"


def deliveries_of(server: SandboxServer, message_id: str) -> list[dict[str, Any]]:
    response = httpx.get(
        server.base_url + "/deliveries", params={"filters[messageId]": message_id}, headers=AUTH, trust_env=False
    )
    response.raise_for_status()
    rows: list[dict[str, Any]] = response.json()["data"]["rows"]
    return rows


@pytest.mark.parametrize("ignore", [False, True])
def test_ignore_message_id_filter(ignore: bool) -> None:
    with SandboxServer(ignore_message_id_filter=ignore) as server:
        first = post_send(server).json()["data"]["messageId"]
        second = post_send(server).json()["data"]["messageId"]
        rows = deliveries_of(server, first)
        if ignore:
            assert {r["messageId"] for r in rows} == {first, second}
        else:
            assert {r["messageId"] for r in rows} == {first}
        sms = httpx.get(server.base_url + "/deliveries", params={"filters[type]": "mms"}, headers=AUTH)
        assert sms.json()["data"]["rows"] == []  # the other filters still work
