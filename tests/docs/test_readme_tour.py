"""The README's tour runs as written: its ```bash blocks, in order, in one bash, in a copy of the clone.

The copy holds the repository's files (tracked and new, as `git ls-files` lists them) and this checkout's
``.venv`` (linked, so the test does not reinstall the dependencies); the environment has no AIRFLOW_*
setting and no ``.venv/bin`` on PATH, as a newcomer's shell. The only change to the commands: the
sandbox's port 8787 becomes a free loopback port (``TOUR_PORT`` for ``make tour-env``), so the test does
not collide with a sandbox you run. Every block must succeed (``set -e``), both DAG runs must succeed,
and the sandbox's inbox (the tour's ``curl``) must hold exactly the texts the tour sends.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.integration.api_server import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
BASH = re.compile(r"^([ \t]*)```(?:bash|shell|sh)\n(.*?)^\1```", re.DOTALL | re.MULTILINE)


def tour_section() -> str:
    readme = ROOT / "README.md"
    text = readme.read_text()
    start = text.index("\n## Tour")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def tour_commands() -> list[str]:
    """The tour's shell blocks, dedented as GitHub shows them (they sit inside list items)."""
    return [textwrap.dedent(m.group(2)) for m in BASH.finditer(tour_section())]


def test_the_tour_is_a_sequence_of_shell_blocks():
    blocks = tour_commands()
    assert blocks[0].split() == ["make", "tour-env", "source", ".tour/airflow.env"]
    assert blocks[-1].strip() == "make tour-stop"
    assert any("airflow connections test mta_default" in b for b in blocks)


NOT_FOR_THE_TOUR = {"tests", "docs", "bench", ".ci"}
"""Not copied: the tour needs none of it, and tests/docs/.ci spell out the canary API key that the
suite's end-of-session sweep looks for in every file the suite leaves."""


def copy_of_the_clone(dest: Path) -> Path:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        if name.split("/")[0] in NOT_FOR_THE_TOUR:
            continue
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    (dest / ".venv").symlink_to(ROOT / ".venv")
    stamp = (ROOT / ".venv" / ".synced-stamp").stat().st_mtime
    for name in ("pyproject.toml", "uv.lock"):  # older than the stamp: make does not sync the shared venv again
        os.utime(dest / name, (stamp - 60, stamp - 60))
    return dest


def newcomer_environ(port: int) -> dict[str, str]:
    venv_bin = str(ROOT / ".venv" / "bin")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW") and k not in ("VIRTUAL_ENV", "CI")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != venv_bin)
    env["TOUR_PORT"] = str(port)
    env.pop("MAKEFLAGS", None)
    env.pop("MAKELEVEL", None)
    return env


def test_the_readme_tour_runs_as_written(tmp_path):
    clone = copy_of_the_clone(tmp_path / "clone")
    port = free_port()
    script = "set -eo pipefail\n" + "\n".join(tour_commands()).replace("127.0.0.1:8787", f"127.0.0.1:{port}")
    (tmp_path / "tour.sh").write_text(script)
    log = tmp_path / "tour.log"
    try:
        with log.open("w") as out:
            proc = subprocess.run(
                ["bash", str(tmp_path / "tour.sh")],
                cwd=clone,
                env=newcomer_environ(port),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                timeout=300,
                check=False,
            )
    finally:  # the tour's last block stops the sandbox; make sure of it when the tour stopped early
        if (clone / ".tour" / "sandbox.pid").exists():
            subprocess.run([str(clone / ".venv" / "bin" / "python"), "scripts/tour.py", "stop"], cwd=clone, check=False)
    output = log.read_text(errors="replace")
    tail = output[-6000:]
    assert proc.returncode == 0, tail
    assert "Connection success!" in output, tail
    for dag_id in ("report_ready", "nightly_points"):
        finished = re.search(rf"DagRun Finished: dag_id={dag_id}, .*?state=(\w+)", output)
        assert finished and finished.group(1) == "success", (dag_id, tail)
    assert not (clone / ".tour" / "sandbox.pid").exists(), "make tour-stop left the sandbox running"

    start = output.index('[{"')  # the curl of step 6: the inbox as JSON
    inbox, _ = json.JSONDecoder().raw_decode(output[start:])
    texts = sorted((m["to"], m["text"]) for m in inbox)
    day = re.search(r"Hi Ann, the report for (\d{4}-\d{2}-\d{2}) is in", output)
    assert day, texts
    assert texts == sorted(
        [
            ("+13175551111", f"Hi Ann, the report for {day.group(1)} is in"),
            ("+13175552222", f"Hi Bob, the report for {day.group(1)} is in"),
            ("+13175551111", "Load finished"),
            ("+13175550121", "Hi Ann, you have 120 points"),
            ("+13175550122", "Hi Bob, you have 80 points"),
            ("+13175550123", "Hi Cy, you have 45 points"),
        ]
    ), texts
