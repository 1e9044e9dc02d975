"""Provider metadata read by Airflow's ProvidersManager (entry point ``apache_airflow_provider``)."""

from __future__ import annotations

from typing import Any

from airflow_provider_mta import __version__

_PER_RECIPIENT_RETRIES = (
    "Optional. Retries on 429 and on connection failures before sending (default 5). An ambiguous failure of a "
    "send is never retried."
)
_OPT_OUT = "Optional. A SQL connection whose mta_opt_outs table lists recipients never to text again."


def _common_fields(api: str, *, max_retries: str, send_rate_limit: str, opt_out: str = _OPT_OUT) -> dict[str, Any]:
    """The extras every connection type has (``hooks/sms.py:COMMON_EXTRAS``), described for ``api``."""
    return {
        "timeout": {
            "label": "Timeout (seconds)",
            "schema": {"type": ["number", "null"]},
            "description": f"Optional. Seconds to wait for {api} to answer one request (default 30).",
        },
        "max_retries": {
            "label": "Max retries",
            "schema": {"type": ["integer", "null"]},
            "description": max_retries,
        },
        "send_rate_limit": {
            "label": "Send rate limit",
            "schema": {"type": ["string", "null"]},
            "description": send_rate_limit,
        },
        "default_region": {
            "label": "Default phone region",
            "schema": {"type": ["string", "null"]},
            "description": "Optional. ISO country code used for numbers without a + prefix (default US).",
        },
        "opt_out_conn_id": {
            "label": "Opt-out table connection",
            "schema": {"type": ["string", "null"]},
            "description": opt_out,
        },
        "rate_limit_conn_id": {
            "label": "Shared rate limit (Redis connection)",
            "schema": {"type": ["string", "null"]},
            "description": "Optional. A redis connection: every worker using this connection then shares one "
            "send limit for the account (the send rate limit above; for MTA the general rate limit too) instead "
            "of pacing alone; without Redis each process paces alone.",
        },
    }


def _webhook_fields(secret: str, label: str, description: str) -> dict[str, Any]:
    """The extras of the webhook receiver (``POST /sms-webhooks/<conn_id>``, docs/webhooks.md)."""
    return {
        secret: {
            "label": label,
            "schema": {"type": ["string", "null"], "format": "password"},
            "description": description,
        },
        "webhook_url": {
            "label": "Webhook public URL",
            "schema": {"type": ["string", "null"]},
            "description": "Optional. The exact URL the vendor calls, when a proxy in front of Airflow rewrites it "
            "(default: the URL the request arrived at).",
        },
        "webhook_store_conn_id": {
            "label": "Webhook event store connection",
            "schema": {"type": ["string", "null"]},
            "description": "Optional. A SQL connection for the verified webhook events (default: a SQLite file in "
            "AIRFLOW_HOME, which works only when the API server, workers and triggerer share one machine).",
        },
    }


_SIGNING_SECRET = (
    "Optional. The secret {api} signs its webhooks with; without it POST /sms-webhooks/<this connection> "
    "refuses every request."
)


def _common_placeholders(send_rate_limit: str) -> dict[str, str]:
    return {
        "timeout": "30",
        "max_retries": "5",
        "send_rate_limit": send_rate_limit,
        "default_region": "US",
        "opt_out_conn_id": "my_postgres",
        "rate_limit_conn_id": "redis_default",
    }


def get_provider_info() -> dict[str, Any]:
    """Describe the provider: hooks, connection form, notifier, operators, sensors, triggers."""
    return {
        "package-name": "airflow-provider-mta",
        "name": "Mobile Text Alerts",
        "description": "Send SMS/MMS through the `Mobile Text Alerts <https://mobile-text-alerts.com/>`__, "
        "`Telnyx <https://telnyx.com/>`__ or `Bird <https://bird.com/>`__ API.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Mobile Text Alerts",
                "external-doc-url": "https://developers.mobile-text-alerts.com/",
                "tags": ["service"],
            },
            {
                "integration-name": "Telnyx",
                "external-doc-url": "https://developers.telnyx.com/docs/messaging",
                "tags": ["service"],
            },
            {
                "integration-name": "Bird",
                "external-doc-url": "https://docs.bird.com/api/channels-api",
                "tags": ["service"],
            },
        ],
        "hooks": [
            {
                "integration-name": "Mobile Text Alerts",
                "python-modules": ["airflow_provider_mta.hooks.sms", "airflow_provider_mta.hooks.mta"],
            },
            {"integration-name": "Telnyx", "python-modules": ["airflow_provider_mta.hooks.telnyx"]},
            {"integration-name": "Bird", "python-modules": ["airflow_provider_mta.hooks.bird"]},
        ],
        "operators": [
            {
                "integration-name": "Mobile Text Alerts",
                "python-modules": ["airflow_provider_mta.operators.send", "airflow_provider_mta.operators.batch"],
            }
        ],
        "notifications": ["airflow_provider_mta.notifications.mta.MtaNotifier"],
        "plugins": [{"name": "sms_webhooks", "plugin-class": "airflow_provider_mta.webhooks.plugin.SmsWebhooksPlugin"}],
        "sensors": [
            {
                "integration-name": "Mobile Text Alerts",
                "python-modules": ["airflow_provider_mta.sensors.delivery", "airflow_provider_mta.sensors.reply"],
            }
        ],
        "triggers": [
            {
                "integration-name": "Mobile Text Alerts",
                "python-modules": ["airflow_provider_mta.triggers.delivery", "airflow_provider_mta.triggers.reply"],
            }
        ],
        "config": {
            "mta": {
                "description": "Defaults of the Mobile Text Alerts provider.",
                "options": {
                    "quiet_hours": {
                        "description": "Local wall-clock window (at each recipient's number) in which "
                        "BatchPersonalizedSmsOperator may deliver texts, as HH:MM-HH:MM; 'off' turns the "
                        "batch default off. A task's own quiet_hours= wins.",
                        "version_added": "0.2.0",
                        "type": "string",
                        "example": "08:00-21:00",
                        "default": "08:00-21:00",
                    },
                    "quiet_hours_action": {
                        "description": "What a batch does with recipients outside their window: defer "
                        "(scheduled for when it opens), skip or fail.",
                        "version_added": "0.2.0",
                        "type": "string",
                        "example": "defer",
                        "default": "defer",
                    },
                },
            }
        },
        "connection-types": [
            {
                "hook-class-name": "airflow_provider_mta.hooks.mta.MtaHook",
                "hook-name": "Mobile Text Alerts",
                "connection-type": "mta",
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "login", "port", "extra"],
                    "relabeling": {"host": "Base URL", "password": "API Key"},
                    "placeholders": {
                        "host": "https://api.mobile-text-alerts.com/v3",
                        "password": "your MTA API key",
                        **_common_placeholders("25/15"),
                        "general_rate_limit": "30/60",
                    },
                },
                "conn-fields": {
                    **_common_fields(
                        "MTA",
                        max_retries="Optional. Retries on 429, 5xx and network errors (default 5).",
                        send_rate_limit="Optional. Client-side pacing of POST /send as N/SECONDS "
                        "(default 25/15, MTA's documented limit; 0 turns pacing off).",
                        opt_out="Optional. A SQL connection whose mta_opt_outs table lists recipients never to "
                        "text again; the delivery sensor adds numbers MTA reports as STOPPED.",
                    ),
                    "general_rate_limit": {
                        "label": "General rate limit",
                        "schema": {"type": ["string", "null"]},
                        "description": "Optional. Client-side pacing of every other MTA request (delivery "
                        "reports, GET /deliveries, webhooks, the key check, cost quotes) as N/SECONDS (default "
                        "30/60, MTA's documented general limit; 0 turns pacing off).",
                    },
                    **_webhook_fields(
                        "webhook_secret", "Webhook secret", _SIGNING_SECRET.format(api="MTA") + " (X-Signature, HMAC)"
                    ),
                },
            },
            {
                "hook-class-name": "airflow_provider_mta.hooks.telnyx.TelnyxHook",
                "hook-name": "Telnyx",
                "connection-type": "telnyx",
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "login", "port", "extra"],
                    "relabeling": {"host": "Base URL", "password": "API Key"},
                    "placeholders": {
                        "host": "https://api.telnyx.com/v2",
                        "password": "your Telnyx API key (KEY...)",
                        "from": "+13125550100",
                        "messaging_profile_id": "40017f8e-...",
                        **_common_placeholders("0"),
                    },
                },
                "conn-fields": {
                    "from": {
                        "label": "From",
                        "schema": {"type": ["string", "null"]},
                        "description": "The sender: a Telnyx number in E.164, a short code or an alphanumeric sender "
                        "id. Give this or a messaging profile id.",
                    },
                    "messaging_profile_id": {
                        "label": "Messaging profile id",
                        "schema": {"type": ["string", "null"]},
                        "description": "Optional. Send from this messaging profile's number pool (with or instead "
                        "of From).",
                    },
                    **_common_fields(
                        "Telnyx",
                        max_retries=_PER_RECIPIENT_RETRIES,
                        send_rate_limit="Optional. Client-side pacing of POST /messages as N/SECONDS (default "
                        "off: Telnyx queues messages at your number's rate).",
                    ),
                    **_webhook_fields(
                        "webhook_public_key",
                        "Webhook public key",
                        "Optional. Telnyx's public key (base64, Mission Control > Keys & Credentials) that checks "
                        "its Ed25519 webhook signatures; without it POST /sms-webhooks/<this connection> refuses "
                        "every request.",
                    ),
                },
            },
            {
                "hook-class-name": "airflow_provider_mta.hooks.bird.BirdHook",
                "hook-name": "Bird",
                "connection-type": "bird",
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "login", "port", "extra"],
                    "relabeling": {"host": "Base URL", "password": "Access Key"},
                    "placeholders": {
                        "host": "https://api.bird.com",
                        "password": "your Bird access key",
                        "workspace_id": "5f0c1b2e-...",
                        "channel_id": "5f0c1b2e-...",
                        **_common_placeholders("0"),
                    },
                },
                "conn-fields": {
                    "workspace_id": {
                        "label": "Workspace id",
                        "schema": {"type": ["string", "null"]},
                        "description": "Required. The Bird workspace (a UUID) the SMS channel belongs to.",
                    },
                    "channel_id": {
                        "label": "Channel id",
                        "schema": {"type": ["string", "null"]},
                        "description": "Required. The Bird SMS channel (a UUID) the texts are sent from.",
                    },
                    **_common_fields(
                        "Bird",
                        max_retries=_PER_RECIPIENT_RETRIES,
                        send_rate_limit="Optional. Client-side pacing of message sends as N/SECONDS (default off).",
                    ),
                    **_webhook_fields("webhook_secret", "Webhook signing key", _SIGNING_SECRET.format(api="Bird")),
                },
            },
        ],
    }
