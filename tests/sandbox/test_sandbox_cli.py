"""``python -m airflow_provider_mta.sandbox``: --help shows every flag's default; the banner names the API key
when it is the default ``sandbox-key`` and only counts keys given with --api-key (logs are kept and swept)."""

from __future__ import annotations

import re

import pytest

from airflow_provider_mta.sandbox import __main__ as sandbox_main
from airflow_provider_mta.sandbox.testing import SandboxProcess

CANARY = "sk-LEAKCANARY-cli-5e1d"


def help_text(capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as info:
        sandbox_main.parse_args(["--help"])
    assert info.value.code == 0
    return " ".join(capsys.readouterr().out.split())  # argparse wraps lines by the terminal width


def test_help_shows_the_default_of_every_flag(capsys):
    text = help_text(capsys)
    options = text.split("options:", 1)[1]
    flags = re.findall(r"(?:^| )(--[a-z-]+)(?: [A-Z_/0-9]+)? ", options)
    assert flags[0] == "--help" and len(flags) >= 13, flags
    for flag, following in zip(flags[1:], [*flags[2:], None], strict=True):
        block = options.split(f" {flag} ", 1)[1]
        block = block.split(f" {following} ", 1)[0] if following else block
        assert "(default: " in block, f"{flag}: {block}"
    for expected in (
        "(default: 127.0.0.1)",
        "(default: 8787)",
        "(default: sandbox-key)",
        "(default: 25/15)",
        "(default: 1000)",
        "(default: 100/60)",
        "(default: a throwaway temp file)",
        "(default: info)",
    ):
        assert expected in options
    assert "(default: None)" not in options


@pytest.fixture
def banner(monkeypatch, capsys):
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: None)

    def run(*argv: str) -> str:
        assert sandbox_main.main(["--port", "1", *argv]) == 0
        return capsys.readouterr().out

    return run


def test_the_banner_prints_the_default_key(banner):
    out = banner()
    assert "API key: sandbox-key" in out
    assert "API key: sandbox-key" in banner("--api-key", "sandbox-key")


@pytest.mark.parametrize("keys", [(CANARY,), (CANARY, "sandbox-key", "second-key")])
def test_the_banner_counts_keys_given_with_api_key_and_never_prints_them(banner, keys):
    out = banner(*(arg for key in keys for arg in ("--api-key", key)))
    n = len(keys)
    assert f"API key: ({n} key{'s' if n > 1 else ''} given with --api-key)" in out
    assert CANARY not in out and "second-key" not in out


@pytest.mark.integration
def test_the_started_process_logs_the_default_key_and_not_a_given_one(tmp_path):
    default_log, canary_log = tmp_path / "default.log", tmp_path / "canary.log"
    for log, keys in ((default_log, ("sandbox-key",)), (canary_log, (CANARY,))):
        server = SandboxProcess(log_path=log, api_keys=keys).start()
        server.stop()
    assert "API key: sandbox-key" in default_log.read_text()
    assert "API key: (1 key given with --api-key)" in canary_log.read_text()
    assert CANARY not in canary_log.read_text()
