"""Configuration of one sandbox server (the CLI flags)."""

from __future__ import annotations

import ipaddress
import uuid
from dataclasses import dataclass

from airflow_provider_mta.core.pacing import RateLimit

DEFAULT_API_KEY = "sandbox-key"
DEFAULT_BIRD_WORKSPACE_ID = "5f0c1b2e-0000-4000-8000-00000000b1d0"
DEFAULT_BIRD_CHANNEL_ID = "5f0c1b2e-0000-4000-8000-00000000c4a1"


def _canonical_uuid(value: str, name: str) -> str:
    """``value`` if it is a uuid in its canonical lowercase form, else ValueError."""
    try:
        canonical = str(uuid.UUID(value))
    except (ValueError, TypeError, AttributeError):
        canonical = None
    if canonical != value:
        raise ValueError(f"{name} must be a lowercase uuid such as {DEFAULT_BIRD_WORKSPACE_ID}")
    return value


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses; any other name or address counts as exposed."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Settings:
    """Everything the app factory needs. ``db_path=None`` means a SQLite file in a throwaway temp dir.

    ``telnyx_webhook_url`` is the "messaging profile" webhook of ``/v2`` messages; ``telnyx_signing_key``
    is the base64 Ed25519 private key (32-byte seed) that signs them (None: a fresh key per start).
    ``bird_workspace_id``/``bird_channel_id`` are the only Bird workspace and channel that exist;
    ``bird_webhook_url`` is the URL of the one Bird webhook subscription and ``bird_signing_key`` its
    signing key (both or neither; None: Bird posts no webhooks).
    ``ignore_message_id_filter`` makes ``GET /v3/deliveries`` ignore ``filters[messageId]`` (MTA does not
    document that filter, so a real MTA may ignore it).
    """

    host: str = "127.0.0.1"
    port: int = 8787
    api_keys: tuple[str, ...] = (DEFAULT_API_KEY,)
    latency_ms: int = 0
    send_rate_limit: str = "25/15"
    general_rate_limit: str = "30/60"
    max_recipients: int = 1000
    delivery_delay_s: float = 2.0
    db_path: str | None = None
    telnyx_rate_limit: str = "100/60"
    telnyx_webhook_url: str | None = None
    telnyx_signing_key: str | None = None
    bird_workspace_id: str = DEFAULT_BIRD_WORKSPACE_ID
    bird_channel_id: str = DEFAULT_BIRD_CHANNEL_ID
    bird_webhook_url: str | None = None
    bird_signing_key: str | None = None
    ignore_message_id_filter: bool = False

    def __post_init__(self) -> None:
        keys = tuple(k.strip() for k in self.api_keys if k and k.strip())
        if not keys:
            raise ValueError("the sandbox needs at least one API key")
        object.__setattr__(self, "api_keys", keys)
        if self.latency_ms < 0:
            raise ValueError("latency_ms must be >= 0")
        if self.max_recipients < 1:
            raise ValueError("max_recipients must be >= 1")
        if self.delivery_delay_s < 0:
            raise ValueError("delivery_delay_s must be >= 0")
        RateLimit.parse(self.send_rate_limit)  # raises MtaConfigError on a malformed value
        RateLimit.parse(self.general_rate_limit)
        RateLimit.parse(self.telnyx_rate_limit)
        if self.telnyx_signing_key is not None:
            from airflow_provider_mta.sandbox.telnyx_signing import WebhookSigner

            WebhookSigner.from_private_key(self.telnyx_signing_key)  # raises ValueError on a bad key
        _canonical_uuid(self.bird_workspace_id, "bird_workspace_id")
        _canonical_uuid(self.bird_channel_id, "bird_channel_id")
        for name in ("telnyx_webhook_url", "bird_webhook_url"):
            url = getattr(self, name)
            if url is not None and not url.startswith(("http://", "https://")):
                raise ValueError(f"{name} must be an http(s) URL")
        if (self.bird_webhook_url is None) != (self.bird_signing_key is None):
            raise ValueError("bird_webhook_url and bird_signing_key go together: give both or neither")
        if self.bird_signing_key is not None and not self.bird_signing_key.strip():
            raise ValueError("bird_signing_key must not be empty")

    @property
    def rate_limit(self) -> RateLimit | None:
        """The ``POST /v3/send`` limit (also Bird's ``POST .../messages``, per workspace), or None when
        turned off (``"0"``)."""
        return RateLimit.parse(self.send_rate_limit)

    @property
    def general_limit(self) -> RateLimit | None:
        """MTA's general limit per client address on every ``/v3`` route but ``POST /v3/send``, or None
        when turned off (``"0"``)."""
        return RateLimit.parse(self.general_rate_limit)

    @property
    def telnyx_limit(self) -> RateLimit | None:
        """The limit per API key on every ``/v2`` route, or None when turned off (``"0"``)."""
        return RateLimit.parse(self.telnyx_rate_limit)

    @property
    def admin_requires_key(self) -> bool:
        """``/_sandbox/`` routes need an API key as Bearer token when bound to a non-loopback host."""
        return not is_loopback(self.host)
