"""In-process runs of the operators: a context with a task instance and a stand-in task state store."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx

from tests.loopback_http import LoopbackServer, QuietHandler

DAGS = Path(__file__).parent.parent / "integration" / "dags"  # the suite's DAGs folder


class StateStore(dict):  # type: ignore[type-arg]
    """Stands in for Airflow 3.3's ``context["task_state_store"]`` (values go through JSON, as there)."""

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key, default)

    def set(self, key: str, value: Any) -> None:
        self[key] = json.loads(json.dumps(value))

    def delete(self, key: str) -> None:
        self.pop(key, None)


class XComValue:
    """Stands in for an XComArg (``rows=upstream.output``): Airflow resolves it instead of Jinja-rendering
    each string inside it, as it would a literal list."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def resolve(self, context: Any) -> Any:
        return self.value


def context(
    store: StateStore | None = None, *, try_number: int = 1, task_id: str = "task", run_id: str = "r1"
) -> dict[str, Any]:
    ti = SimpleNamespace(
        dag_id="mta_rel", task_id=task_id, run_id=run_id, map_index=-1, try_number=try_number, state="failed"
    )
    return {
        "ds": "2025-03-06",
        "params": {"shop": "Acme"},
        "ti": ti,
        "task_instance": ti,
        "run_id": run_id,
        "task_state_store": store if store is not None else StateStore(),
    }


def execute(op: Any, ctx: dict[str, Any] | None = None) -> Any:
    """Render the operator's template fields and execute it, as a worker would."""
    ctx = ctx or context(task_id=op.task_id)
    op.render_template_fields(ctx)
    return op.execute(ctx)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class CliSandbox:
    """``python -m airflow_provider_mta.sandbox`` in a subprocess, its whole output (uvicorn's access log
    included) in ``log_path``. Requests always go to 127.0.0.1, whatever ``host`` it binds."""

    def __init__(
        self, *, log_path: Path, host: str = "127.0.0.1", api_keys: tuple[str, ...], args: tuple[str, ...] = ()
    ):
        self.log_path, self.host, self.api_keys, self.args = log_path, host, api_keys, args
        self.port = free_port()
        self._proc: subprocess.Popen[bytes] | None = None
        self._admin: httpx.Client | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return self.url + "/v3"

    @property
    def api_key(self) -> str:
        return self.api_keys[0]

    def start(self) -> CliSandbox:
        keys = [arg for key in self.api_keys for arg in ("--api-key", key)]
        command = [sys.executable, "-m", "airflow_provider_mta.sandbox", "--host", self.host, "--port", str(self.port)]
        with self.log_path.open("wb") as log:
            self._proc = subprocess.Popen(
                [*command, *keys, "--log-level", "info", *self.args],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 30
        while True:
            assert self._proc.poll() is None, self.log_path.read_text()
            try:
                httpx.get(self.url + "/v3/auth/verify-api-key", timeout=1, trust_env=False)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the sandbox did not start within 30 s"
                time.sleep(0.1)
        headers = {"Authorization": f"Bearer {self.api_key}"}
        self._admin = httpx.Client(base_url=self.url, headers=headers, timeout=30, trust_env=False)
        return self

    def stop(self) -> None:
        if self._admin is not None:
            self._admin.close()
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGINT)  # uvicorn shuts down gracefully (and logs that it did)
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()

    def admin(self) -> httpx.Client:
        assert self._admin is not None
        return self._admin

    def messages(self, **filters: Any) -> list[dict[str, Any]]:
        response = self.admin().get("/_sandbox/messages", params={k: v for k, v in filters.items() if v is not None})
        response.raise_for_status()
        rows: list[dict[str, Any]] = response.json()
        return rows

    def reset(self) -> None:
        self.admin().post("/_sandbox/reset").raise_for_status()

    def fault(self, kind: str, count: int = 1, status: int | None = None, *, after: int = 0) -> None:
        body = {"fault": kind, "count": count, "after": after, **({"status": status} if status else {})}
        self.admin().post("/_sandbox/faults", json=body).raise_for_status()

    def stats(self) -> dict[str, Any]:
        response = self.admin().get("/_sandbox/stats")
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data


class EchoServer(LoopbackServer):
    """A careless API on 127.0.0.1 whose errors echo the request back: the Authorization header (the API key)
    and the body (the phone numbers). ``/send`` answers 400 JSON, ``/auth/verify-api-key`` a 502 HTML page,
    anything else 200 with a body that is not JSON."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        echo = self

        class Handler(QuietHandler):
            def _answer(self) -> None:
                body = self.body()
                echo.requests.append((self.command, self.path, dict(self.headers.items()), body))
                auth = self.headers.get("Authorization", "")
                said = f"you sent {auth!r} with {body.decode(errors='replace')}"
                if self.path.endswith("/send"):
                    status, kind = 400, "application/json"
                    payload = json.dumps({"httpCode": 400, "message": f"Bad request: {said}", "reason": auth}).encode()
                elif self.path.endswith("/verify-api-key"):
                    status, kind = 502, "text/html"
                    payload = f"<html><head><title>502 {auth}</title></head><body>{said}</body></html>".encode()
                else:
                    status, kind, payload = 200, "text/plain", f"OK {said}".encode()
                self.reply(status, payload, kind)

            do_GET = do_POST = _answer

        super().__init__(Handler)
        self.base_url = self.root + "/v3"
