"""Which replies release a reply sensor (sans I/O, shared by the sensor and its trigger).

A reply *approves* when its whole text, trimmed and without trailing ``.!`` , matches ``pattern``
(case-insensitive, ``re.fullmatch``), and *rejects* when it matches ``reject_pattern``. With
``require="any"`` the first approval decides (a rejection before it fails); with ``"all"`` every
awaited number must approve and any rejection fails. Replies are read oldest first; texts in the
summary have phone numbers masked, and numbers appear masked only.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_mta.core.errors import MtaValidationError
from airflow_provider_mta.core.masking import mask_phone_runs

if TYPE_CHECKING:
    from airflow_provider_mta.utils.sms_event_store import StoredEvent

DEFAULT_PATTERN = r"yes|y|approve|approved"
REQUIRES = ("any", "all")


def _compile(pattern: str, field: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise MtaValidationError(f"{pattern!r} is not a regular expression: {exc}", field=field) from None


@dataclass(frozen=True)
class ReplyRule:
    """What counts as an answer; see the module docstring."""

    pattern: str = DEFAULT_PATTERN
    reject_pattern: str | None = None
    require: str = "any"

    def __post_init__(self) -> None:
        _compile(self.pattern, "pattern")
        if self.reject_pattern is not None:
            _compile(self.reject_pattern, "reject_pattern")
        if self.require not in REQUIRES:
            raise MtaValidationError(f"require must be 'any' or 'all', not {self.require!r}", field="require")

    def verdict(self, text: str | None) -> str:
        """``approve``, ``reject`` or ``other``."""
        answer = (text or "").strip().rstrip(".!").strip()
        if re.fullmatch(_compile(self.pattern, "pattern"), answer):
            return "approve"
        if self.reject_pattern is not None and re.fullmatch(_compile(self.reject_pattern, "reject_pattern"), answer):
            return "reject"
        return "other"

    def decide(self, replies: Sequence[StoredEvent], *, awaited: int) -> dict[str, Any]:
        """The JSON-safe summary: ``state`` (pending, success, failed), ``reason`` and every reply read."""
        listed: list[dict[str, Any]] = []
        approved: dict[str, str] = {}
        state, reason = "pending", f"waiting for {'a reply' if self.require == 'any' else f'{awaited} replies'}"
        for reply in replies:
            verdict = self.verdict(reply.text)
            listed.append(
                {
                    "recipient": reply.masked,
                    "text": mask_phone_runs(reply.text or ""),
                    "at": dt.datetime.fromtimestamp(reply.received_at, dt.timezone.utc).isoformat(),
                    "verdict": verdict,
                }
            )
            if state != "pending":
                continue
            if verdict == "reject":
                state, reason = "failed", f"{reply.masked} answered {mask_phone_runs(reply.text or '')!r}"
            elif verdict == "approve":
                approved.setdefault(reply.number_key, reply.masked)
                if self.require == "any" or len(approved) >= awaited:
                    state = "success"
                    reason = f"approved by {', '.join(approved.values())}"
        if state == "pending" and approved:
            reason = f"{len(approved)} of {awaited} approved so far"
        return {"state": state, "reason": reason, "approved_by": list(approved.values()), "replies": listed}
