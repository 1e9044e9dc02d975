"""Webhook signatures are checked in constant time; the sandbox binds to loopback by default, and bound
anywhere else its ``/_sandbox/`` admin routes (and inbox page) need an accepted API key."""

from __future__ import annotations

import ast
import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import airflow_provider_mta
from airflow_provider_mta.backends.mta import webhook_signature as webhooks
from airflow_provider_mta.backends.mta.webhook_signature import sign, verify_signature
from airflow_provider_mta.sandbox.__main__ import parse_args
from airflow_provider_mta.sandbox.settings import Settings
from airflow_provider_mta.sandbox.testing import SandboxProcess
from tests.loopback_http import LoopbackServer, QuietHandler

PACKAGE = Path(airflow_provider_mta.__file__).parent
BODY = b'{"destinationNumber":"+13175551111","messageId":17,"status":4}'


def test_verify_signature_accepts_only_the_hmac_of_the_raw_body() -> None:
    good = hmac.new(b"s3cret", BODY, hashlib.sha256).hexdigest()
    assert sign("s3cret", BODY) == good
    assert verify_signature("s3cret", BODY, good)
    assert verify_signature(b"s3cret", BODY, good.encode())
    assert verify_signature("s3cret", BODY, f" {good.upper()}\n")  # header whitespace, upper-case hex
    assert not verify_signature("other", BODY, good)
    assert not verify_signature("s3cret", BODY + b" ", good)  # re-serialized JSON is another body
    assert not verify_signature("s3cret", BODY, good[:-1])
    assert not verify_signature("s3cret", BODY, good[:-1] + ("0" if good[-1] != "0" else "1"))
    for nothing in (None, "", "   ", "é" * 64, "\udcff"):
        assert not verify_signature("s3cret", BODY, nothing)
    assert not verify_signature("", BODY, hmac.new(b"", BODY, hashlib.sha256).hexdigest())  # no secret: no trust


def test_verify_signature_compares_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[Any, Any]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(webhooks.hmac, "compare_digest", spy)
    good = sign("s3cret", BODY)
    assert verify_signature("s3cret", BODY, good) and not verify_signature("s3cret", BODY, "0" * 64)
    assert len(compared) == 2  # every verdict came from hmac.compare_digest, wrong or right


SECRET_NAMES = ("signature", "secret", "token", "api_key", "apikey", "password", "digest")


def _secret_like(node: ast.AST) -> str | None:
    name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None
    if name and any(word in name.lower() for word in SECRET_NAMES):
        return name
    return None


def test_no_secret_is_compared_with_an_ordinary_equality() -> None:
    """``==`` stops at the first differing byte; signatures and keys must go through hmac.compare_digest."""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Compare) and any(isinstance(op, (ast.Eq, ast.NotEq)) for op in node.ops):
                for side in (node.left, *node.comparators):
                    name = _secret_like(side)
                    if name:
                        offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno} compares {name} with ==")
    assert not offenders, offenders
    uses = [p.name for p in PACKAGE.rglob("*.py") if "compare_digest" in p.read_text()]
    assert {"webhook_signature.py", "endpoint.py", "admin.py"} <= set(uses)


class _Receiver(LoopbackServer):
    """A webhook receiver on 127.0.0.1 that verifies each delivery with the provider's helper."""

    def __init__(self, secret: str) -> None:
        self.verdicts: list[tuple[bool, bool, dict[str, Any]]] = []
        receiver = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                raw = self.body()
                signature = self.headers.get("X-Signature")
                ok = verify_signature(secret, raw, signature)
                forged = verify_signature(secret, raw.replace(b'"status":', b'"status":1'), signature)
                receiver.verdicts.append((ok, forged, json.loads(raw)))
                self.reply(200 if ok else 401)

        super().__init__(Handler)
        self.url = self.root + "/hook"


def test_sandbox_webhooks_verify_with_the_helper(sandbox: Any) -> None:
    import time

    receiver = _Receiver("hook-secret-42")
    try:
        auth = {"Authorization": f"Bearer {sandbox.api_key}"}
        hook = {"event": "delivery-status", "url": receiver.url, "secret": "hook-secret-42"}
        assert httpx.post(sandbox.base_url + "/webhooks", json=hook, headers=auth).status_code == 200
        send = {"subscribers": ["+13175551111"], "message": "signed"}
        assert httpx.post(sandbox.base_url + "/send", json=send, headers=auth).status_code == 200
        deadline = time.monotonic() + 10
        while not any(v[2]["status"] == 4 for v in receiver.verdicts):
            assert time.monotonic() < deadline, receiver.verdicts
            time.sleep(0.05)
    finally:
        receiver.close()
    assert all(ok and not forged for ok, forged, _ in receiver.verdicts), receiver.verdicts


def test_the_sandbox_binds_to_loopback_by_default() -> None:
    settings, _ = parse_args([])
    assert settings.host == "127.0.0.1" and not settings.admin_requires_key
    assert Settings().host == "127.0.0.1"
    assert Settings(host="0.0.0.0").admin_requires_key and Settings(host="::").admin_requires_key


@pytest.fixture(scope="module")
def exposed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    """The command-line sandbox bound to every interface (requests still only go to 127.0.0.1)."""
    log = tmp_path_factory.mktemp("exposed-sandbox") / "sandbox.log"
    keys = ("exposed-key-1", "exposed-key-2")
    server = SandboxProcess(log_path=log, host="0.0.0.0", api_keys=keys, args=("--log-level", "info")).start()
    try:
        yield server
    finally:
        server.stop()


ADMIN_ROUTES = [
    ("GET", "/_sandbox/messages"),
    ("GET", "/_sandbox/stats"),
    ("POST", "/_sandbox/reset"),
    ("GET", "/_sandbox/faults"),
    ("DELETE", "/_sandbox/faults"),
    ("POST", "/_sandbox/faults"),
    ("GET", "/"),
]


def test_bound_elsewhere_the_admin_routes_need_an_accepted_key(exposed: SandboxProcess) -> None:
    log = exposed.log_path.read_text()
    assert f"http://0.0.0.0:{exposed.port}/v3" in log and "non-loopback host" in log
    fault = {"fault": "status", "status": 503}
    with httpx.Client(base_url=exposed.url, trust_env=False, timeout=10) as c:
        for method, path in ADMIN_ROUTES:
            body = {"json": fault} if method == "POST" and path.endswith("faults") else {}
            for headers in ({}, {"Authorization": "Bearer wrong-key"}, {"Authorization": "exposed-key-1"}):
                answer = c.request(method, path, headers=headers, **body)
                assert answer.status_code == 401, (method, path, headers, answer.status_code)
            for key in exposed.api_keys:
                answer = c.request(method, path, headers={"Authorization": f"Bearer {key}"}, **body)
                assert answer.status_code == 200, (method, path, key, answer.text)
        assert c.get("/", params={"key": "wrong-key"}).status_code == 401
        assert c.get("/", params={"key": "exposed-key-2"}).status_code == 200  # browsers
        assert c.get("/_sandbox/stats", params={"key": "exposed-key-2"}).status_code == 401  # only the inbox
        assert c.get("/v3/auth/verify-api-key").status_code == 401  # the API needed a key anyway
    assert exposed.stats()["pendingFaults"] == [{"fault": "status", "count": 1, "status": 503}] * 2  # one per key
