"""A local MTA-compatible server (Starlette + uvicorn) for developing and testing without spending credits.

Run it with ``python -m airflow_provider_mta.sandbox``; in tests use :class:`.testing.SandboxServer`.
It reuses the core's wire models and never imports Airflow.
"""

from __future__ import annotations

from airflow_provider_mta.sandbox.settings import Settings

__all__ = ["Settings"]
