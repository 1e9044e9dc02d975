"""The webhook receiver's core, without I/O: check size, secret and signature, then parse into :class:`SmsEvent`.

Invariants: nothing is parsed before the signature (and, for Telnyx and Bird, the timestamp) is verified; every
refusal is a :class:`WebhookRejected` whose reason names neither the secret nor a phone number; a connection
with no secret configured refuses everything (fail closed).

The secret of each connection type (:func:`webhook_secret_of`): ``mta`` the extra ``webhook_secret`` (the
``secret`` given to ``POST /webhooks``), ``telnyx`` the extra ``webhook_public_key`` (base64, as the portal shows
it), ``bird`` the extra ``webhook_secret`` (the subscription's signing key). Bird signs the URL it called:
behind a proxy that rewrites it, set the extra ``webhook_url`` to the public URL (:func:`webhook_url_of`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_mta.core.errors import MtaConfigError, MtaWebhookSignatureError
from airflow_provider_mta.core.sms_event import SmsEvent
from airflow_provider_mta.core.webhook_parsing import MalformedBody

MAX_BODY = 256 * 1024


class WebhookRejected(Exception):
    """A webhook refused with HTTP ``status``; ``reason`` is safe to log and to answer with."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"HTTP {status}: {reason}")
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class _Vendor:
    secret_extra: str
    verify: Callable[[Mapping[str, str], bytes, str, str, float | None], None]
    parse: Callable[[bytes], list[SmsEvent]]


def _verify_mta(headers: Mapping[str, str], body: bytes, url: str, secret: str, now: float | None) -> None:
    from airflow_provider_mta.backends.mta.webhook_signature import SIGNATURE_HEADER, verify_signature

    signature = headers.get(SIGNATURE_HEADER.lower())
    if not signature:
        raise MtaWebhookSignatureError(f"no {SIGNATURE_HEADER} header")
    if not verify_signature(secret, body, signature):
        raise MtaWebhookSignatureError(f"the {SIGNATURE_HEADER} does not match the body (not from MTA, or altered)")


def _verify_telnyx(headers: Mapping[str, str], body: bytes, url: str, secret: str, now: float | None) -> None:
    from airflow_provider_mta.backends.telnyx import webhook_signature as telnyx

    telnyx.verify_signature(
        body=body,
        signature=headers.get(telnyx.SIGNATURE_HEADER, ""),
        timestamp=headers.get(telnyx.TIMESTAMP_HEADER, ""),
        public_key=secret,
        now=now,
    )


def _verify_bird(headers: Mapping[str, str], body: bytes, url: str, secret: str, now: float | None) -> None:
    from airflow_provider_mta.backends.bird import webhook_signature as bird

    bird.verify(
        body=body,
        url=url,
        signature=headers.get(bird.SIGNATURE_HEADER, ""),
        timestamp=headers.get(bird.TIMESTAMP_HEADER, ""),
        signing_key=secret,
        now=now,
    )


def _parse_mta(body: bytes) -> list[SmsEvent]:
    from airflow_provider_mta.backends.mta.webhook_events import parse_events

    return parse_events(body)


def _parse_telnyx(body: bytes) -> list[SmsEvent]:
    from airflow_provider_mta.backends.telnyx.webhook_events import parse_events

    return parse_events(body)


def _parse_bird(body: bytes) -> list[SmsEvent]:
    from airflow_provider_mta.backends.bird.webhook_events import parse_events

    return parse_events(body)


VENDORS: dict[str, _Vendor] = {
    "mta": _Vendor("webhook_secret", _verify_mta, _parse_mta),
    "telnyx": _Vendor("webhook_public_key", _verify_telnyx, _parse_telnyx),
    "bird": _Vendor("webhook_secret", _verify_bird, _parse_bird),
}


def _extra(conn: Any, name: str) -> str | None:
    extras = getattr(conn, "extra_dejson", None) or {}
    value = extras.get(name) or extras.get(f"extra__{getattr(conn, 'conn_type', '')}__{name}")
    return value.strip() or None if isinstance(value, str) else None


def webhook_secret_of(conn: Any) -> str | None:
    """The webhook secret extra of an Airflow connection, by its type (see the module text); None if unset."""
    vendor = VENDORS.get(getattr(conn, "conn_type", None) or "")
    return _extra(conn, vendor.secret_extra) if vendor else None


def webhook_url_of(conn: Any, *, request_url: str) -> str:
    """The URL the vendor signed: the extra ``webhook_url`` when set (behind a proxy), else ``request_url``."""
    return _extra(conn, "webhook_url") or request_url


def verify_and_parse(
    *,
    conn_type: str,
    headers: Mapping[str, str],
    body: bytes,
    url: str,
    secret: str | None,
    now: float | None = None,
    max_body: int = MAX_BODY,
) -> list[SmsEvent]:
    """The events of an authentic webhook body, else :class:`WebhookRejected`.

    404 unknown ``conn_type``; 413 body over ``max_body`` bytes; 401 no ``secret``, a bad or malformed one, a
    missing or wrong signature, or (Telnyx, Bird) a timestamp outside the vendor's tolerance; 400 a signed body
    that is not JSON. ``headers`` may be any mapping (names are matched case-insensitively); ``url`` is the
    URL the vendor called (only Bird signs it).
    """
    vendor = VENDORS.get(conn_type)
    if vendor is None:
        raise WebhookRejected(404, f"connection type {conn_type[:40]!r} does not receive webhooks")
    if len(body) > max_body:
        raise WebhookRejected(413, f"body of {len(body)} bytes is over the {max_body}-byte limit")
    if not secret or not secret.strip():
        raise WebhookRejected(401, f"no webhook secret configured: set the extra {vendor.secret_extra!r}")
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    try:
        vendor.verify(lowered, body, url, secret.strip(), now)
    except MtaConfigError:
        raise WebhookRejected(401, f"the connection's extra {vendor.secret_extra!r} is not a valid key") from None
    except MtaWebhookSignatureError as exc:
        raise WebhookRejected(401, str(exc)) from None
    try:
        return vendor.parse(body)
    except MalformedBody as exc:
        raise WebhookRejected(400, str(exc)) from None
