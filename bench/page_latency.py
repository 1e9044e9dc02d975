"""Pages during a batch: how late a failure callback's page arrives while P workers send a batch for the account.

The batch is bench/scale_out.py's fleet (bench/_fleet.py): P spawned processes each run
``BatchPersonalizedSmsOperator`` in-process on ``partition=(i, P)`` of the same ``--recipients`` rows,
against one sandbox process whose ``/send`` limit is scaled down to ``--rate`` (N sends per W seconds,
fixed window; the connection's ``send_rate_limit`` is the same). A separate process, the pager, fires
``--pages`` pages while the batch sends: the first ``--page-delay`` seconds after the batch's first send,
then one every ``--page-every`` seconds, each in its own thread (a page that waits does not hold back the
next), each the failure callback of a different task: ``MtaNotifier(subscribers=[...]).notify({"ti": ...})``,
a new notifier per task, as bench/page_failover.py does. The notifier sends with ``send_priority="page"``
and the connection's retries (``max_retries``, default 5: six attempts).

Modes (the connection's extras, the same for the batch and the pager):

* ``before``: ``send_rate_limit`` N/W only: every process (each batch worker, the pager) paces itself,
  so the P + 1 processes together may send up to P + 1 times the limit; the sandbox answers 429 and the
  client waits out Retry-After (what users had before the shared limiter).
* ``after``: ``send_rate_limit`` N/W and ``rate_limit_conn_id`` naming a ``redis`` connection: one
  account-wide budget in Redis (``--redis-url``; its keys deleted between runs) with the page priority:
  while a page is about, batch sends leave ``RateLimit.priority_reserve`` slots of each window free.
* ``no-priority``: as ``after``, but the bench turns the page priority off on each page's client
  (``client.send_priority = False``): a page queues for the shared budget like any batch send. Not a
  setting users have; it separates what the shared limiter does from what the priority adds.

Per page (the pager wraps ``httpx.Client.send`` and files each ``POST /send`` under the page whose
thread made it): latency from the ``notify()`` call to the end of the 2xx answer, the wait before its
first attempt (the limiter), attempts, 429s. Per mode: pages texted, median and max latency, pages
that met any 429; the batch's 429s (the sandbox's count less the pages'), wall (the barrier to the
last worker's end) and sending phase (the first batch send's start to the last one's answer) over
the account's floor for every send made, batch and pages
(``(ceil(K / N) - 1) x W + L``, bench/throughput.py), and the ledger: duplicates (a number or a page
texted more than once) and missing (a row's number or a page never texted).

    .venv/bin/python bench/page_latency.py
    .venv/bin/python bench/page_latency.py --quick
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import threading
import time
from typing import Any

from _common import load
from _fleet import (
    REDIS_CONN_ID,
    add_fleet_arguments,
    collect,
    floor_seconds,
    fresh,
    ledger,
    mta_conn,
    services,
    spawn_fleet,
)
from page_failover import task

MODES = ("before", "no-priority", "after")
PAGER = "+13125559999"  # the on-call number: outside the batch's 317 numbers
DAG_ID = "bench_pages"


def pager(
    conn: str, priority: bool, pages: int, every: float, delay: float, barrier: Any, first_send: Any, out: Any
) -> None:
    """The pager process: ready, wait for the batch's first send, fire ``pages`` pages ``every`` s apart."""
    import os

    os.environ["AIRFLOW_CONN_MTA_DEFAULT"] = conn
    import httpx

    from airflow_provider_mta.notifications.mta import MtaNotifier

    current = threading.local()
    real_send = httpx.Client.send

    def send(self: httpx.Client, request: httpx.Request, **kw: Any) -> httpx.Response:
        record = getattr(current, "page", None)
        t0 = time.monotonic()
        response = real_send(self, request, **kw)
        if record is not None and request.url.path.endswith("/send"):
            record["attempts"].append((t0, time.monotonic(), response.status_code))
        return response

    httpx.Client.send = send  # type: ignore[method-assign]
    # imports, the connection and this process's pacer (and the Redis connection), before the clock starts
    client = MtaNotifier(subscribers=[PAGER]).hook.client
    connector = getattr(client.send_pacer, "connector", None)
    if connector is not None:
        connector.sync_client()
    records: list[dict[str, Any]] = [{"n": n, "attempts": []} for n in range(1, pages + 1)]

    def fire(record: dict[str, Any]) -> None:
        current.page = record
        record["call"] = time.monotonic()
        page = MtaNotifier(subscribers=[PAGER])
        if not priority:
            page.hook.client.send_priority = False
        page.notify({"ti": task(DAG_ID, record["n"])})
        record["returned"] = time.monotonic()
        result = page.last_result or {}
        record["paged"] = bool(result.get("paged"))
        record["reasons"] = result.get("reasons")

    barrier.wait()
    first_send.wait(timeout=300)
    t0 = time.monotonic()
    threads = []
    for i, record in enumerate(records):
        time.sleep(max(0.0, t0 + delay + i * every - time.monotonic()))
        threads.append(threading.Thread(target=fire, args=(record,)))
        threads[-1].start()
    for thread in threads:
        thread.join()
    out.put({"first_send": t0, "pages": records})


def page_outcome(record: dict[str, Any], first_send: float) -> dict[str, Any]:
    """One page's numbers from the pager's record (times in s)."""
    attempts = record["attempts"]
    ok = [end for _, end, status in attempts if 200 <= status < 300]
    return {
        "n": record["n"],
        "fired": record["call"] - first_send,
        "paged": record["paged"],
        "latency": ok[0] - record["call"] if ok else None,
        "returned": record["returned"] - record["call"],
        "first_try": attempts[0][0] - record["call"] if attempts else None,
        "attempts": len(attempts),
        "429": sum(1 for *_, status in attempts if status == 429),
        "reasons": record.get("reasons"),
    }


def run_mode(mode: str, args: argparse.Namespace, sandbox: Any, per_window: int, window: float) -> dict[str, Any]:
    extra: dict[str, Any] = {"send_rate_limit": args.rate}
    if mode != "before":
        extra["rate_limit_conn_id"] = REDIS_CONN_ID
    conn = mta_conn(sandbox.base_url, extra)
    ctx = multiprocessing.get_context("spawn")
    barrier, out, paged, first_send = ctx.Barrier(args.procs + 1), ctx.Queue(), ctx.Queue(), ctx.Event()
    pager_process = ctx.Process(
        target=pager,
        args=(conn, mode != "no-priority", args.pages, args.page_every, args.page_delay, barrier, first_send, paged),
        daemon=True,
    )
    pager_process.start()
    workers = spawn_fleet(
        ctx,
        procs=args.procs,
        recipients=args.recipients,
        chunk_size=args.chunk_size,
        conn=conn,
        barrier=barrier,
        out=out,
        first_send=first_send,
    )
    fleet = collect(workers, out, args.timeout)
    report = paged.get(timeout=args.timeout)
    pager_process.join(timeout=30)
    load_after = load()
    stats = sandbox.stats()
    messages = sandbox.messages()
    pages = [page_outcome(r, report["first_send"]) for r in report["pages"]]
    texts = [
        sum(1 for m in messages if m["to"] == PAGER and f"{DAG_ID}.load_{p['n']:03d} " in m["text"]) for p in pages
    ]
    duplicates, missing = ledger([m["to"] for m in messages if m["to"] != PAGER], args.recipients)
    k = len(fleet["sends"]) + len(pages)
    page_429 = sum(p["429"] for p in pages)
    latencies = [p["latency"] for p in pages if p["latency"] is not None]
    return {
        "mode": mode,
        "pages": pages,
        "texts": texts,
        "sent": sum(1 for p in pages if p["paged"]),
        "median": statistics.median(latencies) if latencies else None,
        "max": max(latencies) if latencies else None,
        "pages_429": sum(1 for p in pages if p["429"]),
        "page_429": page_429,
        "batch_429": stats["rateLimited"] - page_429,
        "K": k,
        "floor": floor_seconds(k, per_window, window, args.latency_ms / 1000),
        "wall": fleet["wall"],
        "sending": fleet["sending"],
        "duplicates": duplicates + sum(max(t - 1, 0) for t in texts),
        "missing": missing + sum(1 for t in texts if not t),
        "failed": fleet["failed"],
        "load": load_after,
    }


def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def summary_table(results: list[dict[str, Any]], pages: int, procs: int) -> None:
    print(
        "| mode | pages sent | median page latency | max page latency | pages that met a 429 | page 429s "
        "| batch 429s | /send calls (K) | floor | batch wall | wall / floor | sending / floor | duplicates | missing "
        "| tasks failed | load after |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in results:
        cells = [
            r["mode"],
            f"{r['sent']} / {pages}",
            seconds(r["median"]),
            seconds(r["max"]),
            str(r["pages_429"]),
            str(r["page_429"]),
            str(r["batch_429"]),
            str(r["K"]),
            seconds(r["floor"]),
            seconds(r["wall"]),
            f"{r['wall'] / r['floor']:.3f}",
            f"{r['sending'] / r['floor']:.3f}",
            str(r["duplicates"]),
            str(r["missing"]),
            f"{len(r['failed'])} of {procs}",
            r["load"],
        ]
        print("| " + " | ".join(cells) + " |")


def pages_table(result: dict[str, Any]) -> None:
    print(
        f"\n{result['mode']}: | page | fired (s after the first batch send) | latency to the 2xx | wait before "
        "the first try | attempts | 429s | texts |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for p, texts in zip(result["pages"], result["texts"], strict=True):
        latency = seconds(p["latency"]) if p["paged"] else f"not sent ({seconds(p['returned'])})"
        print(
            f"| {p['n']} | {p['fired']:.1f} | {latency} | {seconds(p['first_try'])} | {p['attempts']} "
            f"| {p['429']} | {texts} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_fleet_arguments(parser, recipients=24_000, chunk_size=100, modes=MODES)
    parser.add_argument("--procs", type=int, default=8, help="batch worker processes (P)")
    parser.add_argument("--rate", default="10/2", help="the account's N/SECONDS send limit (sandbox and connection)")
    parser.add_argument("--pages", type=int, default=10)
    parser.add_argument("--page-every", type=float, default=3.0, help="seconds between two pages")
    parser.add_argument("--page-delay", type=float, default=4.0, help="first page, seconds after the first send")
    parser.add_argument("--quick", action="store_true", help="a tiny run: P = 2, 1,200 recipients, 3 pages")
    args = parser.parse_args()
    if args.quick:
        args.procs, args.recipients, args.chunk_size, args.rate = 2, 1200, 20, "10/0.5"
        args.pages, args.page_every, args.page_delay = 3, 0.4, 0.3
    modes = [m for m in args.modes.split(",") if m]
    if not set(modes) <= set(MODES) or args.procs < 1 or args.pages < 1:
        parser.error(f"--modes must be of {', '.join(MODES)}; --procs and --pages must be >= 1")
    per_window, window = int(args.rate.split("/")[0]), float(args.rate.split("/")[1])

    with services(redis_url=args.redis_url, latency_ms=args.latency_ms, rate=args.rate) as (sandbox, redis):
        print(
            f"P = {args.procs} batch workers, {args.recipients:,} recipients in chunks of {args.chunk_size}; "
            f"{args.pages} pages from one more process, the first {args.page_delay:g} s after the first batch "
            f"send, then every {args.page_every:g} s; account limit {args.rate} (sandbox, fixed window; the "
            f"connection's send_rate_limit); sandbox latency {args.latency_ms} ms; {load()}\n"
        )
        results = []
        for mode in modes:
            fresh(sandbox, redis)
            results.append(run_mode(mode, args, sandbox, per_window, window))
            r = results[-1]
            print(
                f"  {mode}: pages sent {r['sent']}, max page latency {seconds(r['max'])}, batch wall "
                f"{r['wall']:.2f} s, 429s {r['page_429']} (pages) + {r['batch_429']} (batch); {r['load']}",
                flush=True,
            )
            time.sleep(window + 0.1)  # the last window passes before the next run

    print(f"\nPages during a batch: P = {args.procs}, limit {args.rate}, {args.pages} pages\n")
    summary_table(results, args.pages, args.procs)
    for r in results:
        pages_table(r)
    for r in results:
        for error in r["failed"]:
            print(f"{r['mode']}: a batch task failed: {error}")
        for p in r["pages"]:
            if not p["paged"]:
                print(f"{r['mode']}: page {p['n']} not sent: {p['reasons']}")
    for r in results:
        if r["mode"] != "before" and r["max"] is not None:
            wait = max(p["first_try"] for p in r["pages"] if p["first_try"] is not None)
            verdict = "within" if r["max"] <= window else "MORE than"
            print(
                f"\n{r['mode']}: the slowest page took {r['max']:.2f} s, {verdict} "
                f"one send window ({window:g} s); the longest wait before a page's first try {wait:.2f} s"
            )


if __name__ == "__main__":
    main()
