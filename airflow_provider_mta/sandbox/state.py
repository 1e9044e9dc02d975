"""Everything one running sandbox holds: settings, ledger, limiters, faults, stats, webhook dispatcher and
the key pair that signs the Telnyx webhooks."""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import TYPE_CHECKING

from airflow_provider_mta.sandbox.faults import FaultQueue
from airflow_provider_mta.sandbox.ratelimit import FixedWindowLimiter
from airflow_provider_mta.sandbox.stats import Stats
from airflow_provider_mta.sandbox.store import Store
from airflow_provider_mta.sandbox.telnyx_signing import WebhookSigner
from airflow_provider_mta.sandbox.webhook_dispatcher import WebhookDispatcher

if TYPE_CHECKING:
    from starlette.requests import Request

    from airflow_provider_mta.sandbox.settings import Settings


class Sandbox:
    """The state behind one app. Without ``db_path`` the ledger is in a temp dir removed on close."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._tmpdir: str | None = None
        db_path = settings.db_path
        if db_path is None:
            self._tmpdir = tempfile.mkdtemp(prefix="mta-sandbox-")
            db_path = os.path.join(self._tmpdir, "sandbox.sqlite3")
        self.store = Store(db_path)
        self.stats = Stats()
        self.faults = FaultQueue()
        self.limiter = FixedWindowLimiter(settings.rate_limit)
        self.general_limiter = FixedWindowLimiter(settings.general_limit)  # per client address
        self.telnyx_limiter = FixedWindowLimiter(settings.telnyx_limit)
        self.bird_limiter = FixedWindowLimiter(settings.rate_limit)  # its own windows, per workspace
        key = settings.telnyx_signing_key
        self.telnyx_signer = WebhookSigner.from_private_key(key) if key else WebhookSigner()
        self.webhooks = WebhookDispatcher(
            self.store,
            self.stats,
            signer=self.telnyx_signer,
            telnyx_default_url=settings.telnyx_webhook_url,
            bird_url=settings.bird_webhook_url,
            bird_signing_key=settings.bird_signing_key,
        )

    def reset(self) -> None:
        """Clear messages, request ids, webhooks, groups, opt-outs, faults, rate-limit windows and stats."""
        self.store.reset()
        self.faults.clear()
        self.limiter.reset()
        self.general_limiter.reset()
        self.telnyx_limiter.reset()
        self.bird_limiter.reset()
        self.stats.reset()
        self.webhooks.clear()

    def close(self) -> None:
        self.store.close()
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None


def sandbox_of(request: Request) -> Sandbox:
    """The :class:`Sandbox` of the app serving ``request``."""
    sandbox: Sandbox = request.app.state.sandbox
    return sandbox
