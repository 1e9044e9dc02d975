"""The sandbox on a free loopback port for tests, demos and benchmarks: in a thread (``SandboxServer``)
or as its own process (``SandboxProcess``)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

import httpx

from airflow_provider_mta.sandbox.settings import DEFAULT_BIRD_CHANNEL_ID, DEFAULT_BIRD_WORKSPACE_ID, Settings

if TYPE_CHECKING:
    from pathlib import Path
    from types import TracebackType


class _SandboxClient:
    """Addresses and ``/_sandbox/`` admin helpers of a running sandbox; subclasses set ``_port`` and ``_admin``."""

    _port: int | None
    _admin: httpx.Client | None
    api_keys: tuple[str, ...]
    bird_workspace_id: str
    bird_channel_id: str

    @property
    def url(self) -> str:
        """Always ``http://127.0.0.1:PORT``, whatever address the server binds."""
        if self._port is None:
            raise RuntimeError(f"the {type(self).__name__} is not started")
        return f"http://127.0.0.1:{self._port}"

    @property
    def base_url(self) -> str:
        """The connection host for the provider: ``http://127.0.0.1:PORT/v3``."""
        return self.url + "/v3"

    @property
    def telnyx_base_url(self) -> str:
        """Telnyx's base URL on this sandbox (the SDK's ``base_url``): ``http://127.0.0.1:PORT/v2``."""
        return self.url + "/v2"

    @property
    def bird_channel_url(self) -> str:
        """The one Bird channel: ``http://127.0.0.1:PORT/workspaces/{workspace}/channels/{channel}``
        (Bird's API root on this sandbox is :attr:`url`)."""
        return f"{self.url}/workspaces/{self.bird_workspace_id}/channels/{self.bird_channel_id}"

    @property
    def api_key(self) -> str:
        return self.api_keys[0]

    def client(self) -> httpx.Client:
        """An HTTP client for ``url`` that sends the first API key as Bearer token."""
        if self._admin is None:
            raise RuntimeError(f"the {type(self).__name__} is not started")
        return self._admin

    def _open_client(self) -> None:
        self._admin = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.api_key}"}, timeout=30, trust_env=False
        )

    def _close_client(self) -> None:
        if self._admin is not None:
            self._admin.close()
            self._admin = None

    def messages(self, **filters: Any) -> list[dict[str, Any]]:
        """``GET /_sandbox/messages``; filters ``to``, ``messageId``, ``requestId``, ``status``, ``limit``."""
        params = {k: v for k, v in filters.items() if v is not None}
        response = self.client().get("/_sandbox/messages", params=params)
        response.raise_for_status()
        rows: list[dict[str, Any]] = response.json()
        return rows

    def reset(self) -> None:
        """Clear messages, request ids, webhooks, groups, opt-outs, faults, rate-limit windows and stats."""
        self.client().post("/_sandbox/reset").raise_for_status()

    def opt_out(self, *numbers: str) -> list[str]:
        """``POST /_sandbox/opt-outs``: these numbers (any format) texted STOP; returns them in E.164."""
        response = self.client().post("/_sandbox/opt-outs", json={"numbers": list(numbers)})
        response.raise_for_status()
        opted: list[str] = response.json()["data"]["optedOut"]
        return opted

    def fault(
        self, kind: str, count: int = 1, status: int | None = None, *, after: int = 0, provider: str = "mta"
    ) -> None:
        """Inject ``kind`` for the next ``count`` sends of ``provider`` (``mta``: ``POST /v3/send``,
        ``telnyx``: ``POST /v2/messages``, ``bird``: ``POST .../messages``), once ``after`` sends went
        through (``docs/sandbox.md``)."""
        body: dict[str, Any] = {"fault": kind, "count": count}
        if provider != "mta":
            body["provider"] = provider
        if status is not None:
            body["status"] = status
        if after:
            body["after"] = after
        self.client().post("/_sandbox/faults", json=body).raise_for_status()

    def telnyx_public_key(self) -> str:
        """``GET /_sandbox/telnyx-public-key``: the base64 Ed25519 key that verifies ``/v2`` webhooks."""
        response = self.client().get("/_sandbox/telnyx-public-key")
        response.raise_for_status()
        key: str = response.json()["public_key"]
        return key

    def stats(self) -> dict[str, Any]:
        """``GET /_sandbox/stats``: counters since the last reset, plus ``messages`` and ``pendingFaults``."""
        response = self.client().get("/_sandbox/stats")
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data


class SandboxServer(_SandboxClient):
    """Start with ``with SandboxServer() as s:`` (or :meth:`start`/:meth:`stop`); talk to ``s.base_url``.

    Several servers may share one ``db_path`` one after another (a restart keeps the ledger). Every
    rate limit is off unless given (``general_rate_limit="30/60"`` turns MTA's general limit on).
    """

    def __init__(
        self,
        *,
        api_keys: tuple[str, ...] = ("sandbox-key",),
        latency_ms: int = 0,
        send_rate_limit: str = "0",
        general_rate_limit: str = "0",
        max_recipients: int = 1000,
        delivery_delay_s: float = 0.0,
        db_path: str | None = None,
        telnyx_rate_limit: str = "0",
        telnyx_webhook_url: str | None = None,
        telnyx_signing_key: str | None = None,
        bird_workspace_id: str = DEFAULT_BIRD_WORKSPACE_ID,
        bird_channel_id: str = DEFAULT_BIRD_CHANNEL_ID,
        bird_webhook_url: str | None = None,
        bird_signing_key: str | None = None,
        ignore_message_id_filter: bool = False,
        startup_timeout_s: float = 10.0,
    ) -> None:
        self.settings = Settings(
            host="127.0.0.1",
            port=0,
            api_keys=api_keys,
            latency_ms=latency_ms,
            send_rate_limit=send_rate_limit,
            general_rate_limit=general_rate_limit,
            max_recipients=max_recipients,
            delivery_delay_s=delivery_delay_s,
            db_path=db_path,
            telnyx_rate_limit=telnyx_rate_limit,
            telnyx_webhook_url=telnyx_webhook_url,
            telnyx_signing_key=telnyx_signing_key,
            bird_workspace_id=bird_workspace_id,
            bird_channel_id=bird_channel_id,
            bird_webhook_url=bird_webhook_url,
            bird_signing_key=bird_signing_key,
            ignore_message_id_filter=ignore_message_id_filter,
        )
        self.api_keys = api_keys
        self.bird_workspace_id, self.bird_channel_id = bird_workspace_id, bird_channel_id
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
        self._open_client()
        return self

    def stop(self) -> None:
        """Stop serving, run the app's shutdown (ledger closed) and join the thread."""
        self._close_client()
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


class SandboxProcess(_SandboxClient):
    """``python -m airflow_provider_mta.sandbox`` as a child process on a free port, its whole output
    (uvicorn's access log included) written to ``log_path`` (or discarded).

    ``host`` is the address it binds (``0.0.0.0`` to expose it); requests from here always go to
    127.0.0.1. ``args`` are more command-line flags, such as ``("--latency-ms", "50")``;
    ``bird_workspace_id``/``bird_channel_id`` are passed as ``--bird-workspace-id``/``--bird-channel-id``.
    """

    def __init__(
        self,
        *,
        api_keys: tuple[str, ...] = ("sandbox-key",),
        host: str = "127.0.0.1",
        args: tuple[str, ...] = (),
        log_path: Path | None = None,
        bird_workspace_id: str = DEFAULT_BIRD_WORKSPACE_ID,
        bird_channel_id: str = DEFAULT_BIRD_CHANNEL_ID,
        startup_timeout_s: float = 30.0,
    ) -> None:
        self.api_keys, self.host, self.args, self.log_path = api_keys, host, args, log_path
        self.bird_workspace_id, self.bird_channel_id = bird_workspace_id, bird_channel_id
        self._startup_timeout = startup_timeout_s
        self._port: int | None = None
        self._admin: httpx.Client | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the SandboxProcess is not started")
        return self._port

    def start(self) -> SandboxProcess:
        """Start the process and wait until it answers."""
        if self._proc is not None:
            raise RuntimeError("this SandboxProcess is already running")
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self._port = int(sock.getsockname()[1])
        keys = [arg for key in self.api_keys for arg in ("--api-key", key)]
        keys += ["--bird-workspace-id", self.bird_workspace_id, "--bird-channel-id", self.bird_channel_id]
        command = [sys.executable, "-m", "airflow_provider_mta.sandbox", "--host", self.host, "--port", str(self._port)]
        with self.log_path.open("wb") if self.log_path else open(os.devnull, "wb") as out:
            self._proc = subprocess.Popen(
                [*command, *keys, *self.args], stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + self._startup_timeout
        while True:
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the MTA sandbox process did not start (output: {self.log_path or 'discarded'})")
            try:
                httpx.get(self.base_url + "/auth/verify-api-key", timeout=1, trust_env=False)  # any answer will do
                break
            except httpx.TransportError:
                time.sleep(0.1)
        self._open_client()
        return self

    def stop(self) -> None:
        """Interrupt the process (uvicorn shuts down gracefully and says so), kill it after 10 s."""
        self._close_client()
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def __enter__(self) -> SandboxProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
