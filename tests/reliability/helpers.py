"""In-process runs of the operators: a context with a task instance and a stand-in task state store."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

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
