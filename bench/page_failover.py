"""Paging during a full SMS-vendor outage: N failure callbacks in a row, MTA down, Telnyx as the fallback.

The sandbox runs as its own process (``python -m airflow_provider_mta.sandbox``, its default rate
limits). ``mta_default`` points at its ``/v3`` and ``telnyx_oncall`` at its ``/v2``, both as
``AIRFLOW_CONN_...`` JSON with the client settings a deployment would use (``--timeout`` seconds per
answer, ``--max-retries`` retries with the client's backoff; the same for both connections; a notifier
with a fallback retries each vendor only ``retries_before_failover`` times, its default). A
``timeout`` fault is queued for every MTA send of the outage scenarios: each ``POST /v3/send`` hangs
until the client gives up.

Each scenario fires ``--pages`` pages in a row in this process, each the failure callback of a
different task (``MtaNotifier(...).notify({"ti": ...})``, a new notifier per task, as in
tests/notifications/test_notifier_failover.py), and times each ``notify()`` call: from the callback
to the page accepted by the sandbox (or given up). The sandbox's ledger then shows who was texted,
through which vendor, and how often. Scenarios:

(a) failover with the circuit breaker: ``fallback_conn_ids=["telnyx_oncall"]``, ``circuit_breaker``
    left at its default (two minutes), so a vendor that failed is skipped by later pages; the breaker's
    trips live in the pager's shared state (a SQLite file in ``$AIRFLOW_HOME``), which a new notifier
    per page reads just as the separate task processes of a deployment do;
(b) failover without a breaker: the same with ``circuit_breaker=timedelta(microseconds=1)``, a cool-down
    over before the next page starts, so every page tries MTA first and waits for its timeouts;
(c) no fallback (before ``fallback_conn_ids``): every page waits for MTA's timeouts and nobody is texted;
(d) healthy MTA: no fault, the same notifier as (a); the baseline.

Before the scenarios one page goes through each vendor (imports, connection look-ups) and the sandbox
is reset; before each scenario the sandbox is reset and the scenario gets a fresh ``$AIRFLOW_HOME`` (so
no breaker is open), as in a fresh deployment.

    .venv/bin/python bench/page_failover.py --pages 10 --timeout 5 --max-retries 2
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from _common import load, machine

API_KEY = "bench-key"
ONCALL = "+13175559999"
TELNYX_FROM = "+13125550100"
MTA, TELNYX = "mta_default", "telnyx_oncall"


@dataclass
class Scenario:
    key: str
    label: str
    fallback: bool
    outage: bool
    breaker: dt.timedelta | None = None
    expect: str | None = "telnyx"  # the vendor every page must go through exactly once; None: nobody texted


@dataclass
class Outcome:
    scenario: Scenario
    seconds: list[float] = field(default_factory=list)
    texts: dict[str, int] = field(default_factory=dict)  # provider -> texts in the ledger
    per_page: list[int] = field(default_factory=list)  # texts in the ledger for each page
    paged: int = 0  # pages the notifier reports as sent
    mta_sends: int = 0  # POST /v3/send requests the sandbox received
    problems: list[str] = field(default_factory=list)

    @property
    def duplicates(self) -> int:
        return sum(max(n - 1, 0) for n in self.per_page)

    @property
    def texted(self) -> int:
        return sum(1 for n in self.per_page if n)


SCENARIOS = (
    Scenario("a", "(a) failover, circuit breaker (default)", fallback=True, outage=True),
    Scenario("b", "(b) failover, no breaker (1 µs)", fallback=True, outage=True, breaker=dt.timedelta(microseconds=1)),
    Scenario("c", "(c) no fallback (MTA only)", fallback=False, outage=True, expect=None),
    Scenario("d", "(d) healthy MTA (baseline)", fallback=True, outage=False, expect="mta"),
)


def task(dag_id: str, n: int) -> SimpleNamespace:
    """The task instance of a failing task, as the failure callback's context carries it."""
    return SimpleNamespace(
        dag_id=dag_id,
        task_id=f"load_{n:03d}",
        run_id="scheduled__2026-12-05",
        map_index=-1,
        try_number=1,
        max_tries=0,
        state="failed",
        log_url=None,
    )


def notifier(scenario: Scenario | None = None, **kw: Any) -> Any:
    from airflow_provider_mta.notifications.mta import MtaNotifier

    if scenario is not None:
        if scenario.fallback:
            kw["fallback_conn_ids"] = [TELNYX]
        if scenario.breaker is not None:
            kw["circuit_breaker"] = scenario.breaker
    return MtaNotifier(subscribers=[ONCALL], **kw)


def close_breaker() -> None:
    """A fresh pager state: no breaker open (the process-wide one closed, a new ``$AIRFLOW_HOME``)."""
    from airflow_provider_mta.core.failover import PROCESS_BREAKER

    for conn_id in (MTA, TELNYX):
        PROCESS_BREAKER.reset(conn_id)
    os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="bench-af-")


def warm_up(sandbox: Any) -> None:
    """One page through each vendor (imports, connection look-ups, the Telnyx client), then a clean ledger."""
    for conn_id in (MTA, TELNYX):
        page = notifier(sms_conn_id=conn_id)
        page.notify({"ti": task("warm_up", 0)})
        assert page.last_result and page.last_result["paged"], (conn_id, page.last_result)
    sandbox.reset()


def run(sandbox: Any, scenario: Scenario, pages: int, attempts_per_page: int) -> Outcome:
    sandbox.reset()
    close_breaker()
    if scenario.outage:  # every MTA send of the scenario times out, whatever the breaker does
        sandbox.fault("timeout", count=pages * attempts_per_page + 10)
    out = Outcome(scenario)
    dag_id = f"bench_{scenario.key}"
    for n in range(1, pages + 1):
        page = notifier(scenario)
        context = {"ti": task(dag_id, n)}
        t0 = time.perf_counter()
        page.notify(context)
        out.seconds.append(time.perf_counter() - t0)
        out.paged += bool(page.last_result and page.last_result["paged"])
    stats = sandbox.stats()
    out.mta_sends = int(stats.get("sendRequests", 0))
    if scenario.outage and not stats["pendingFaults"]:
        out.problems.append("the timeout faults ran out: not every MTA send timed out")
    ledger = sandbox.messages()
    out.texts = {p: sum(1 for m in ledger if m["provider"] == p) for p in ("mta", "telnyx", "bird")}
    for n in range(1, pages + 1):
        mark = f"{dag_id}.load_{n:03d} "
        out.per_page.append(sum(1 for m in ledger if mark in m["text"] and m["to"] == ONCALL))
    stray = len(ledger) - sum(out.per_page)
    if stray:
        out.problems.append(f"{stray} text(s) in the ledger belong to no page")
    want = pages if scenario.expect else 0
    if scenario.expect and (out.per_page != [1] * pages or out.texts[scenario.expect] != pages):
        out.problems.append(f"not every page was texted exactly once via {scenario.expect}: {out.per_page}")
    if out.paged != want or sum(out.texts.values()) != want:
        out.problems.append(f"{out.paged} page(s) reported sent, {sum(out.texts.values())} text(s); expected {want}")
    return out


def seconds(value: float) -> str:
    return f"{value:.2f} s" if value >= 0.1 else f"{value * 1000:.0f} ms"


def table(outcomes: list[Outcome], pages: int) -> None:
    last = f"page {pages}"
    print(
        f"| scenario | page 1 | page 2 | {last} | median of pages 2..{pages} | pages texted | texts via telnyx "
        "| texts via mta | duplicates | MTA /v3/send requests |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for o in outcomes:
        rest = o.seconds[1:]
        cells = [
            o.scenario.label,
            seconds(o.seconds[0]),
            seconds(o.seconds[1]) if pages > 1 else "-",
            seconds(o.seconds[-1]) if pages > 2 else "-",
            seconds(statistics.median(rest)) if rest else "-",
            f"{o.texted} of {pages}",
            str(o.texts["telnyx"]),
            str(o.texts["mta"]),
            str(o.duplicates),
            str(o.mta_sends),
        ]
        print("| " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=None, help="pages per scenario (default 10; --quick: 3)")
    parser.add_argument(
        "--timeout", type=float, default=None, help="seconds per answer, both connections (default 5; --quick: 0.5)"
    )
    parser.add_argument(
        "--max-retries",
        type=int,
        default=None,
        help="retries after the first try, both connections (default 2; --quick: 0)",
    )
    parser.add_argument("--quick", action="store_true", help="a tiny run (3 pages, 0.5 s timeout, no retries)")
    args = parser.parse_args()
    pages = args.pages if args.pages is not None else (3 if args.quick else 10)
    timeout = args.timeout if args.timeout is not None else (0.5 if args.quick else 5.0)
    max_retries = args.max_retries if args.max_retries is not None else (0 if args.quick else 2)
    if pages < 1 or timeout <= 0 or max_retries < 0:
        parser.error("--pages must be >= 1, --timeout > 0 and --max-retries >= 0")

    os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="bench-af-")
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "ERROR")  # retry warnings would bury the table

    from airflow_provider_mta.sandbox.testing import SandboxProcess

    print(f"Machine: {machine()}")
    sandbox = SandboxProcess(api_keys=(API_KEY,), args=("--delivery-delay-s", "0", "--log-level", "warning")).start()
    try:
        client = {"timeout": timeout, "max_retries": max_retries}
        os.environ["AIRFLOW_CONN_MTA_DEFAULT"] = json.dumps(
            {"conn_type": "mta", "host": sandbox.base_url, "password": API_KEY, "extra": client}
        )
        os.environ["AIRFLOW_CONN_TELNYX_ONCALL"] = json.dumps(
            {
                "conn_type": "telnyx",
                "host": sandbox.telnyx_base_url,
                "password": API_KEY,
                "extra": {"from": TELNYX_FROM, **client},
            }
        )
        per_vendor = notifier(SCENARIOS[0]).retries_before_failover
        print(
            f"{pages} pages per scenario, one process; both connections: timeout {timeout:g} s, "
            f"max_retries {max_retries} (the client's exponential backoff with jitter between tries); with a "
            f"fallback the notifier retries each vendor {per_vendor} time(s) (retries_before_failover, default); "
            f"outage = a timeout fault on every MTA send; {load()}\n"
        )
        warm_up(sandbox)
        outcomes = []
        for scenario in SCENARIOS:
            outcomes.append(run(sandbox, scenario, pages, attempts_per_page=max_retries + 1))
            print(f"{scenario.label}: {sum(outcomes[-1].seconds):.1f} s for {pages} pages; {load()}", flush=True)
    finally:
        sandbox.stop()

    print(
        f"\nTime from the failure callback to the page accepted by the sandbox (notify() wall time); "
        f"MTA timeout {timeout:g} s, max_retries {max_retries}:\n"
    )
    table(outcomes, pages)
    problems = [f"{o.scenario.label}: {p}" for o in outcomes for p in o.problems]
    print("\nLedger check: " + ("every page texted as expected, no duplicates" if not problems else "FAILED"))
    for problem in problems:
        print(f"  {problem}")
    if problems:
        sys.exit(1)


if __name__ == "__main__":
    main()
