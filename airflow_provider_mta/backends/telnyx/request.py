"""Telnyx's send request: the neutral fields, plus what ``POST /v2/messages`` takes and MTA does not.

Telnyx sends one recipient per request and has no per-recipient properties, so the text of each
recipient is rendered here (:meth:`OutgoingRequest.texts`) and each becomes its own ``POST``.
Fields only MTA has (``groups``, ``template_id``, ``header``...) are refused by name.
"""

from __future__ import annotations

from typing import Any, ClassVar

from airflow_provider_mta.core.outgoing import FieldError, OutgoingRequest


class TelnyxRequest(OutgoingRequest):
    """A send through Telnyx: ``subscribers``, ``message`` and/or ``image`` (sent as ``media_urls``)."""

    api: ClassVar[str] = "Telnyx"
    endpoint: ClassVar[str] = "Telnyx's POST /v2/messages"

    subject: str | None = None
    webhook_url: str | None = None
    webhook_failover_url: str | None = None

    def check_content(self) -> None:
        super().check_content()
        if self.tags:
            raise FieldError("tags", "Telnyx messages carry no tags; leave tags out with a telnyx connection")
        if self.external_id is not None:
            raise FieldError("external_id", "Telnyx messages carry no external id; leave it out")

    def payloads(self, *, sender: str | None, messaging_profile_id: str | None) -> list[tuple[str, dict[str, Any]]]:
        """Each recipient with its ``POST /v2/messages`` body (text rendered for that recipient)."""
        out = []
        for recipient, text in self.texts():
            body: dict[str, Any] = {"to": recipient}
            if sender:
                body["from"] = sender
            if messaging_profile_id:
                body["messaging_profile_id"] = messaging_profile_id
            if text:
                body["text"] = text
            if self.image:
                body["media_urls"] = [self.image]
            body["type"] = "MMS" if self.sends_as_mms else "SMS"
            for name in ("subject", "webhook_url", "webhook_failover_url"):
                if getattr(self, name):
                    body[name] = getattr(self, name)
            if self.scheduled_date:
                body["send_at"] = self.scheduled_date
            out.append((recipient, body))
        return out
