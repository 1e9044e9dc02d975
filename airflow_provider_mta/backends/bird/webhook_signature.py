"""Bird webhook signatures: HMAC-SHA256 with the subscription's signing key, checked in constant time.

Headers: ``messagebird-signature`` (base64 of the 32-byte HMAC) and ``messagebird-request-timestamp`` (Unix
seconds; a value above 1e12 is read as milliseconds). What is signed, per docs.bird.com ("Verifying a webhook
subscription", Notifications API)::

    timestamp + "\\n" + url + "\\n" + sha256(body)

where ``sha256(body)`` is the **raw 32-byte digest** of the body exactly as received ("a SHA256 hash checksum
of the request body as a binary result"; PHP ``hash('sha256', $body, true)`` in Bird's example), not its hex
form, the same as MessageBird's legacy scheme. ``url`` is the full URL Bird called (the one the subscription
was created with, query string included). A request is accepted only when the signature matches **and** the
timestamp is within ``tolerance_s`` seconds of now (either side), so a captured webhook cannot be replayed.

``sign`` builds the header for the sandbox and tests.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import time

from airflow_provider_mta.core.errors import MtaConfigError, MtaWebhookSignatureError

SIGNATURE_HEADER = "messagebird-signature"
TIMESTAMP_HEADER = "messagebird-request-timestamp"
DEFAULT_TOLERANCE = 300.0
_MILLISECONDS_ABOVE = 1e12


def signed_payload(*, body: bytes, url: str, timestamp: str) -> bytes:
    """What Bird signs: ``timestamp\\nurl\\n`` followed by the raw SHA-256 digest of ``body``."""
    return f"{timestamp}\n{url}\n".encode() + hashlib.sha256(body).digest()


def _key(signing_key: str | bytes) -> bytes:
    raw = signing_key.encode() if isinstance(signing_key, str) else signing_key
    if not isinstance(raw, bytes) or not raw.strip():
        raise MtaConfigError("no Bird webhook signing key given (the signingKey of the webhook subscription)")
    return raw


def sign(*, body: bytes, url: str, timestamp: str, signing_key: str | bytes) -> str:
    """The ``messagebird-signature`` header for ``body`` sent to ``url`` at ``timestamp`` (sandbox and tests)."""
    digest = hmac.new(_key(signing_key), signed_payload(body=body, url=url, timestamp=timestamp), hashlib.sha256)
    return base64.b64encode(digest.digest()).decode()


def verify(
    *,
    body: bytes,
    url: str,
    signature: str,
    timestamp: str,
    signing_key: str | bytes,
    tolerance_s: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> None:
    """Return when the webhook is authentic and fresh; else raise :class:`MtaWebhookSignatureError`.

    Pass ``body`` exactly as received (bytes, before any JSON parsing), the URL Bird called and the two headers
    as given. A missing ``signing_key`` is the receiver's configuration: :class:`MtaConfigError`.
    """
    key = _key(signing_key)
    if not signature or not signature.strip():
        raise MtaWebhookSignatureError(f"no {SIGNATURE_HEADER} header")
    if not timestamp or not timestamp.strip():
        raise MtaWebhookSignatureError(f"no {TIMESTAMP_HEADER} header")
    stamp = timestamp.strip()
    if not stamp.isdigit() or not stamp.isascii():
        raise MtaWebhookSignatureError(f"{TIMESTAMP_HEADER} {stamp[:40]!r} is not Unix seconds")
    try:
        given = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise MtaWebhookSignatureError(f"{SIGNATURE_HEADER} is not base64") from None
    expected = hmac.new(key, signed_payload(body=body, url=url, timestamp=stamp), hashlib.sha256).digest()
    if not hmac.compare_digest(given, expected):
        raise MtaWebhookSignatureError(
            "the webhook's signature does not match its body, URL and timestamp (not from Bird, or altered)"
        )
    seconds = int(stamp) / 1000 if int(stamp) > _MILLISECONDS_ABOVE else int(stamp)
    current = time.time() if now is None else now
    age = current - seconds
    if not math.isfinite(age) or abs(age) > tolerance_s:
        when = "old" if age > 0 else "in the future"
        raise MtaWebhookSignatureError(
            f"the webhook's timestamp is {abs(age):.0f}s {when} (more than {tolerance_s:g}s): rejected as a replay"
        )
