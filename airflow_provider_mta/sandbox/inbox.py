"""``GET /``: an HTML inbox for people, one card per phone number or email, newest messages first."""

from __future__ import annotations

import time
from html import escape
from typing import TYPE_CHECKING

from airflow_provider_mta.sandbox.statuses import DELIVERED, SENT, STATUS_NAMES, iso

if TYPE_CHECKING:
    from airflow_provider_mta.sandbox.store import MessageRow

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;background:#f4f5f7;color:#1d1d1f}
h1{font-size:1.4rem}.note{color:#555}.cards{display:flex;flex-wrap:wrap;gap:1rem}
.card{background:#fff;border-radius:10px;padding:1rem;width:22rem;box-shadow:0 1px 3px #0002}
.card h2{font-size:1rem;margin:0 0 .5rem}.msg{border-top:1px solid #eee;padding:.5rem 0}
.text{white-space:pre-wrap;word-break:break-word;background:#e9f2ff;border-radius:8px;padding:.5rem}
.meta{font-size:.75rem;color:#666;margin-top:.25rem}.ok{color:#137333}.bad{color:#b3261e}.wait{color:#8a6d00}
"""


_PROVIDER_LABELS = {"mta": "MTA /v3", "telnyx": "Telnyx /v2", "bird": "Bird Channels"}


def _status_class(status: int) -> str:
    if status == DELIVERED:
        return "ok"
    return "wait" if status <= SENT else "bad"


def render_inbox(messages: list[MessageRow], *, total: int, now: float | None = None) -> str:
    """The page for ``messages`` (newest first); ``total`` is how many the ledger holds."""
    now = time.time() if now is None else now
    by_recipient: dict[str, list[MessageRow]] = {}
    for m in messages:
        by_recipient.setdefault(m.recipient, []).append(m)
    cards = []
    for recipient, items in by_recipient.items():
        rows = []
        for m in items:
            status = m.timeline.status(now)
            rows.append(
                f'<div class="msg"><div class="text">{escape(m.text)}</div>'
                f'<div class="meta"><span class="{_status_class(status)}">{STATUS_NAMES[status]}</span>'
                f" &middot; {_PROVIDER_LABELS.get(m.provider, escape(m.provider))}"
                f" &middot; {m.parts} part(s) &middot; {m.credits} credit(s) &middot; #{m.outbound_id}"
                f" &middot; {escape(iso(m.timeline.created_at))}</div></div>"
            )
        cards.append(f'<section class="card"><h2>{escape(recipient)}</h2>{"".join(rows)}</section>')
    shown = f"Showing the latest {len(messages)} of {total} message(s)." if total else "No messages yet."
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        "<title>MTA sandbox inbox</title>"
        f"<style>{_STYLE}</style></head><body><h1>MTA sandbox inbox</h1>"
        f'<p class="note">{shown} Nothing here reached a real phone.</p>'
        f'<div class="cards">{"".join(cards)}</div></body></html>'
    )
