"""`make demo KEEP=1`: the sandbox, its inbox page and the logs stay up at the end until Ctrl-C; without it,
the demo prints no address or path that is dead once it ends. Checked without running the demo."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demo() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mta_demo_script", ROOT / "scripts" / "demo.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def make_n(*args: str) -> str:
    return subprocess.run(["make", "-n", "demo", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout


def test_make_passes_keep_to_the_script_only_when_asked():
    assert "scripts/demo.py --keep" in make_n("KEEP=1")
    for args in ((), ("KEEP=0",), ("KEEP=",)):
        assert "--keep" not in make_n(*args), args


def test_the_script_parses_keep(demo):
    assert demo.parse_args(["--keep"]).keep is True
    assert demo.parse_args([]).keep is False


def test_hold_keeps_the_inbox_page_up_until_ctrl_c(demo, sandbox, tmp_path, capsys):
    served = []

    def user_looks_then_presses_ctrl_c() -> None:
        out = capsys.readouterr().out
        assert f"inbox page {sandbox.url}/" in out and str(tmp_path) in out and "Ctrl-C" in out
        with httpx.Client(trust_env=False) as http:
            served.append(http.get(f"{sandbox.url}/").status_code)
            served.append(http.get(f"{sandbox.url}/_sandbox/messages").status_code)
        raise KeyboardInterrupt

    demo.hold(sandbox.url, tmp_path, wait=user_looks_then_presses_ctrl_c)
    assert served == [200, 200]
    assert "Sandbox stopped" in capsys.readouterr().out


def test_without_keep_the_last_words_name_no_dead_address(demo, tmp_path):
    ok = demo.farewell(True, tmp_path)
    assert "http" not in ok and str(tmp_path) not in ok and "KEEP=1" in ok
    assert str(tmp_path) in demo.farewell(False, tmp_path)  # a failed demo keeps its logs, and says where
