"""The Airflow plugin that mounts the SMS webhook receiver on the API server at ``/sms-webhooks``.

Registered through the ``airflow.plugins`` entry point (and ``get_provider_info()["plugins"]``), so
installing the provider is enough. Every Airflow process that loads plugins imports this module, but
only the API server serves it: the FastAPI app is built on the first request, so the others never
import FastAPI for it.
"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

URL_PREFIX = "/sms-webhooks"


class LazyReceiverApp:
    """An ASGI app that builds :func:`~airflow_provider_mta.webhooks.app.create_app` on its first call."""

    def __init__(self) -> None:
        self._app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self._app is None:
            from airflow_provider_mta.webhooks.app import create_app

            self._app = create_app()
        await self._app(scope, receive, send)


class SmsWebhooksPlugin(AirflowPlugin):
    """``POST /sms-webhooks/{conn_id}``: verified MTA, Telnyx and Bird events into Airflow."""

    name = "sms_webhooks"
    fastapi_apps = [{"app": LazyReceiverApp(), "url_prefix": URL_PREFIX, "name": "SMS webhooks"}]
