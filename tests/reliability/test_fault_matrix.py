"""The fault matrix: a 10,000-recipient BatchPersonalizedSmsOperator under every fault that breaks SMS pipelines.

Each row ends with exactly one text per recipient in the sandbox's ledger (0 duplicates, 0 missing, the
right text each) and records what it cost; the table is printed at the end of the session (see
``fault_matrix.py``). Client-retry rows run the operator in-process (the task state store is a dict);
the Airflow-retry row runs ``airflow dags test`` with the client's retries off, so each fault fails the
task and Airflow's retry resumes from the checkpoint. The SIGKILL row is
``tests/integration/test_batch_dags.py::test_batch_task_killed_mid_batch_resumes_on_retry`` (10,000
PostgreSQL rows, the worker process killed, a real Airflow retry); it records its row in the same table.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from airflow_provider_mta.operators.batch import BatchPersonalizedSmsOperator
from airflow_provider_mta.sandbox.testing import SandboxServer
from tests.conftest import API_KEY, mta_conn_json, use_sandbox
from tests.reliability import fault_matrix as fm
from tests.reliability.helpers import DAGS, StateStore, context, execute

pytestmark = pytest.mark.integration

CHUNKS = math.ceil(fm.RECIPIENTS / fm.CHUNK_SIZE)
EXPECTED = fm.expected_texts()


@dataclass
class Scenario:
    fault: str
    spread: list[tuple[str, int | None]] = field(default_factory=list)  # one fault each at random chunks
    bursts: list[tuple[str, int, int]] = field(default_factory=list)  # (kind, count, at chunk), in order
    conn_extra: dict[str, Any] = field(default_factory=dict)
    seed: int = 9


CLIENT_SCENARIOS = [
    Scenario("none (baseline)"),
    Scenario(
        "random 5xx: 500, 502, 503, 504, 500, 503",
        spread=[("status", 500), ("status", 502), ("status", 503), ("status", 504), ("status", 500), ("status", 503)],
    ),
    Scenario(
        "429 storm: 5 in a row on chunk 4, 3 in a row on chunk 13 (Retry-After: 1)",
        bursts=[("rate_limit", 5, 3), ("rate_limit", 3, 12)],
    ),
    Scenario(
        "timeouts: no answer (client timeout 3 s)",
        spread=[("timeout", None), ("timeout", None)],
        conn_extra={"timeout": 3},
    ),
    Scenario("HTML 502 page from a proxy", spread=[("html", None)] * 3),
    Scenario("committed, then the answer dropped", spread=[("drop_after_commit", None)] * 3),
]


def queue_faults(sandbox: Any, scenario: Scenario) -> list[int]:
    """Queue the scenario's faults; returns the (1-based) chunks they hit."""
    if scenario.spread:
        return fm.spread_faults(sandbox, scenario.spread, chunks=CHUNKS, seed=scenario.seed)
    hit, previous = [], None
    for kind, count, chunk in scenario.bursts:
        # a burst of `count` on one chunk: the chunk's last attempt passes, and the next `after` counts it
        sandbox.fault(kind, count=count, after=chunk if previous is None else chunk - previous)
        hit.append(chunk + 1)
        previous = chunk
    return hit


def run_batch(store: StateStore | None = None, *, try_number: int = 1) -> dict[str, Any]:
    op = BatchPersonalizedSmsOperator(
        task_id="batch", rows=fm.recipient_rows(), message=fm.MESSAGE, chunk_size=fm.CHUNK_SIZE, progress_interval=60
    )
    result: dict[str, Any] = execute(op, context(store, try_number=try_number, task_id="batch"))
    return result


@pytest.mark.parametrize("scenario", CLIENT_SCENARIOS, ids=lambda s: s.fault.split(":")[0].split(" ")[0])
def test_fault_under_client_retries_texts_everyone_exactly_once(
    sandbox: Any, monkeypatch: pytest.MonkeyPatch, scenario: Scenario, request: pytest.FixtureRequest
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_MTA_DEFAULT", mta_conn_json(sandbox.base_url, send_rate_limit="0", **scenario.conn_extra)
    )
    hit = queue_faults(sandbox, scenario)
    with fm.stopwatch() as took:
        out = run_batch()
    row = fm.record_run(
        sandbox,
        fault=f"{scenario.fault} (chunks {', '.join(map(str, hit))})" if scenario.spread else scenario.fault,
        recovery="client retries, same X-Request-Id" if hit else "-",
        expected=EXPECTED,
        chunks=CHUNKS,
        tries=1,
        seconds=took[0],
        test=request.node.nodeid,
    )
    assert row.ledger.exactly_once, row.ledger
    assert (row.ledger.duplicates, row.ledger.missing) == (0, 0)
    stats = sandbox.stats()
    assert stats["pendingFaults"] == [], f"faults aimed at chunks {hit} never fired"
    assert out["sent"] == fm.RECIPIENTS and out["chunks"] == CHUNKS and out["recipients"] == fm.RECIPIENTS
    expected_faults = len(scenario.spread) + sum(count for _, count, _ in scenario.bursts)
    assert row.faults_fired == expected_faults
    drops = sum(1 for kind, _ in scenario.spread if kind == "drop_after_commit")
    # one more attempt per fault; any other extra attempt can only be a slow answer the client gave up
    # on (MTA had it): resent with the same X-Request-Id and refused with 409, never texted twice
    assert row.retries - expected_faults == row.conflicts - drops >= 0
    assert row.conflicts == out["already_sent_chunks"]
    assert stats["sendsAccepted"] == CHUNKS and stats["recipientsAccepted"] == fm.RECIPIENTS


@pytest.fixture(scope="module")
def limited_server() -> Iterator[SandboxServer]:
    """A sandbox that enforces 4 sends per second per key, as MTA enforces 25 per 15 s."""
    with SandboxServer(api_keys=(API_KEY,), send_rate_limit="4/1") as server:
        yield server


def test_429s_from_the_servers_own_limit_with_client_pacing_off(
    limited_server: SandboxServer, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    sandbox = use_sandbox(limited_server, monkeypatch)  # send_rate_limit="0": the client does not pace
    with fm.stopwatch() as took:
        out = run_batch()
    row = fm.record_run(
        sandbox,
        fault="429 storm from the server's own limit (4 sends/s; client pacing off)",
        recovery="client retries after Retry-After",
        expected=EXPECTED,
        chunks=CHUNKS,
        tries=1,
        seconds=took[0],
        test=request.node.nodeid,
    )
    assert (row.ledger.duplicates, row.ledger.missing) == (0, 0) and row.ledger.exactly_once
    assert out["sent"] == fm.RECIPIENTS
    assert row.rate_limited >= 3 and row.retries == row.rate_limited  # every 429 cost one attempt, no more


AIRFLOW_FAULTS: list[tuple[str, int | None]] = [
    ("status", 503),
    ("html", None),
    ("timeout", None),
    ("drop_after_commit", None),
]


def test_each_fault_fails_the_task_and_airflow_retry_resumes(
    run_dag: Any, sandbox: Any, request: pytest.FixtureRequest
) -> None:
    """Real Airflow: the client makes no retry, so each fault fails the task; 5 tries in all."""
    hit = fm.spread_faults(sandbox, AIRFLOW_FAULTS, chunks=CHUNKS, seed=4)
    with fm.stopwatch() as took:
        result = run_dag(
            "mta_rel_faults",
            conn_extra={"max_retries": 0, "timeout": 3},
            args=("-f", str(DAGS / "mta_rel_faults.py")),  # parse only this file of the DAGs folder
        )
    tries = result.log.count("Resuming: an earlier try") + 1
    row = fm.record_run(
        sandbox,
        fault=f"503, HTML 502, timeout, dropped answer on chunks {', '.join(map(str, hit))}",
        recovery="Airflow retry (client max_retries=0), resume from checkpoint",
        expected=EXPECTED,
        chunks=CHUNKS,
        tries=tries,
        seconds=took[0],
        test=request.node.nodeid,
    )
    assert result.succeeded, result.log[-4000:]
    assert (row.ledger.duplicates, row.ledger.missing) == (0, 0) and row.ledger.exactly_once
    assert tries == len(AIRFLOW_FAULTS) + 1 + (row.conflicts - 1)  # one try per fault (and per slow answer)
    out = result.out
    assert out is not None and out["sent"] == fm.RECIPIENTS and out["already_sent_chunks"] == row.conflicts >= 1
    assert row.faults_fired == len(AIRFLOW_FAULTS)
    assert row.retries - len(AIRFLOW_FAULTS) == row.conflicts - 1  # each fault cost one resend, nothing more
    assert sandbox.stats()["sendsAccepted"] == CHUNKS
