"""The reliability and security suite: prints what it measured (fault matrix, secrets scan) at the end."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conftest import run_dag  # noqa: F401 (a fixture: real Airflow runs)
from tests.reliability import fault_matrix


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if not (fault_matrix.ROWS or fault_matrix.SECTIONS):
        return
    basetemp = config._tmp_path_factory.getbasetemp()  # type: ignore[attr-defined]
    path = fault_matrix.write(basetemp)
    terminalreporter.write_sep("=", "reliability report")
    terminalreporter.write_line(fault_matrix.report())
    terminalreporter.write_line(f"(written to {path})")
