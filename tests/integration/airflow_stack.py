"""A whole Airflow on loopback for integration tests: a throwaway AIRFLOW_HOME with its own SQLite database,
``airflow api-server`` (the tasks' Execution API, and the provider's webhook receiver), ``airflow
dag-processor`` and ``airflow scheduler`` with the LocalExecutor, each in its own process group."""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import AIRFLOW
from tests.integration.api_server import free_port, stop_process_group


def clean_environ() -> dict[str, str]:
    """The test process's environment without its AIRFLOW_* settings (the stack has its own home)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_", "AIRFLOW__"))}


def stack_env(tmp_path: Path, dag_files: dict[str, str], **extra: str) -> dict[str, str]:
    """A migrated home with ``dag_files`` (name -> source) in its DAG folder; ``extra`` added to the env."""
    home, dags = tmp_path / "home", tmp_path / "dags"
    home.mkdir()
    dags.mkdir()
    for name, source in dag_files.items():
        (dags / name).write_text(source)
    port = free_port()
    env = {
        **clean_environ(),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "2",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),  # the scheduler signs, the API server checks
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__MTA__QUIET_HOURS": "off",
        **extra,
    }
    migrate = subprocess.run([AIRFLOW, "db", "migrate"], env=env, capture_output=True, text=True, timeout=300)
    assert migrate.returncode == 0, migrate.stdout[-3000:] + migrate.stderr[-3000:]
    return env


@contextmanager
def airflow_stack(env: dict[str, str], tmp_path: Path) -> Iterator[dict[str, Path]]:
    """api-server, dag-processor and scheduler, each in its own process group; their logs by name."""
    port = env["AIRFLOW__API__PORT"]
    commands = {
        "api-server": [AIRFLOW, "api-server", "--host", "127.0.0.1", "--port", port, "--workers", "1"],
        "dag-processor": [AIRFLOW, "dag-processor"],
        "scheduler": [AIRFLOW, "scheduler"],
    }
    procs: list[subprocess.Popen[bytes]] = []
    logs = {name: tmp_path / f"{name}.log" for name in commands}
    try:
        for name, command in commands.items():
            with logs[name].open("wb") as log:
                procs.append(
                    subprocess.Popen(
                        command,
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL,
                        start_new_session=True,
                    )
                )
        yield logs
    finally:
        for proc in reversed(procs):
            stop_process_group(proc)


def tails(logs: dict[str, Path]) -> str:
    return "\n".join(f"--- {name}\n{path.read_text(errors='replace')[-2500:]}" for name, path in logs.items())
