"""MTA webhook registration: ``POST /webhooks {event, url, secret}`` and ``GET /webhooks``, without I/O.

MTA signs each delivery with the ``secret`` (``X-Signature``, :mod:`.webhook_signature`): store the same value
in the receiving connection's extra ``webhook_secret``. The secret is sent in the body only; every client call
that carries it passes :func:`secret_forms` so that an error echoing it shows ``***``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from airflow_provider_mta.core.errors import MtaTransportError, MtaValidationError

WEBHOOKS_PATH = "/webhooks"
WEBHOOK_EVENTS = ("delivery-status", "message-reply", "message-send", "number-opt-in")


def webhook_payload(*, event: str, url: str, secret: str) -> dict[str, str]:
    """The ``POST /webhooks`` body; :class:`MtaValidationError` (naming the field, never the secret) first."""
    if event not in WEBHOOK_EVENTS:
        raise MtaValidationError(
            f"event: {str(event)[:40]!r} is not an MTA webhook event; use one of {', '.join(WEBHOOK_EVENTS)}",
            field="event",
        )
    if not isinstance(url, str) or not url.strip().lower().startswith(("https://", "http://")):
        raise MtaValidationError("url: the webhook URL must be an http(s) URL", field="url")
    if not isinstance(secret, str) or not secret.strip():
        raise MtaValidationError("secret: give the secret MTA signs each webhook with", field="secret")
    return {"event": event, "url": url.strip(), "secret": secret}


def secret_forms(secret: str) -> tuple[str, ...]:
    """The secret as sent and as JSON escapes it (how a server's echo would show it), for redaction."""
    return tuple(dict.fromkeys((secret, json.dumps(secret)[1:-1])))


def parse_webhook(envelope: Any) -> dict[str, Any]:
    """``data`` of a ``POST /webhooks`` answer (``id``, ``event``, ``url``...), without any ``secret`` echoed."""
    data = envelope.get("data") if isinstance(envelope, Mapping) else None
    if not isinstance(data, Mapping):
        raise MtaTransportError(f"MTA POST {WEBHOOKS_PATH} answered without an object in data")
    return {k: v for k, v in data.items() if k != "secret"}


def parse_webhooks(envelope: Any) -> list[dict[str, Any]]:
    """The webhooks of a ``GET /webhooks`` answer (``data.rows``, or ``data`` as a list), secrets left out."""
    data = envelope.get("data") if isinstance(envelope, Mapping) else None
    rows = data.get("rows") if isinstance(data, Mapping) else data
    return [{k: v for k, v in r.items() if k != "secret"} for r in rows or () if isinstance(r, Mapping)]


def shown_url(url: str) -> str:
    """``url`` for a log line: scheme, host, port and path only (a query string or user info may hold a token)."""
    parts = urlsplit(url)
    if not parts.hostname:
        return "(no host)"
    host = f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname
    return urlunsplit((parts.scheme, host, parts.path, "", ""))
