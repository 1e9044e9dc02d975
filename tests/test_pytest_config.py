"""The project's pytest configuration prints why a test was skipped or xfailed, and still lists failures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_summary_names_skip_and_xfail_reasons_and_failures(tmp_path):
    probe = tmp_path / "test_probe.py"
    probe.write_text(
        "import pytest\n"
        "def test_skipped():\n    pytest.skip('PostgreSQL is not reachable (probe)')\n"
        "@pytest.mark.xfail(reason='known gap (probe)')\ndef test_xfailed():\n    assert False\n"
        "def test_failed():\n    assert False\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(tmp_path), str(probe)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    out = proc.stdout
    assert "SKIPPED [1] test_probe.py:3: PostgreSQL is not reachable (probe)" in out, out
    assert "XFAIL test_probe.py::test_xfailed - known gap (probe)" in out, out
    assert "FAILED test_probe.py::test_failed" in out, out
