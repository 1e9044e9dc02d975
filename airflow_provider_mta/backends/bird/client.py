"""The HTTP client for Bird's Channels API: sync :class:`BirdClient` and async :class:`AsyncBirdClient` on httpx.

A text goes out as ``POST /workspaces/{workspaceId}/channels/{channelId}/messages`` with one receiver and a
``reference`` (the caller's deterministic id of that recipient's send). Bird documents no idempotency
header and does not say a repeated ``reference`` is refused, so the send rule is Telnyx's
(:mod:`backends.per_recipient`): retried only on 429 (Bird: "not processed"; waiting ``Retry-After``, else
the retry policy's backoff) and on failures to connect. A read timeout after the request was written, a
dropped connection, any 5xx, or a 2xx without a message id raises :class:`MtaAmbiguousSendError` at once
and is never resent. GETs are retried on 429, 5xx and network failures by the :class:`RetryPolicy`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from airflow_provider_mta.backends.bird.errors import API, error_from_response
from airflow_provider_mta.backends.bird.models import BirdChannel, BirdSent, message_status, receiver_of
from airflow_provider_mta.backends.bird.statuses import classify
from airflow_provider_mta.backends.per_recipient import AsyncPerRecipientClient, PerRecipientBase, PerRecipientClient
from airflow_provider_mta.core.delivery import DeliveryRecord
from airflow_provider_mta.core.errors import MtaApiError, MtaConfigError, MtaValidationError
from airflow_provider_mta.core.masking import mask_recipient

DEFAULT_BASE_URL = "https://api.bird.com"
MAX_REFERENCE = 256


class _Bird(PerRecipientBase[BirdSent]):
    """What Bird's clients add to the shared per-recipient rule: AccessKey auth, the channel's paths, answers."""

    api = API
    default_base_url = DEFAULT_BASE_URL
    key_label = "reference"
    id_location = "id"

    def __init__(self, *, workspace_id: str, channel_id: str, **options: Any) -> None:
        for name, value in (("workspace_id", workspace_id), ("channel_id", channel_id)):
            if not isinstance(value, str) or not value.strip():
                raise MtaConfigError(f"no Bird {name} given")
        super().__init__(**options)
        self.workspace_id = workspace_id.strip()
        self.channel_id = channel_id.strip()
        self.channel_path = (
            f"/workspaces/{quote(self.workspace_id, safe='')}/channels/{quote(self.channel_id, safe='')}"
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, channel={self.channel_id!r})"

    def _authorization(self) -> str:
        return f"AccessKey {self._api_key}"

    def _error(self, response: httpx.Response, what: str) -> MtaApiError:
        return error_from_response(response, what=what)

    def _parse_sent(self, response: httpx.Response, envelope: Any) -> BirdSent | None:
        return BirdSent.from_answer(envelope)

    def _recipient_of(self, payload: dict[str, Any]) -> str | None:
        return receiver_of(payload)

    @property
    def messages_path(self) -> str:
        return f"{self.channel_path}/messages"

    @staticmethod
    def _with_reference(payload: dict[str, Any], reference: str) -> dict[str, Any]:
        if not isinstance(reference, str) or not reference.strip() or len(reference) > MAX_REFERENCE:
            raise MtaValidationError(
                f"reference must be a non-empty string of at most {MAX_REFERENCE} characters", field="reference"
            )
        return {**payload, "reference": reference}

    def _message_path(self, message_id: str) -> str:
        if not isinstance(message_id, str) or not message_id.strip():
            raise MtaValidationError("message_id must be a non-empty Bird message id", field="message_id")
        return f"{self.messages_path}/{quote(message_id.strip(), safe='')}"

    @staticmethod
    def _record(answer: Any, message_id: str) -> DeliveryRecord:
        """A message object as the neutral record: the id as ``outbound_id``, recipient masked."""
        answered_id, status = message_status(answer)
        number = receiver_of(answer)
        return DeliveryRecord(
            outbound_id=answered_id or message_id,
            message_id=None,
            recipient=mask_recipient(number) if number is not None else "***",
            status=classify(status),
        )


class BirdClient(_Bird, PerRecipientClient[BirdSent]):
    """Blocking client. Use as a context manager or call :meth:`close`."""

    def create_message(self, payload: dict[str, Any], *, reference: str) -> BirdSent:
        """``POST .../messages`` with ``reference``, paced; retried only on 429 and failures to connect.

        Raises :class:`MtaAmbiguousSendError` when the text may have gone out (never retried), the mapped
        :class:`MtaApiError` on a 4xx.
        """
        body = self._with_reference(payload, reference)
        return self._post_send(self.messages_path, body, key=reference)

    def get_message(self, message_id: str) -> DeliveryRecord:
        """``GET .../messages/{id}`` as a :class:`DeliveryRecord` (recipient masked)."""
        return self._record(self._get(self._message_path(message_id)), message_id)

    def get_channel(self) -> BirdChannel:
        """``GET /workspaces/{ws}/channels/{ch}``: proves key, workspace and channel (the connection's Test)."""
        return BirdChannel.from_answer(self._get(self.channel_path))


class AsyncBirdClient(_Bird, AsyncPerRecipientClient[BirdSent]):
    """Async twin of :class:`BirdClient` (for triggers, async notifiers and async tasks)."""

    async def create_message(self, payload: dict[str, Any], *, reference: str) -> BirdSent:
        """``POST .../messages`` (async); the same retry rule as :meth:`BirdClient.create_message`."""
        body = self._with_reference(payload, reference)
        return await self._post_send(self.messages_path, body, key=reference)

    async def get_message(self, message_id: str) -> DeliveryRecord:
        """``GET .../messages/{id}`` (async)."""
        return self._record(await self._get(self._message_path(message_id)), message_id)

    async def get_channel(self) -> BirdChannel:
        """``GET /workspaces/{ws}/channels/{ch}`` (async)."""
        return BirdChannel.from_answer(await self._get(self.channel_path))
