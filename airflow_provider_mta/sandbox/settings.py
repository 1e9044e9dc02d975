"""Configuration of one sandbox server (the CLI flags)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from airflow_provider_mta.core.pacing import RateLimit

DEFAULT_API_KEY = "sandbox-key"


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
    """Everything the app factory needs. ``db_path=None`` means a SQLite file in a throwaway temp dir."""

    host: str = "127.0.0.1"
    port: int = 8787
    api_keys: tuple[str, ...] = (DEFAULT_API_KEY,)
    latency_ms: int = 0
    send_rate_limit: str = "25/15"
    max_recipients: int = 1000
    delivery_delay_s: float = 2.0
    db_path: str | None = None

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

    @property
    def rate_limit(self) -> RateLimit | None:
        """The ``POST /send`` limit, or None when turned off (``"0"``)."""
        return RateLimit.parse(self.send_rate_limit)

    @property
    def admin_requires_key(self) -> bool:
        """``/_sandbox/`` routes need an API key as Bearer token when bound to a non-loopback host."""
        return not is_loopback(self.host)
