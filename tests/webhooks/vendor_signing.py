"""Signatures computed in the tests straight from each vendor's published scheme (hmac, cryptography), never with
the provider's own ``sign`` helpers, so a bug shared by signer and verifier cannot hide."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat


def compact(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def mta_headers(secret: str, body: bytes) -> dict[str, str]:
    """MTA: ``X-Signature`` = lowercase hex HMAC-SHA256(secret, raw body)."""
    return {"X-Signature": hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}


def telnyx_public_key(private: Ed25519PrivateKey) -> str:
    """The base64 of the raw 32-byte public key, as Telnyx's portal shows it."""
    return base64.b64encode(private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def telnyx_headers(private: Ed25519PrivateKey, body: bytes, timestamp: int) -> dict[str, str]:
    """Telnyx: Ed25519 over ``b"{timestamp}|" + body``, base64, with ``telnyx-timestamp``."""
    signature = private.sign(str(timestamp).encode() + b"|" + body)
    return {"telnyx-signature-ed25519": base64.b64encode(signature).decode(), "telnyx-timestamp": str(timestamp)}


def bird_headers(key: str, body: bytes, url: str, timestamp: int) -> dict[str, str]:
    """Bird: base64 HMAC-SHA256(key, ``timestamp\\nurl\\n`` + raw sha256 digest of the body)."""
    message = f"{timestamp}\n{url}\n".encode() + hashlib.sha256(body).digest()
    signature = base64.b64encode(hmac.new(key.encode(), message, hashlib.sha256).digest()).decode()
    return {"messagebird-signature": signature, "messagebird-request-timestamp": str(timestamp)}
