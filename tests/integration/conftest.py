"""Real Airflow: a migrated SQLite metadata DB and `airflow dags test` in a subprocess against the sandbox."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import mta_conn_json

AIRFLOW = str(Path(sys.executable).with_name("airflow"))


@pytest.fixture(scope="session")
def airflow_db(airflow_home: Path) -> Path:
    """``airflow db migrate`` once per session in the throwaway AIRFLOW_HOME."""
    out = subprocess.run([AIRFLOW, "db", "migrate"], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return airflow_home


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
                sandbox.base_url, **{"send_rate_limit": "0", **(conn_extra or {})}
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
