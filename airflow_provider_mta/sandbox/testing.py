"""``SandboxServer``: the sandbox on a free loopback port in a background thread, for tests and demos."""

from __future__ import annotations

import socket
import threading
import time
from typing import TYPE_CHECKING, Any

import httpx

from airflow_provider_mta.sandbox.settings import Settings

if TYPE_CHECKING:
    from types import TracebackType


class SandboxServer:
    """Start with ``with SandboxServer() as s:`` (or :meth:`start`/:meth:`stop`); talk to ``s.base_url``.

    Several servers may share one ``db_path`` one after another (a restart keeps the ledger).
    """

    def __init__(
        self,
        *,
        api_keys: tuple[str, ...] = ("sandbox-key",),
        latency_ms: int = 0,
        send_rate_limit: str = "0",
        max_recipients: int = 1000,
        delivery_delay_s: float = 0.0,
        db_path: str | None = None,
        startup_timeout_s: float = 10.0,
    ) -> None:
        self.settings = Settings(
            host="127.0.0.1",
            port=0,
            api_keys=api_keys,
            latency_ms=latency_ms,
            send_rate_limit=send_rate_limit,
            max_recipients=max_recipients,
            delivery_delay_s=delivery_delay_s,
            db_path=db_path,
        )
        self._startup_timeout = startup_timeout_s
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None
        self._admin: httpx.Client | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> SandboxServer:
        """Bind a free port on 127.0.0.1, serve in a daemon thread and wait until it is up."""
        if self._thread is not None:
            raise RuntimeError("this SandboxServer is already running")
        import uvicorn

        from airflow_provider_mta.sandbox.app import create_app

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self._port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            create_app(self.settings),
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=2,
        )
        server = uvicorn.Server(config)
        self._server = server
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name=f"mta-sandbox-{self._port}", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + self._startup_timeout
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self._thread.join(timeout=1)
                self._thread = None
                sock.close()
                raise RuntimeError("the MTA sandbox did not start (see the log above)")
            time.sleep(0.01)
        self._admin = httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {self.api_key}"},
            timeout=30,
            trust_env=False,
        )
        return self

    def stop(self) -> None:
        """Stop serving, run the app's shutdown (ledger closed) and join the thread."""
        if self._admin is not None:
            self._admin.close()
            self._admin = None
        if self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout=15)
        self._thread = None
        self._server = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- addresses -----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._port is None:
            raise RuntimeError("the SandboxServer is not started")
        return f"http://127.0.0.1:{self._port}"

    @property
    def base_url(self) -> str:
        """The connection host for the provider: ``http://127.0.0.1:PORT/v3``."""
        return self.url + "/v3"

    @property
    def api_key(self) -> str:
        return self.settings.api_keys[0]

    # -- admin helpers -------------------------------------------------------------------------

    def _client(self) -> httpx.Client:
        if self._admin is None:
            raise RuntimeError("the SandboxServer is not started")
        return self._admin

    def messages(self, **filters: Any) -> list[dict[str, Any]]:
        """``GET /_sandbox/messages``; filters ``to``, ``messageId``, ``requestId``, ``status``, ``limit``."""
        params = {k: v for k, v in filters.items() if v is not None}
        response = self._client().get("/_sandbox/messages", params=params)
        response.raise_for_status()
        rows: list[dict[str, Any]] = response.json()
        return rows

    def reset(self) -> None:
        """Clear messages, request ids, webhooks, groups, faults, rate-limit windows and stats."""
        self._client().post("/_sandbox/reset").raise_for_status()

    def fault(self, kind: str, count: int = 1, status: int | None = None, *, after: int = 0) -> None:
        """Inject ``kind`` for the next ``count`` sends, once ``after`` sends went through (``docs/sandbox.md``)."""
        body: dict[str, Any] = {"fault": kind, "count": count}
        if status is not None:
            body["status"] = status
        if after:
            body["after"] = after
        self._client().post("/_sandbox/faults", json=body).raise_for_status()

    def stats(self) -> dict[str, Any]:
        """``GET /_sandbox/stats``: counters since the last reset, plus ``messages`` and ``pendingFaults``."""
        response = self._client().get("/_sandbox/stats")
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data
