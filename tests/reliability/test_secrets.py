"""Secrets: a recognisable API key must appear in no task log, exception, XCom, rendered template field,
trigger payload or sandbox log, and phone numbers appear in logs only masked (``***1111``).

Two runs, both against the sandbox started from the command line (so its own log is the real one,
uvicorn's access log included) with the canary as its only key:

- in-process, with every logger at DEBUG (httpx and httpcore included) and without Airflow's secrets
  masker, so what is checked is the provider's own output;
- under real Airflow (``airflow dags test``), scanning the whole output, the task log files, every row of
  the metadata database that belongs to the DAG (XComs, rendered template fields, ...) and the XCom file.

A server that echoes requests back in its errors (``EchoServer``) and a refused key (401) are part of both.
``MTA_TEST_API_KEY=sk-LEAKCANARY-7f3a9c`` runs the rest of the suite with the canary too (tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sqlite3
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from airflow_provider_mta.backends.mta.client import MtaClient
from airflow_provider_mta.core.errors import MtaError
from airflow_provider_mta.core.retry import RetryPolicy
from airflow_provider_mta.hooks.mta import MtaHook
from airflow_provider_mta.notifications.mta import MtaNotifier
from airflow_provider_mta.operators.batch import BatchPersonalizedSmsOperator
from airflow_provider_mta.operators.send import SendSmsOperator
from airflow_provider_mta.sandbox.testing import SandboxProcess
from airflow_provider_mta.sensors.delivery import MtaDeliverySensor
from tests.conftest import mta_conn_json, use_sandbox
from tests.reliability import fault_matrix
from tests.reliability.helpers import EchoServer, context, execute

pytestmark = pytest.mark.integration

CANARY = "sk-LEAKCANARY-7f3a9c"
WRONG = "sk-LEAKCANARY-WRONG-1b2c"  # a refused key is a secret too
SECRETS = (CANARY, WRONG)
NUMBERS = ["+13175551111", "+13175552222", "+13175553333", "+13175554444", "+13175555555", "+13175559999"]
E164 = re.compile(r"\+1317555\d{4}")
SCANNED: dict[str, tuple[int, int]] = {}  # what -> (files or items, bytes)


def scan(what: str, texts: dict[str, str | bytes]) -> None:
    """Assert no secret in any of ``texts`` (name -> content); count what was scanned."""
    total = 0
    for name, text in texts.items():
        data = text.encode() if isinstance(text, str) else text
        total += len(data)
        for secret in SECRETS:
            assert secret.encode() not in data, f"{what}: the API key {secret!r} leaked into {name}"
    files, size = SCANNED.get(what, (0, 0))
    SCANNED[what] = (files + len(texts), size + total)


def no_full_numbers(what: str, text: str) -> None:
    found = sorted(set(E164.findall(text)))
    assert not found, f"{what}: full phone numbers {found} (only ***1234 may appear)"


def test_the_scan_finds_a_planted_key_and_full_numbers() -> None:
    with pytest.raises(AssertionError, match="leaked into planted"):
        scan("self-test", {"planted": f"Authorization: Bearer {CANARY}".encode()})
    with pytest.raises(AssertionError, match=r"\+13175551111"):
        no_full_numbers("self-test", "To +13175551111 and ***2222")
    no_full_numbers("self-test", "To ***1111, outbound id 13175551111, +1 317 555")


@pytest.fixture(scope="module")
def canary_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    log = tmp_path_factory.mktemp("canary-sandbox") / "sandbox.log"
    args = ("--send-rate-limit", "0", "--general-rate-limit", "0", "--delivery-delay-s", "1", "--log-level", "info")
    server = SandboxProcess(log_path=log, api_keys=(CANARY,), args=args).start()
    try:
        yield server
    finally:
        server.stop()
        scan("sandbox log (its whole output, access log included)", {str(log): log.read_bytes()})


@pytest.fixture
def sandbox(canary_server: SandboxProcess, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Overrides the shared sandbox (also for ``run_dag``): the command-line sandbox with the canary key."""
    return use_sandbox(canary_server, monkeypatch)


@pytest.fixture(scope="module")
def echo() -> Iterator[EchoServer]:
    server = EchoServer()
    yield server
    server.close()


def as_logged(exc: BaseException) -> str:
    """An exception as a log shows it: its text, chained causes and the traceback."""
    return "".join(traceback.format_exception(exc)) + repr(exc)


def template_fields(obj: Any) -> str:
    return json.dumps({name: getattr(obj, name) for name in obj.template_fields}, default=repr)


def test_in_process_nothing_leaks(
    sandbox: SandboxProcess,
    echo: EchoServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, httpx and httpcore included
    monkeypatch.setenv("AIRFLOW_CONN_MTA_WRONG", mta_conn_json(sandbox.base_url, api_key=WRONG, max_retries=0))
    monkeypatch.setenv("AIRFLOW_CONN_MTA_ECHO", mta_conn_json(echo.base_url, api_key=CANARY, max_retries=1))
    monkeypatch.setattr(RetryPolicy, "wait", lambda self, state: 0.01)
    xcoms: dict[str, Any] = {}
    rendered: dict[str, str] = {}
    errors: dict[str, str] = {}
    bodies: dict[str, str] = {}  # MtaApiError.body: the server's parsed answer, kept for programs, never logged

    def expect_error(name: str, call: Any) -> None:
        try:
            call()
        except MtaError as exc:
            errors[name] = as_logged(exc)
            bodies[f"{name} (body)"] = repr(getattr(exc, "body", None))
        else:
            pytest.fail(f"{name}: no error")

    # the happy paths: send, batch, sensor (poke and deferrable), notifier
    send = SendSmsOperator(
        task_id="send",
        subscribers=["(317) 555-1111", "+1 317 555 2222"],
        message="Hi {{ first_name }}, {{ params.shop }} report for {{ ds }}",
        properties={"(317) 555-1111": {"first_name": "Ann"}, "+1 317 555 2222": {"first_name": "Bob"}},
    )
    xcoms["send"] = execute(send, context(task_id="send"))
    rendered["send"] = template_fields(send)
    batch = BatchPersonalizedSmsOperator(
        task_id="batch",
        rows=[{"phone": "+13175553333", "first_name": "Cy"}, {"phone": "317-555-4444", "first_name": "Di"}],
        message="Hi {{ first_name }}",
        chunk_size=1,
    )
    xcoms["batch"] = execute(batch, context(task_id="batch"))
    rendered["batch"] = template_fields(batch)
    poke = MtaDeliverySensor(task_id="wait", send_result=xcoms["batch"], deferrable=False, poll_interval=0.3)
    poke.render_template_fields(context(task_id="wait"))
    xcoms["wait"] = poke.execute({})
    rendered["wait"] = template_fields(poke)
    deferrable = MtaDeliverySensor(task_id="wait_deferred", send_result=xcoms["send"], poll_interval=0.3)
    trigger = deferrable.build_trigger(deadline=None)
    rendered["trigger.serialize()"] = json.dumps(trigger.serialize(), default=repr)
    xcoms["trigger event"] = asyncio.run(_first_event(trigger))
    notifier = MtaNotifier(subscribers=["+13175559999"], message="{{ ti.task_id }} failed")
    notifier(context(task_id="load"))
    asyncio.run(MtaNotifier(subscribers=["+13175559999"], message="async").async_notify(context(task_id="x")))
    rendered["notifier"] = template_fields(notifier)
    assert len(sandbox.messages()) == 6

    # refused keys, a careless server that echoes requests, transport errors that quote headers
    MtaNotifier(subscribers=["+13175559999"], mta_conn_id="mta_wrong")(context(task_id="load", run_id="r2"))
    expect_error("401 verify", lambda: MtaHook("mta_wrong").verify_api_key())
    expect_error("401 send", lambda: MtaHook("mta_wrong").send_message(subscribers=NUMBERS[:2], message="x"))
    expect_error("401 async", lambda: asyncio.run(MtaHook("mta_wrong").averify_api_key()))
    expect_error("echo 400", lambda: MtaHook("mta_echo").send_message(subscribers=NUMBERS[:2], message="x"))
    expect_error("echo 502 html", lambda: MtaHook("mta_echo").verify_api_key())
    expect_error("echo 200 text", lambda: MtaHook("mta_echo").list_deliveries(message_id="m"))
    expect_error("echo operator", lambda: execute(SendSmsOperator(task_id="e", mta_conn_id="mta_echo",
                                                                   subscribers=[NUMBERS[4]], message="x")))  # fmt: skip
    tests = {name: MtaHook(conn).test_connection() for name, conn in (("ok", "mta_default"), ("wrong", "mta_wrong"),
                                                                       ("echo", "mta_echo"))}  # fmt: skip
    assert tests["ok"][0] and not tests["wrong"][0] and not tests["echo"][0]
    errors["test_connection"] = repr(tests)

    def quoting(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"refused {request.headers['authorization']}", request=request)

    client = MtaClient(api_key=CANARY, base_url="http://mta.test/v3", transport=httpx.MockTransport(quoting),
                       retry=RetryPolicy(max_retries=1))  # fmt: skip
    expect_error("transport error quoting the header", client.verify_api_key)
    errors["reprs"] = repr(client) + repr(MtaHook().client) + repr(MtaHook())

    assert "Bad request: you sent 'Bearer ***'" in errors["echo 400"]  # the echo reached the error, redacted
    assert "***1111" in errors["echo 400"] and "HTTP 401" in errors["401 send"]
    logs = caplog.text + "".join(capfd.readouterr())
    assert "SMS page not sent by any vendor" in logs and "down: MTA answered HTTP 401" in logs and "***1111" in logs
    scan("in-process logs (DEBUG, every logger) and stdout/stderr", {"logs": logs})
    scan("in-process exceptions (text, repr, chained tracebacks, parsed bodies)", {**errors, **bodies})  # type: ignore[arg-type]
    scan("in-process XCom values", {k: json.dumps(v, default=repr) for k, v in xcoms.items()})
    scan("in-process rendered template fields and trigger payload", rendered)  # type: ignore[arg-type]
    no_full_numbers("in-process logs", logs)
    for name, text in errors.items():
        no_full_numbers(f"error {name}", text)


async def _first_event(trigger: Any) -> Any:
    async for event in trigger.run():
        return event.payload
    return None


def _db_rows(db: Path, dag_id: str) -> dict[str, str]:
    """Every row of every metadata table with a ``dag_id`` column that belongs to ``dag_id``, as text."""
    out: dict[str, str] = {}
    with sqlite3.connect(db) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            columns = [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]
            if "dag_id" not in columns:
                continue
            rows = conn.execute(f'SELECT * FROM "{table}" WHERE dag_id = ?', (dag_id,)).fetchall()
            if rows:
                out[table] = "\n".join(repr(r) for r in rows)
    return out


def test_under_airflow_nothing_leaks(
    run_dag: Any, sandbox: SandboxProcess, echo: EchoServer, airflow_home: Path, tmp_path: Path
) -> None:
    result = run_dag(
        "mta_rel_secrets",
        env={
            "AIRFLOW_CONN_MTA_WRONG": mta_conn_json(sandbox.base_url, api_key=WRONG, max_retries=0),
            "AIRFLOW_CONN_MTA_ECHO": mta_conn_json(echo.base_url, api_key=CANARY, max_retries=0),
        },
    )
    log = result.log
    # it all ran: sends, the sensors, the refused key, the echoing server, both notifiers
    assert result.out is not None, log[-4000:]
    assert result.out["wait_send"]["state"] == "success" and result.out["wait_batch"]["delivered"] == 2
    assert "SMS page not sent by any vendor" in log and "down: MTA answered HTTP 401" in log
    assert "you sent 'Bearer ***'" in log and "test_connection: False" in log
    texts = [m["to"] for m in sandbox.messages()]
    assert sorted(texts) == ["+13175551111", "+13175552222", "+13175553333", "+13175554444", "+13175559999"]
    assert len(echo.requests) >= 3 and any(CANARY in str(h) for _, _, h, _ in echo.requests)  # the key did go out

    logs_dir = airflow_home / "logs" / "dag_id=mta_rel_secrets"
    files = {str(p): p.read_bytes() for p in logs_dir.rglob("*") if p.is_file()} if logs_dir.exists() else {}
    scan("airflow dags test output", {"output": log})
    if files:
        scan("task log files", files)
    # else: `dags test` prints each task's log into its own output, scanned above. The task log files of a
    # real worker are read by the SIGKILL test (test_batch_dags.py), and every file left under AIRFLOW_HOME
    # by the sweep at the end of the session (tests/conftest.py).
    rows = _db_rows(airflow_home / "airflow.db", "mta_rel_secrets")
    assert "xcom" in rows and "rendered_task_instance_fields" in rows, sorted(rows)
    scan("metadata DB rows of the DAG (XCom, rendered fields, ...)", rows)  # type: ignore[arg-type]
    scan("XCom file written by the DAG", {"out": json.dumps(result.out)})
    no_full_numbers("airflow dags test output", log)
    for name, data in files.items():
        no_full_numbers(name, data.decode(errors="replace"))


def test_sandbox_log_hides_the_key_of_the_inbox_url(canary_server: SandboxProcess) -> None:
    """Browsers pass the key as ``/?key=`` on a non-loopback host; uvicorn's access log must not keep it."""
    assert httpx.get(canary_server.url + "/", params={"key": CANARY}, trust_env=False).status_code == 200
    assert httpx.get(canary_server.base_url + "/auth/verify-api-key", trust_env=False,
                     headers={"Authorization": f"Bearer {WRONG}"}).status_code == 401  # fmt: skip
    deadline = time.monotonic() + 5
    while "key=***" not in canary_server.log_path.read_text():  # the access log line is there, key hidden
        assert time.monotonic() < deadline, canary_server.log_path.read_text()[-2000:]
        time.sleep(0.05)
    scan("sandbox log (its whole output, access log included)", {"log": canary_server.log_path.read_bytes()})


@pytest.fixture(scope="module", autouse=True)
def _report_scan() -> Iterator[None]:
    yield
    if SCANNED:
        lines = ["| Scanned for the canary key | Files or items | Bytes |", "|---|--:|--:|"]
        lines += [f"| {what} | {n} | {size:,} |" for what, (n, size) in SCANNED.items()]
        fault_matrix.SECTIONS["Secrets scan"] = "\n".join(lines)
