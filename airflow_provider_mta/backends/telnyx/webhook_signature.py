"""Telnyx webhook signatures: Ed25519 over ``b"{telnyx-timestamp}|" + raw body``, checked with ``cryptography``.

Headers: ``telnyx-signature-ed25519`` (base64 of the 64-byte signature) and ``telnyx-timestamp`` (Unix
seconds). The public key is the base64 of its 32 raw bytes, as Telnyx's portal shows it. A request is
accepted only when the signature is Telnyx's **and** the timestamp is within ``tolerance`` seconds of now
(either side), so a captured webhook cannot be replayed later.
"""

from __future__ import annotations

import base64
import binascii
import math
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from airflow_provider_mta.core.errors import MtaConfigError, MtaWebhookSignatureError

SIGNATURE_HEADER = "telnyx-signature-ed25519"
TIMESTAMP_HEADER = "telnyx-timestamp"
DEFAULT_TOLERANCE = 300.0


def _b64(value: str) -> bytes:
    return base64.b64decode(value.strip(), validate=True)


def _public_key(public_key: str) -> Ed25519PublicKey:
    try:
        raw = _b64(public_key) if isinstance(public_key, str) else b""
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise MtaConfigError("the Telnyx webhook public key must be the base64 of 32 bytes (as the portal shows it)")
    return Ed25519PublicKey.from_public_bytes(raw)


def signed_payload(*, body: bytes, timestamp: str) -> bytes:
    """What Telnyx signs: ``b"{timestamp}|" + body``."""
    return f"{timestamp}|".encode() + body


def sign(*, body: bytes, timestamp: str, private_key: Ed25519PrivateKey) -> str:
    """The ``telnyx-signature-ed25519`` header for ``body`` (for the sandbox and tests)."""
    return base64.b64encode(private_key.sign(signed_payload(body=body, timestamp=timestamp))).decode()


def verify_signature(
    *,
    body: bytes,
    signature: str,
    timestamp: str,
    public_key: str,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> None:
    """Return when the webhook is authentic and fresh; else raise :class:`MtaWebhookSignatureError`.

    Pass ``body`` exactly as received (bytes, before any JSON parsing) and the two headers as given. A
    malformed ``public_key`` is the receiver's configuration, not the sender's fault: :class:`MtaConfigError`.
    """
    key = _public_key(public_key)
    if not signature or not signature.strip():
        raise MtaWebhookSignatureError(f"no {SIGNATURE_HEADER} header")
    if not timestamp or not timestamp.strip():
        raise MtaWebhookSignatureError(f"no {TIMESTAMP_HEADER} header")
    stamp = timestamp.strip()
    if not stamp.isdigit() or not stamp.isascii():
        raise MtaWebhookSignatureError(f"{TIMESTAMP_HEADER} {stamp[:40]!r} is not Unix seconds")
    try:
        raw_signature = _b64(signature)
    except (binascii.Error, ValueError):
        raise MtaWebhookSignatureError(f"{SIGNATURE_HEADER} is not base64") from None
    try:
        key.verify(raw_signature, signed_payload(body=body, timestamp=stamp))
    except InvalidSignature:
        raise MtaWebhookSignatureError(
            "the webhook's Ed25519 signature does not match its body and timestamp (not from Telnyx, or altered)"
        ) from None
    current = time.time() if now is None else now
    age = current - int(stamp)
    if not math.isfinite(age) or abs(age) > tolerance:
        when = "old" if age > 0 else "in the future"
        raise MtaWebhookSignatureError(
            f"the webhook's timestamp is {abs(age):.0f}s {when} (more than {tolerance:g}s): rejected as a replay"
        )
