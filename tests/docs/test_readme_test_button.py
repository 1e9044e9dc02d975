"""The README says what the UI's Test button does on which Airflow, and how to test a connection anyway."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
SHELL = re.compile(r"^([ \t]*)```(?:bash|shell|sh)\n(.*?)^\1```", re.DOTALL | re.MULTILINE)


def locked_airflow() -> str:
    found = re.search(r'^name = "apache-airflow"\nversion = "([^"]+)"', (ROOT / "uv.lock").read_text(), re.MULTILINE)
    assert found, "apache-airflow is not in uv.lock"
    return found.group(1)


def test_the_test_button_table_names_the_locked_and_the_31_airflow():
    compat = re.search(r"^AIRFLOW_31 := (\S+)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert compat
    rows = {line.split("|")[1].strip(): line for line in README.splitlines() if line.startswith("| 3.")}
    assert f"{locked_airflow()} (the version `uv.lock` pins)" in rows, sorted(rows)
    assert compat.group(1) in rows, sorted(rows)
    assert "apache/airflow#73298" in rows[f"{locked_airflow()} (the version `uv.lock` pins)"]
    assert "Test Connection Failed / Bad Request" in README


def test_every_connections_test_in_the_readme_has_testing_enabled():
    """`airflow connections test` refuses to run unless [core] test_connection is Enabled."""
    tour_start, tour_end = README.index("\n## Tour"), README.index("\n## ", README.index("\n## Tour") + 1)
    uses = 0
    for m in SHELL.finditer(README):
        block = textwrap.dedent(m.group(2))
        if "airflow connections test" not in block:
            continue
        uses += 1
        in_tour = tour_start < m.start() < tour_end
        assert in_tour or "AIRFLOW__CORE__TEST_CONNECTION=Enabled" in block, block
        if in_tour:
            assert "source .tour/airflow.env" in README[tour_start : m.start()]
    assert uses >= 2
