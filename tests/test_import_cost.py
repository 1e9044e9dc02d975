"""Parsing a DAG file that uses the provider stays cheap: no heavy library is imported until a task runs."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

# httpx, pydantic and tenacity are not listed: airflow.sdk has imported them already.
HEAVY = ("phonenumbers", "liquid", "starlette", "uvicorn")
OURS_AT_RUN_TIME = ("backends", "core.phones", "core.liquid", "triggers", "sandbox")
PROVIDER = (
    "from airflow_provider_mta.hooks.mta import MtaHook\n"
    "from airflow_provider_mta.hooks.telnyx import TelnyxHook\n"
    "from airflow_provider_mta.hooks.bird import BirdHook\n"
    "from airflow_provider_mta.operators.send import SendSmsOperator\n"
    "from airflow_provider_mta.operators.batch import BatchPersonalizedSmsOperator\n"
    "from airflow_provider_mta.sensors.delivery import MtaDeliverySensor\n"
    "from airflow_provider_mta.sensors.reply import MtaReplySensor\n"
    "from airflow_provider_mta.notifications.mta import MtaNotifier, send_mta_notification\n"
)


def test_importing_every_public_class_pulls_in_no_heavy_library(airflow_home: Path) -> None:
    probe = (
        "import sys, airflow.sdk\n"
        "before = set(sys.modules)\n"
        f"{PROVIDER}"
        "new = sorted(set(sys.modules) - before)\n"
        "print(repr([m for m in new if m.split('.')[0] in " + repr(HEAVY) + "]))\n"
        "print(repr([m for m in new if m.startswith('airflow_provider_mta')]))\n"
    )
    env = {**os.environ, "AIRFLOW_HOME": str(airflow_home)}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True)
    heavy_line, ours_line = out.stdout.strip().splitlines()[-2:]
    assert heavy_line == "[]", f"imported at parse time: {heavy_line}"
    ours = ast.literal_eval(ours_line)
    assert "airflow_provider_mta.notifications.mta" in ours  # the probe did import the provider
    assert "airflow_provider_mta.hooks.bird" in ours
    early = [m for m in ours if m.removeprefix("airflow_provider_mta.").startswith(OURS_AT_RUN_TIME)]
    assert early == [], f"imported at parse time: {early}"


def test_loading_the_webhook_plugin_does_not_build_its_app(airflow_home: Path) -> None:
    """Every process that loads plugins imports the plugin; only the API server's first request builds the app."""
    probe = (
        "import sys, airflow.plugins_manager\n"
        "before = set(sys.modules)\n"
        "from airflow_provider_mta.webhooks.plugin import SmsWebhooksPlugin\n"
        "new = sorted(set(sys.modules) - before)\n"
        "print(repr([m for m in new if m.split('.')[0] in ('fastapi', 'starlette') or m.endswith('webhooks.app')]))\n"
    )
    env = {**os.environ, "AIRFLOW_HOME": str(airflow_home)}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout[-2000:]
