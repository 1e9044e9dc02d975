"""Shared helpers for the benchmarks: the machine line, the load, and the rows every benchmark uses."""

from __future__ import annotations

import os
import platform
import sys
import tempfile
from importlib import metadata
from typing import Any

MESSAGE = "Hi {{ first_name }}, you have {{ points }} points"
NAMES = ("Ann", "Bob", "Zoë", "José", "Li", "Maria", "Olu", "Chen")


def load() -> str:
    """The 1/5/15-minute load averages, e.g. ``load 1.20/0.90/0.70``."""
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f}/{five:.2f}/{fifteen:.2f}"


def machine() -> str:
    """CPU model, cores, RAM, Python, Airflow and the load right now, on one line."""
    model = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as fh:
            model = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    ram = ""
    try:
        with open("/proc/meminfo") as fh:
            kb = int(next(line.split()[1] for line in fh if line.startswith("MemTotal")))
        ram = f", {kb / 1024 / 1024:.1f} GiB RAM"
    except (OSError, StopIteration, ValueError):
        pass
    try:
        airflow = metadata.version("apache-airflow")
    except metadata.PackageNotFoundError:
        airflow = "not installed"
    python = f"{platform.python_implementation()} {sys.version.split()[0]}"
    return f"{model}, {os.cpu_count()} cores{ram}; {python}; Airflow {airflow}; {load()}"


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a measured child interpreter: bytecode cached (outside the repository).

    Without a bytecode cache (``PYTHONDONTWRITEBYTECODE=1``, as on some development machines) every
    child would compile Airflow and the provider from source, and the import and parse times would
    measure the compiler. Deployed Airflow has its bytecode cached, so the benchmarks do too.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.setdefault("PYTHONPYCACHEPREFIX", os.path.join(tempfile.gettempdir(), "airflow-provider-mta-bench-pycache"))
    env.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="bench-af-"))
    env.update(extra)
    return env


def phone(i: int) -> str:
    """A valid, distinct US number for every ``i`` below 4,450,000, written three ways in turn."""
    digits = f"{5550000 + i % 4450000:07d}"
    kind = i % 3
    if kind == 0:
        return f"+1317{digits}"
    if kind == 1:
        return f"(317) {digits[:3]}-{digits[3:]}"
    return f"317.{digits[:3]}.{digits[3:]}"


def rows(n: int) -> list[dict[str, Any]]:
    """``n`` personalized rows: a distinct phone, a first name (some non-GSM) and an integer."""
    return [{"phone": phone(i), "first_name": f"{NAMES[i % len(NAMES)]}{i}", "points": i} for i in range(n)]
