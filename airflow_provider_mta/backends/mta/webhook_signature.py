"""MTA webhook signatures: ``X-Signature`` is the lowercase hex HMAC-SHA256 of the raw body with the secret.

:func:`verify_signature` compares in constant time (:func:`hmac.compare_digest`), so a receiver does
not leak, through its response time, how much of a forged signature was right.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Signature"


def _as_bytes(value: str | bytes) -> bytes:
    return value.encode() if isinstance(value, str) else bytes(value)


def sign(secret: str | bytes, body: bytes) -> str:
    """The ``X-Signature`` of ``body``: lowercase hex HMAC-SHA256 with the webhook's ``secret``."""
    return hmac.new(_as_bytes(secret), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str | bytes, body: bytes, signature: str | bytes | None) -> bool:
    """True when ``signature`` (the ``X-Signature`` header) is the HMAC-SHA256 of the raw ``body``.

    Pass the body exactly as received (bytes, before any JSON parsing). Surrounding whitespace and
    upper-case hex are accepted; a missing, empty or non-ASCII signature is False, never an error.
    The comparison takes the same time wherever the first differing character is.
    """
    if not secret or signature is None:
        return False
    try:
        given = _as_bytes(signature).strip().lower()
    except UnicodeEncodeError:
        return False
    if not given:
        return False
    expected = sign(secret, body).encode()
    return hmac.compare_digest(expected, given)
