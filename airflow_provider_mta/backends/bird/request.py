"""Bird's send request: the neutral fields a Channels API text message can carry.

Bird's ``POST /workspaces/{ws}/channels/{ch}/messages`` takes one receiver per request here and has no
per-recipient properties, so each recipient's text is rendered by the provider
(:meth:`OutgoingRequest.texts`). A text send carries no image, tags, external id or schedule: those are
refused by name, as are fields only MTA has (``groups``, ``template_id``, ``header``...).
"""

from __future__ import annotations

from typing import Any, ClassVar

from airflow_provider_mta.backends.bird.models import message_payload
from airflow_provider_mta.core.outgoing import FieldError, OutgoingRequest


class BirdRequest(OutgoingRequest):
    """A text send through Bird: ``subscribers`` and ``message`` (Liquid filled per recipient)."""

    api: ClassVar[str] = "Bird"
    endpoint: ClassVar[str] = "Bird's POST /workspaces/{workspaceId}/channels/{channelId}/messages"

    def check_content(self) -> None:
        if self.image is not None:
            raise FieldError("image", "Bird text messages carry no image; leave image out with a bird connection")
        if self.is_mms:
            raise FieldError("is_mms", "Bird sends text messages here, not MMS; leave is_mms out")
        super().check_content()
        if self.tags:
            raise FieldError("tags", "Bird messages carry no tags; leave tags out with a bird connection")
        if self.external_id is not None:
            raise FieldError("external_id", "Bird messages carry no external id; leave it out")
        if self.scheduled_date is not None:
            raise FieldError(
                "scheduled_date",
                "Bird text sends are not scheduled by this provider; leave it out (with quiet hours, use "
                "quiet_hours_action='skip' or 'fail' on a bird connection)",
            )

    def payloads(self) -> list[tuple[str, dict[str, Any]]]:
        """Each recipient with its message body (text rendered for that recipient; the client adds the reference)."""
        return [(recipient, message_payload(to=recipient, text=text or "")) for recipient, text in self.texts()]
