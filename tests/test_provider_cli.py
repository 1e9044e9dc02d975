"""The provider as Airflow's CLI sees it: listed, and `airflow connections test` against the sandbox."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import mta_conn_json

pytestmark = pytest.mark.integration
AIRFLOW = str(Path(sys.executable).with_name("airflow"))


def airflow(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [AIRFLOW, *args], env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=180
    )


def test_providers_list_shows_the_provider():
    out = airflow("providers", "list")
    assert out.returncode == 0, out.stderr
    assert "airflow-provider-mta" in out.stdout


def test_connections_test_succeeds_for_an_accepted_key_and_fails_clearly_for_a_wrong_one(sandbox):
    good = airflow(
        "connections", "test", "mta_default", env={"AIRFLOW_CONN_MTA_DEFAULT": mta_conn_json(sandbox.base_url)}
    )
    assert good.returncode == 0, good.stdout + good.stderr
    assert "Connection success!" in good.stdout
    bad = airflow(
        "connections",
        "test",
        "mta_default",
        env={"AIRFLOW_CONN_MTA_DEFAULT": mta_conn_json(sandbox.base_url, api_key="nope-key-77")},
    )
    # Airflow 3.3 exits 1 here; 3.1 prints the failure and exits 0.
    assert "Connection failed!" in bad.stdout + bad.stderr
    assert "HTTP 401" in bad.stdout + bad.stderr
    assert "nope-key-77" not in bad.stdout + bad.stderr
