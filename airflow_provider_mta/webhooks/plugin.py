"""The Airflow plugin that mounts the SMS webhook receiver on the API server at ``/sms-webhooks``.

Registered through the provider's ``get_provider_info()["plugins"]``, so installing the provider is
enough; the API server imports it when it starts (other Airflow processes never serve it).
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from airflow_provider_mta.webhooks.app import create_app

URL_PREFIX = "/sms-webhooks"


class SmsWebhooksPlugin(AirflowPlugin):
    """``POST /sms-webhooks/{conn_id}``: verified MTA, Telnyx and Bird events into Airflow."""

    name = "sms_webhooks"
    fastapi_apps = [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "SMS webhooks"}]
