"""The batch checkpoint: which chunks of a batch the API has confirmed, so a retry resumes instead of resending.

It is written before the first chunk is sent (with the fingerprint of what will be sent) and after
every confirmed chunk. For APIs that take one recipient per request and do not reject a repeated
request id, it is also written before each request with ``in_flight`` set (``in_chunk`` recipients
of the open chunk done): a retry then reports that one recipient as unknown instead of texting it
again. Stored as JSON by an Airflow-side store (the task state store, or a Variable).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from airflow_provider_mta.core.errors import MtaError

if TYPE_CHECKING:
    from airflow_provider_mta.core.outgoing import SendResult

VERSION = 1
MAX_NAMED = 50  # unknown or failed recipients named (masked) in a checkpoint and the XCom


class CheckpointStore(Protocol):
    """Where checkpoints live between tries of one task instance."""

    description: str

    def load(self) -> dict[str, Any] | None: ...

    def save(self, value: dict[str, Any]) -> None: ...

    def delete(self) -> None: ...


class MtaSourceChangedError(MtaError):
    """A retry found other rows (or another message) than the try that started sending."""


@dataclass
class Checkpoint:
    """Progress of one batch. ``confirmed`` chunks (0..confirmed-1) are known to be with MTA."""

    fingerprint: str
    chunk_size: int
    chunks: int
    recipients: int
    confirmed: int = 0
    sent: int = 0
    already_sent_chunks: int = 0
    message_ids: list[str] = field(default_factory=list)
    outbound_ids: list[int | str] | None = field(default_factory=list)
    completed: bool = False
    started_try: int | None = None
    deferred: int = 0
    deferred_until: dict[str, int] = field(default_factory=dict)
    quiet_hours_skipped: int = 0
    in_chunk: int = 0
    in_flight: bool = False
    unknown: int = 0
    unknown_recipients: list[str] = field(default_factory=list)
    opted_out_at_send: int = 0
    failed: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)
    version: int = VERSION

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, value: Any) -> Checkpoint | None:
        """Parse a stored checkpoint; None when it is absent or of an unknown version."""
        if not isinstance(value, dict) or value.get("version") != VERSION:
            return None
        known = {k: value[k] for k in cls.__dataclass_fields__ if k in value}
        try:
            return cls(**known)
        except TypeError:
            return None

    def record(
        self, *, sent: int, message_id: str | None, outbound_ids: list[int | str], already: bool, keep_ids: int
    ) -> None:
        """Mark the next chunk confirmed; outbound ids are kept until there are more than ``keep_ids``."""
        self.confirmed += 1
        self.in_chunk, self.in_flight = 0, False
        self._add(sent=sent, message_id=message_id, outbound_ids=outbound_ids, already=already, keep_ids=keep_ids)

    def record_recipient(self, result: SendResult, *, keep_ids: int) -> None:
        """Fold one recipient's send into the open chunk (APIs that take one recipient per request)."""
        self.in_chunk += 1
        self.in_flight = False
        self._add(
            sent=result.total_sent,
            message_id=result.message_id,
            outbound_ids=result.outbound_ids,
            already=False,
            keep_ids=keep_ids,
        )
        self.record_outcomes(result)

    def record_unknown(self, masked_recipient: str) -> None:
        """The recipient of the request in flight when an earlier try stopped: it may or may not have a text."""
        self.in_chunk += 1
        self.in_flight = False
        self.unknown += 1
        if len(self.unknown_recipients) < MAX_NAMED:
            self.unknown_recipients.append(masked_recipient)

    def record_outcomes(self, result: SendResult) -> None:
        """Count recipients whose send was ambiguous, refused as opted out, or refused for another reason."""
        self.unknown += len(result.unknown)
        self.unknown_recipients += result.unknown[: max(MAX_NAMED - len(self.unknown_recipients), 0)]
        self.opted_out_at_send += len(result.opted_out)
        self.failed += len(result.failures)
        self.failures += result.failures[: max(MAX_NAMED - len(self.failures), 0)]

    def _add(
        self, *, sent: int, message_id: str | None, outbound_ids: list[int | str], already: bool, keep_ids: int
    ) -> None:
        self.sent += sent
        self.already_sent_chunks += int(already)
        if message_id:
            self.message_ids.append(message_id)
        if self.outbound_ids is not None:
            if already and not outbound_ids and sent:
                self.outbound_ids = None  # MTA's 409 did not say which ids: the list would be incomplete
            elif len(self.outbound_ids) + len(outbound_ids) > keep_ids:
                self.outbound_ids = None
            else:
                self.outbound_ids.extend(outbound_ids)

    def record_deferred(self, *, recipients: int, until: str) -> None:
        """Count recipients of the chunk just recorded as scheduled for ``until`` (their window's opening)."""
        self.deferred += recipients
        self.deferred_until[until] = self.deferred_until.get(until, 0) + recipients


def resume_point(stored: Checkpoint | None, *, fingerprint: str, store: CheckpointStore) -> Checkpoint | None:
    """The checkpoint to resume from, or None to start fresh; raise if the source changed."""
    if stored is None:
        return None
    if stored.fingerprint != fingerprint:
        raise MtaSourceChangedError(
            f"The rows or message differ from those of the earlier try (try {stored.started_try}), which had "
            f"confirmed {stored.confirmed} of {stored.chunks} chunk(s) ({stored.sent} recipient(s)) with MTA. "
            "Not guessing who still needs a text, so nothing was sent. If the rows really changed and you "
            f"want to send again, delete the checkpoint ({store.description}) and clear the task, or start a new run."
        )
    return stored
