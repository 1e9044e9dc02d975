"""Ed25519 signatures of the ``/v2`` webhooks, as Telnyx signs them.

Telnyx signs ``f"{timestamp}|{body}"`` (timestamp in whole seconds, body the exact bytes posted) and
sends ``telnyx-signature-ed25519`` (base64 signature) and ``telnyx-timestamp``. The public key is the
raw 32-byte key in base64, the form the Telnyx portal shows.
"""

from __future__ import annotations

import base64
import binascii
import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat


class WebhookSigner:
    """One key pair; ``WebhookSigner()`` generates a fresh one, :meth:`from_private_key` loads one."""

    def __init__(self, private_key: Ed25519PrivateKey | None = None) -> None:
        self._key = private_key or Ed25519PrivateKey.generate()

    @classmethod
    def from_private_key(cls, encoded: str) -> WebhookSigner:
        """From the base64 of the 32-byte private key (seed); ValueError when it is not one."""
        try:
            seed = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("the Telnyx signing key must be base64") from None
        if len(seed) != 32:
            raise ValueError(f"the Telnyx signing key must be 32 bytes, got {len(seed)}")
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    @property
    def public_key(self) -> str:
        """The public key in base64 (what a receiver verifies with)."""
        raw = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return base64.b64encode(raw).decode()

    @property
    def private_key(self) -> str:
        """The private key (seed) in base64, accepted by :meth:`from_private_key`."""
        raw = self._key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return base64.b64encode(raw).decode()

    def headers(self, body: bytes, timestamp: int | None = None) -> dict[str, str]:
        """``telnyx-signature-ed25519`` and ``telnyx-timestamp`` for ``body``."""
        ts = str(int(time.time()) if timestamp is None else timestamp)
        signature = self._key.sign(ts.encode() + b"|" + body)
        return {"telnyx-signature-ed25519": base64.b64encode(signature).decode(), "telnyx-timestamp": ts}
