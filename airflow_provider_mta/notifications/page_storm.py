"""Storm control for pages: the first page to a recipient goes at once; later ones within ``cooldown`` fold
into one digest text sent when the window closes.

Invariants:

- The first page of a window is never held or dropped: it is sent before anything else is decided, and
  if no vendor could send it the window is given back, so the next page leads again.
- A folded page is in exactly one digest: pages are claimed atomically in the shared store
  (:mod:`airflow_provider_mta.utils.page_storm_store`), by the digest or by the next leading page.
- The digest is sent by the worker that folded the window's first page: a background thread waits for
  the window to close; the worker process stays alive until it has (an ``atexit`` join), holding its slot.
  The task's own state is reported before callbacks run, so nothing waits on it. If that worker dies
  first, the folded pages are carried by the next page to that recipient ("+N more since ...").
"""

from __future__ import annotations

import atexit
import datetime as dt
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_mta.utils.page_storm_store import Folded, PageStormStore, recipient_key

SMS_LIMIT = 160
_THREADS: list[threading.Thread] = []
_THREADS_LOCK = threading.Lock()
_JOIN_REGISTERED = False


@dataclass
class Triage:
    """Which recipients this page texts now, which it folded, and what the leading ones carry along."""

    lead: list[str] = field(default_factory=list)
    folded: list[str] = field(default_factory=list)
    owned: list[str] = field(default_factory=list)  # folded, and this worker sends their digest
    duplicate: list[str] = field(default_factory=list)  # this very event was already handled
    carried: dict[str, list[Folded]] = field(default_factory=dict)  # leftovers a leading page reports
    led_at: dict[str, float] = field(default_factory=dict)  # when each leading recipient's window opened


class StormControl:
    """Decide lead/fold per recipient in the shared store, and run the digests this worker owns."""

    def __init__(self, *, cooldown_s: float, store: PageStormStore, clock: Callable[[], float] = time.time) -> None:
        self.cooldown_s = cooldown_s
        self.store = store
        self.clock = clock

    def triage(self, recipients: list[str], *, event_id: str, summary: str) -> Triage:
        """Lead or fold each recipient for this page (atomic steps; see the store)."""
        triage = Triage()
        for recipient in recipients:
            key = recipient_key(recipient)
            now = self.clock()
            event = f"{event_id}:{key[:16]}"
            if self.store.lead(key, now=now, cooldown_s=self.cooldown_s):
                if not self.store.record(key, event_id=event, now=now, summary=summary, claimed_by="lead"):
                    self.store.unlead(key, now=now)  # a repeat of a page already sent: give the window back
                    triage.duplicate.append(recipient)
                    continue
                triage.lead.append(recipient)
                triage.led_at[recipient] = now
                carried = self.store.take_folded(key, claimer=event[:64])
                if carried:
                    triage.carried[recipient] = carried
                continue
            if not self.store.record(key, event_id=event, now=now, summary=summary, claimed_by=None):
                triage.duplicate.append(recipient)
                continue
            triage.folded.append(recipient)
            if self.store.own_digest(key, owner=event[:64]):
                triage.owned.append(recipient)
        return triage

    def lead_failed(self, triage: Triage) -> None:
        """No vendor texted the leading page: give each window back, so the next page leads again."""
        for recipient, at in triage.led_at.items():
            self.store.unlead(recipient_key(recipient), now=at)

    def start_digests(
        self, owned: list[str], *, event_id: str, send: Callable[[str, str], bool], log: Any
    ) -> list[threading.Thread]:
        """Start one thread per owned recipient that sends its digest when the window closes."""
        started = []
        for recipient in owned:
            key = recipient_key(recipient)
            owner = f"{event_id}:{key[:16]}"[:64]
            store = self.store.clone()  # opened here: the thread may outlive the task's connection lookups
            thread = threading.Thread(
                target=self._digest,
                kwargs={"store": store, "key": key, "recipient": recipient, "owner": owner, "send": send, "log": log},
                name=f"mta-page-digest-{key[:8]}",
                daemon=False,
            )
            thread.start()
            _keep(thread)
            started.append(thread)
        return started

    def _digest(
        self,
        *,
        store: PageStormStore,
        key: str,
        recipient: str,
        owner: str,
        send: Callable[[str, str], bool],
        log: Any,
    ) -> None:
        try:
            while True:
                wait = store.window_end(key, cooldown_s=self.cooldown_s) - self.clock()
                if wait <= 0:
                    break
                time.sleep(min(wait, 5.0))
            now = self.clock()
            if not store.start_digest(key, owner=owner, now=now):
                return  # a page after the window led and carried the folded ones
            folded = store.take_folded(key, claimer=owner)
            if not folded:
                return
            text = digest_text(folded)
            if not send(text, recipient):
                store.give_back(key, claimer=owner)
                store.unlead(key, now=now)
        except Exception as exc:  # a digest must never crash the worker's exit
            log.error("Page digest not sent: %s: %s", type(exc).__name__, exc)
        finally:
            store.close()


def digest_text(folded: list[Folded]) -> str:
    """``Airflow: 9 more pages since 14:02Z in etl_*: etl_a.load, etl_b.load (+7)``, one GSM-7 SMS."""
    since = dt.datetime.fromtimestamp(folded[0].at, tz=dt.timezone.utc).strftime("%H:%MZ")
    names = list(dict.fromkeys(f.summary for f in folded))
    prefix = _common_prefix([n.split(".")[0] for n in names])
    where = f" in {prefix}*" if prefix and len(set(n.split(".")[0] for n in names)) > 1 else ""
    head = f"Airflow: {len(folded)} more page{'s' if len(folded) != 1 else ''} since {since}{where}: "
    return head + fit_list(names, SMS_LIMIT - len(head))


def carried_suffix(carried: list[Folded]) -> str:
    """What a leading page adds for folded pages no digest carried: `` (+3 more since 14:02Z)``."""
    since = dt.datetime.fromtimestamp(carried[0].at, tz=dt.timezone.utc).strftime("%H:%MZ")
    return f" (+{len(carried)} more since {since})"


def fit_list(names: list[str], room: int) -> str:
    """Names joined by ", " within ``room`` characters, ending in ``(+K)`` for those left out."""
    shown: list[str] = []
    for i, name in enumerate(names):
        rest = len(names) - i - 1
        tail = f" (+{rest})" if rest else ""
        candidate = ", ".join([*shown, name])
        if len(candidate) + len(tail) > room:
            left = len(names) - len(shown)
            return ", ".join(shown) + f" (+{left})" if shown else f"(+{left})"
        shown.append(name)
    return ", ".join(shown)


def _common_prefix(values: list[str]) -> str:
    if not values:
        return ""
    first, last = min(values), max(values)
    n = 0
    while n < min(len(first), len(last)) and first[n] == last[n]:
        n += 1
    return first[:n]


def _keep(thread: threading.Thread) -> None:
    """Remember a digest thread; the process joins it at exit (the task runner runs atexit before it exits)."""
    global _JOIN_REGISTERED
    with _THREADS_LOCK:
        _THREADS.append(thread)
        if not _JOIN_REGISTERED:
            atexit.register(join_digests)
            _JOIN_REGISTERED = True


def join_digests(timeout: float | None = None) -> None:
    """Wait for every digest thread of this process (called at exit)."""
    with _THREADS_LOCK:
        threads = list(_THREADS)
    for thread in threads:
        thread.join(timeout)
    with _THREADS_LOCK:
        _THREADS[:] = [t for t in _THREADS if t.is_alive()]


def as_event_summary(context: Any) -> str:
    """``dag.task[map]`` of a callback's context: what a digest lists."""
    from airflow_provider_mta.notifications.callback_event import callback_event

    dag_id, _run_id, task_id, map_index, _try, _state = callback_event(context)
    text = str(dag_id or "?") + (f".{task_id}" if task_id else "")
    return text + (f"[{map_index}]" if map_index is not None and map_index >= 0 else "")
