"""``GET /``: an HTML inbox for people, one card per phone number or email, newest messages first, the
replies phones sent back (newest first) and reply boxes that post to ``/_sandbox/reply``.

Everything shown is escaped; the forms use relative URLs only.
"""

from __future__ import annotations

import time
from html import escape
from typing import TYPE_CHECKING

from airflow_provider_mta.sandbox.statuses import DELIVERED, SENT, STATUS_NAMES, iso

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow_provider_mta.sandbox.store import MessageRow, Reply

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;background:#f4f5f7;color:#1d1d1f}
h1{font-size:1.4rem}.note{color:#555}.cards{display:flex;flex-wrap:wrap;gap:1rem}
.card{background:#fff;border-radius:10px;padding:1rem;width:22rem;box-shadow:0 1px 3px #0002}
.card h2{font-size:1rem;margin:0 0 .5rem}.msg{border-top:1px solid #eee;padding:.5rem 0}
.text{white-space:pre-wrap;word-break:break-word;background:#e9f2ff;border-radius:8px;padding:.5rem}
.meta{font-size:.75rem;color:#666;margin-top:.25rem}.ok{color:#137333}.bad{color:#b3261e}.wait{color:#8a6d00}
.reply .text{background:#e8f5e9}form.reply-form{display:flex;gap:.25rem;flex-wrap:wrap;margin:.5rem 0}
form.reply-form input[name=text]{flex:1;min-width:8rem}
"""


_PROVIDER_LABELS = {"mta": "MTA /v3", "telnyx": "Telnyx /v2", "bird": "Bird Channels"}


def _status_class(status: int) -> str:
    if status == DELIVERED:
        return "ok"
    return "wait" if status <= SENT else "bad"


def _provider_select(selected: str) -> str:
    options = "".join(
        f'<option value="{p}"{" selected" if p == selected else ""}>{label}</option>'
        for p, label in _PROVIDER_LABELS.items()
    )
    return f'<select name="provider" aria-label="provider">{options}</select>'


def reply_form(sender: str | None, provider: str = "mta") -> str:
    """A form that posts a reply to ``/_sandbox/reply``: from ``sender`` (hidden), or a number field."""
    if sender is None:
        who = '<input name="from" placeholder="+13175551111" required aria-label="from number">'
    else:
        who = f'<input type="hidden" name="from" value="{escape(sender)}">'
    return (
        '<form class="reply-form" method="post" action="/_sandbox/reply">'
        f'{who}<input name="text" placeholder="Reply (STOP opts out)" required aria-label="reply text">'
        f'{_provider_select(provider)}<button type="submit">Reply</button></form>'
    )


def _replies_section(replies: Sequence[Reply], total: int) -> str:
    rows = [
        f'<div class="msg reply"><div class="text">{escape(r.text)}</div>'
        f'<div class="meta">from {escape(r.from_number)} to {escape(r.to_number)}'
        f" &middot; {_PROVIDER_LABELS.get(r.provider, escape(r.provider))}"
        f" &middot; thread #{r.thread_id} &middot; reply #{r.reply_id}"
        f" &middot; {escape(iso(r.received_at))}</div></div>"
        for r in replies
    ]
    shown = f"Showing the latest {len(replies)} of {total} repl{'y' if total == 1 else 'ies'}." if total else ""
    shown = shown or "No replies yet: type one below (as if a phone texted the account)."
    return (
        '<section class="card replies" id="replies"><h2>Replies received</h2>'
        f'<p class="note">{shown}</p>{reply_form(None)}{"".join(rows)}</section>'
    )


def render_inbox(
    messages: list[MessageRow],
    *,
    total: int,
    replies: Sequence[Reply] = (),
    total_replies: int = 0,
    now: float | None = None,
) -> str:
    """The page for ``messages`` and ``replies`` (both newest first); ``total``/``total_replies`` are how
    many the ledger holds."""
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
        form = "" if "@" in recipient else reply_form(recipient, items[0].provider)
        cards.append(f'<section class="card"><h2>{escape(recipient)}</h2>{form}{"".join(rows)}</section>')
    shown = f"Showing the latest {len(messages)} of {total} message(s)." if total else "No messages yet."
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        "<title>MTA sandbox inbox</title>"
        f"<style>{_STYLE}</style></head><body><h1>MTA sandbox inbox</h1>"
        f'<p class="note">{shown} Nothing here reached a real phone.</p>'
        f'<div class="cards">{_replies_section(replies, total_replies)}{"".join(cards)}</div></body></html>'
    )
