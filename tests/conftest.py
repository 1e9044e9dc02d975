"""Shared fixtures: a throwaway AIRFLOW_HOME, the sandbox on a free loopback port, PostgreSQL when reachable."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Airflow reads its configuration at import time: point it at a throwaway home first.
_HOME = Path(tempfile.mkdtemp(prefix="mta-airflow-home-"))
os.environ["AIRFLOW_HOME"] = str(_HOME)
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__TEST_CONNECTION", "Enabled")
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "False")
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(Path(__file__).parent / "integration" / "dags")
# The batch operator's default quiet hours ([mta] quiet_hours = 08:00-21:00) depend on the wall clock;
# the suite turns the deployment default off so no test passes or fails by the hour it runs at. The
# default itself is tested with an injected clock (tests/compliance/test_quiet_hours_operators.py).
os.environ["AIRFLOW__MTA__QUIET_HOURS"] = "off"

# The API key every test connection and sandbox uses. Set MTA_TEST_API_KEY to run the whole suite with
# a recognisable canary (e.g. "sk-LEAKCANARY-7f3a9c"), so a leaked key is easy to find in any output.
API_KEY = os.environ.get("MTA_TEST_API_KEY") or "sandbox-key"


AIRFLOW = str(Path(sys.executable).with_name("airflow"))


@pytest.fixture(scope="session")
def airflow_home() -> Path:
    return _HOME


@pytest.fixture(scope="session")
def airflow_db(airflow_home: Path) -> Path:
    """``airflow db migrate`` once per session in the throwaway AIRFLOW_HOME (integration and reliability tests)."""
    out = subprocess.run([AIRFLOW, "db", "migrate"], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return airflow_home


def mta_conn_json(base_url: str, api_key: str = API_KEY, **extra: Any) -> str:
    """The JSON form of an ``mta`` connection, as in ``AIRFLOW_CONN_MTA_DEFAULT``.

    ``general_rate_limit`` is ``"0"`` unless given: the test sandboxes do not enforce MTA's general limit
    (``SandboxServer``'s default), and every test of a session would otherwise draw from one 30/60 budget.
    """
    extra.setdefault("general_rate_limit", "0")
    conn: dict[str, Any] = {"conn_type": "mta", "host": base_url, "password": api_key, "extra": extra}
    return json.dumps(conn)


TELNYX_FROM = "+13125550100"


def telnyx_conn_json(base_url: str, api_key: str = API_KEY, **extra: Any) -> str:
    """The JSON form of a ``telnyx`` connection to the sandbox's ``/v2`` (sender ``TELNYX_FROM``)."""
    return json.dumps(
        {"conn_type": "telnyx", "host": base_url, "password": api_key, "extra": {"from": TELNYX_FROM, **extra}}
    )


def bird_conn_json(server: Any, api_key: str | None = None, **extra: Any) -> str:
    """The JSON form of a ``bird`` connection to ``server``'s Bird routes (its workspace and channel)."""
    ids = {"workspace_id": server.bird_workspace_id, "channel_id": server.bird_channel_id}
    host = server.url.removeprefix("http://")  # host:port, as a user types it; loopback gets http://
    return json.dumps(
        {"conn_type": "bird", "host": host, "password": api_key or server.api_key, "extra": {**ids, **extra}}
    )


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[Any]:
    from airflow_provider_mta.sandbox.testing import SandboxServer

    with SandboxServer(api_keys=(API_KEY,)) as server:
        yield server


def use_sandbox(server: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Reset ``server`` and point ``mta_default`` at it (a real connection from the environment)."""
    server.reset()
    monkeypatch.setenv(
        "AIRFLOW_CONN_MTA_DEFAULT", mta_conn_json(server.base_url, api_key=server.api_key, send_rate_limit="0")
    )
    monkeypatch.setenv("AIRFLOW_CONN_TELNYX_DEFAULT", telnyx_conn_json(server.telnyx_base_url, api_key=server.api_key))
    monkeypatch.setenv("AIRFLOW_CONN_BIRD_DEFAULT", bird_conn_json(server))
    return server


@pytest.fixture
def sandbox(sandbox_server: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A clean sandbox, and ``mta_default`` pointing at it."""
    return use_sandbox(sandbox_server, monkeypatch)


def _reachable(host: str = "127.0.0.1", port: int = 5432) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def postgres_uri() -> str:
    """PostgreSQL on 127.0.0.1:5432 (database ``test``). Skipped when absent, except under CI where it must exist."""
    if not _reachable():
        message = "PostgreSQL is not reachable on 127.0.0.1:5432"
        if os.environ.get("CI"):
            pytest.fail(f"{message}, and CI requires it")
        pytest.skip(message)
    return "postgresql://postgres@127.0.0.1:5432/test"


REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379


@pytest.fixture(scope="session")
def redis_url() -> str:
    """Redis on 127.0.0.1:6379 (the shared send limit). Skipped when absent, except under CI where it must exist."""
    if not _reachable(REDIS_HOST, REDIS_PORT):
        message = f"Redis is not reachable on {REDIS_HOST}:{REDIS_PORT}"
        if os.environ.get("CI"):
            pytest.fail(f"{message}, and CI requires it")
        pytest.skip(message)
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/0"


def _files_holding(secret: bytes, *roots: Path) -> list[str]:
    found = []
    for root in roots:
        for path in root.rglob("*") if root.exists() else ():
            try:
                if path.is_file() and not path.is_symlink() and secret in path.read_bytes():
                    found.append(str(path))
            except OSError:
                continue
    return found


_SWEEP: list[tuple[str, bool]] = []  # (what the sweep found, whether it failed), printed in the summary


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """With a canary key (``MTA_TEST_API_KEY``), sweep every file the whole suite left behind.

    The throwaway AIRFLOW_HOME (task logs, the metadata database, DAG-processor logs) and pytest's
    temporary directory (DAG outputs, Airflow, API-server and sandbox logs, spools) must not hold
    the key anywhere. A hit fails the run.
    """
    if API_KEY == "sandbox-key" or exitstatus not in (0, 1):
        return
    basetemp = session.config._tmp_path_factory.getbasetemp()  # type: ignore[attr-defined]
    found = _files_holding(API_KEY.encode(), _HOME, basetemp)
    if found:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        _SWEEP.append((f"the API key is in {len(found)} file(s) the suite left: " + ", ".join(found[:20]), True))
    else:
        count = sum(1 for root in (_HOME, basetemp) for p in root.rglob("*") if p.is_file())
        _SWEEP.append((f"canary key sweep: none of the {count} files under {_HOME} and {basetemp} holds it", False))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for message, failed in _SWEEP:
        terminalreporter.write_sep("=", message, red=failed, green=not failed)
