"""Injected failures for the next N ``POST /v3/send`` (with provider ``telnyx``: ``POST /v2/messages``;
with provider ``bird``: ``POST /workspaces/{ws}/channels/{ch}/messages``) calls, and the answers they
produce."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.responses import HTMLResponse, Response

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.types import Receive, Scope, Send

FAULT_KINDS = ("status", "rate_limit", "html", "timeout", "drop_after_commit")
FAULT_PROVIDERS = ("mta", "telnyx", "bird")
TIMEOUT_CAP_S = 60.0

_BAD_GATEWAY_PAGE = """<!DOCTYPE html>
<html><head><title>502 Bad Gateway</title></head>
<body><center><h1>502 Bad Gateway</h1></center><hr><center>sandbox-proxy</center></body></html>
"""


@dataclass
class Fault:
    """``kind`` for ``remaining`` sends once ``after`` more sends went through untouched.

    ``status`` is the HTTP code of a ``status`` fault; ``provider`` is the API whose send route it hits.
    """

    kind: str
    remaining: int
    status: int = 500
    after: int = 0
    provider: str = "mta"


class FaultQueue:
    """Pending faults, used first-in first-out: a fault applies to its N sends, then the next one starts.

    A fault with ``after=M`` first lets M sends through (counted once it is at the head of the queue),
    so a test can aim a fault at, say, the eighth chunk of a batch. Each provider has its own queue
    order: a ``telnyx`` or ``bird`` fault is never consumed by another provider's send.
    """

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, kind: str, count: int = 1, status: int | None = None, after: int = 0, provider: str = "mta") -> None:
        if provider not in FAULT_PROVIDERS:
            raise ValueError(f"unknown provider {provider!r}; use one of {', '.join(FAULT_PROVIDERS)}")
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; use one of {', '.join(FAULT_KINDS)}")
        if count < 1:
            raise ValueError("count must be >= 1")
        if after < 0:
            raise ValueError("after must be >= 0")
        code = 500 if status is None else status
        if kind == "status" and not 400 <= code <= 599:
            raise ValueError("status must be an HTTP error code between 400 and 599")
        with self._lock:
            self._faults.append(Fault(kind, count, code, after, provider))

    def take(self, provider: str = "mta") -> Fault | None:
        """The fault for this send of ``provider`` (consumed), or None."""
        with self._lock:
            head = next((f for f in self._faults if f.provider == provider), None)
            if head is None:
                return None
            if head.after > 0:
                head.after -= 1
                return None
            head.remaining -= 1
            if head.remaining <= 0:
                self._faults.remove(head)
            return Fault(head.kind, 1, head.status, provider=provider)

    def pending(self) -> list[dict[str, object]]:
        with self._lock:
            out: list[dict[str, object]] = []
            for f in self._faults:
                item: dict[str, object] = {"fault": f.kind, "count": f.remaining, "status": f.status}
                if f.provider != "mta":  # MTA's faults list exactly as before the provider existed
                    item["provider"] = f.provider
                if f.after:
                    item["after"] = f.after
                out.append(item)
            return out

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()


def bad_gateway_page() -> HTMLResponse:
    """What a proxy in front of MTA answers when MTA is down: an HTML 502."""
    return HTMLResponse(_BAD_GATEWAY_PAGE, status_code=502)


async def hang_until_disconnect(request: Request, cap_s: float = TIMEOUT_CAP_S) -> bool:
    """Wait until the client hangs up (True) or ``cap_s`` passed (False)."""
    await request.body()  # read the body first so the next receive() can only be the disconnect
    deadline = time.monotonic() + cap_s
    while time.monotonic() < deadline:
        if await request.is_disconnected():
            return True
        await asyncio.sleep(0.05)
    return False


class DropConnection(Exception):
    """Raised after the response head was sent, so the server closes the connection mid-response."""


class DroppedResponse(Response):
    """Starts a response that promises a body, then aborts: the client sees an incomplete answer.

    ``status_code`` is the status the head announces (200; Bird's accepted send announces 202)."""

    def __init__(self, status_code: int = 200) -> None:
        super().__init__(status_code=status_code, media_type="application/json")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": self.status_code,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"256")],
            }
        )
        raise DropConnection("sandbox fault drop_after_commit: connection closed without an answer")


class _HideDroppedConnections(logging.Filter):
    """Keep uvicorn's "Exception in ASGI application" traceback for a deliberate drop out of the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], DropConnection))


def install_log_filter() -> None:
    """Attach the filter to uvicorn's error logger once."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _HideDroppedConnections) for f in logger.filters):
        logger.addFilter(_HideDroppedConnections())
