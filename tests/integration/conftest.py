"""Real Airflow: a migrated SQLite metadata DB and `airflow dags test` in a subprocess against the sandbox."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import AIRFLOW, mta_conn_json  # airflow_db (one `airflow db migrate`) is there too
from tests.integration.api_server import api_server  # noqa: F401  (a fixture: one airflow api-server per module)


@dataclass
class DagRunResult:
    returncode: int
    log: str
    out: dict[str, Any] | None

    @property
    def succeeded(self) -> bool:
        return self.returncode == 0 and "DagRun Finished" in self.log and "state=success" in self.log


@pytest.fixture
def run_dag(airflow_db: Path, sandbox: Any, tmp_path: Path) -> Callable[..., DagRunResult]:
    """Run ``airflow dags test DAG_ID`` with ``mta_default`` on the sandbox; returns log and the DAG's output file.

    ``while_running(proc)`` is called while the DAG runs (e.g. to kill the task's process).
    """

    def run(
        dag_id: str,
        *,
        conn_extra: dict[str, Any] | None = None,
        env: dict[str, str] | None = None,
        while_running: Callable[[subprocess.Popen[str]], None] | None = None,
        args: tuple[str, ...] = (),
    ) -> DagRunResult:
        out_file = tmp_path / f"{dag_id}.json"
        full_env = {
            **os.environ,
            "AIRFLOW_CONN_MTA_DEFAULT": mta_conn_json(
                sandbox.base_url, api_key=sandbox.api_key, **{"send_rate_limit": "0", **(conn_extra or {})}
            ),
            "MTA_IT_OUT": str(out_file),
            **(env or {}),
        }
        log_file = tmp_path / f"{dag_id}.log"
        with (
            log_file.open("w") as log,
            subprocess.Popen(
                [AIRFLOW, "dags", "test", dag_id, *args],
                env=full_env,
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
            ) as proc,
        ):
            try:
                if while_running is not None:
                    while_running(proc)
                proc.wait(timeout=600)
            finally:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)  # executor workers too
        out = json.loads(out_file.read_text()) if out_file.exists() else None
        return DagRunResult(proc.returncode, log_file.read_text(), out)

    return run
