"""The HTTP client for Telnyx (API v2): sync :class:`TelnyxClient` and async :class:`AsyncTelnyxClient` on httpx.

Both share configuration, ``POST /messages`` pacing (:mod:`core.pacing`), error mapping (:mod:`.errors`) and
the retry rule of :mod:`backends.per_recipient`; only the I/O calls differ.

Why ``create_message`` retries so little: Telnyx documents ``Idempotency-Key`` in general (replayed for 24 h,
a changed body answers 422), but the ``POST /messages`` reference does not declare it, so a repeat with the
same key may well send a second text. The official SDK (``telnyx`` on PyPI) nevertheless retries
``POST /messages`` on 408/409/429/5xx, which can text a recipient twice. Here a send is retried only when
Telnyx cannot have processed it: a 429 (waiting ``Retry-After``, else ``x-ratelimit-reset``) and a failure
to connect (``ConnectError``, ``ConnectTimeout``, ``PoolTimeout``: nothing was sent). A read timeout, a
connection dropped after the request was written, a 5xx, or a 2xx without a message id is **ambiguous**:
it raises :class:`MtaAmbiguousSendError` at once. The key is still sent on every attempt, so that if Telnyx
does honour it a repeat is answered from its record (``Idempotent-Replayed: true`` -> ``replayed=True``).
GETs are retried on 429, 5xx and network failures by the :class:`RetryPolicy`.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import httpx

from airflow_provider_mta.backends.per_recipient import AsyncPerRecipientClient, PerRecipientBase, PerRecipientClient
from airflow_provider_mta.backends.telnyx.errors import API, error_from_response
from airflow_provider_mta.backends.telnyx.models import TelnyxBalance, TelnyxSent, first_recipient, message_id_of
from airflow_provider_mta.backends.telnyx.statuses import classify
from airflow_provider_mta.core.delivery import DeliveryRecord
from airflow_provider_mta.core.errors import MtaApiError, MtaValidationError
from airflow_provider_mta.core.masking import mask_recipient

DEFAULT_BASE_URL = "https://api.telnyx.com/v2"
MESSAGES_PATH = "/messages"
BALANCE_PATH = "/balance"
IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
IDEMPOTENCY_KEY_RE = re.compile(r"^[A-Za-z0-9_:-]{1,255}$")
"""Telnyx's documented key format: 1 to 255 letters, digits, ``-``, ``_`` or ``:``."""


class _Telnyx(PerRecipientBase[TelnyxSent]):
    """What Telnyx's clients add to the shared per-recipient rule: Bearer auth, its errors and answers."""

    api = API
    default_base_url = DEFAULT_BASE_URL
    key_label = IDEMPOTENCY_HEADER
    id_location = "data.id"

    def _authorization(self) -> str:
        return f"Bearer {self._api_key}"

    def _error(self, response: httpx.Response, what: str) -> MtaApiError:
        return error_from_response(response, what=what)

    def _parse_sent(self, response: httpx.Response, envelope: Any) -> TelnyxSent | None:
        replayed = response.headers.get(REPLAYED_HEADER, "").strip().lower() == "true"
        return TelnyxSent.from_envelope(envelope, replayed=replayed)

    def _recipient_of(self, payload: dict[str, Any]) -> str | None:
        to = payload.get("to")
        return None if to is None else str(to)

    @staticmethod
    def _check_key(idempotency_key: str) -> None:
        if not isinstance(idempotency_key, str) or not IDEMPOTENCY_KEY_RE.match(idempotency_key):
            raise MtaValidationError(
                "idempotency_key must be 1 to 255 letters, digits, '-', '_' or ':' (Telnyx's key format)",
                field="idempotency_key",
            )

    @staticmethod
    def _message_path(message_id: str) -> str:
        if not isinstance(message_id, str) or not message_id.strip():
            raise MtaValidationError("message_id must be a non-empty Telnyx message id", field="message_id")
        return f"{MESSAGES_PATH}/{quote(message_id.strip(), safe='')}"

    @staticmethod
    def _record(envelope: Any, message_id: str) -> DeliveryRecord:
        """``GET /messages/{id}`` as the neutral record: the id as ``outbound_id``, recipient masked."""
        number, status = first_recipient(envelope)
        return DeliveryRecord(
            outbound_id=message_id_of(envelope) or message_id,
            message_id=None,
            recipient=mask_recipient(number) if number is not None else "***",
            status=classify(status),
        )


class TelnyxClient(_Telnyx, PerRecipientClient[TelnyxSent]):
    """Blocking client. Use as a context manager or call :meth:`close`."""

    def create_message(self, payload: dict[str, Any], *, idempotency_key: str) -> TelnyxSent:
        """``POST /messages`` with ``Idempotency-Key``, paced; retried only on 429 and failures to connect.

        Raises :class:`MtaAmbiguousSendError` when the text may have gone out (never retried), the mapped
        :class:`MtaApiError` on a 4xx (:class:`MtaOptedOutError` for a number that texted STOP).
        """
        self._check_key(idempotency_key)
        return self._post_send(
            MESSAGES_PATH, payload, key=idempotency_key, headers={IDEMPOTENCY_HEADER: idempotency_key}
        )

    def get_message(self, message_id: str) -> DeliveryRecord:
        """``GET /messages/{id}`` (Telnyx keeps it 10 days) as a :class:`DeliveryRecord`."""
        return self._record(self._get(self._message_path(message_id)), message_id)

    def get_balance(self) -> TelnyxBalance:
        """``GET /balance``: a cheap authenticated call (the connection's Test button)."""
        return TelnyxBalance.from_envelope(self._get(BALANCE_PATH))


class AsyncTelnyxClient(_Telnyx, AsyncPerRecipientClient[TelnyxSent]):
    """Async twin of :class:`TelnyxClient` (for triggers, async notifiers and async tasks)."""

    async def create_message(self, payload: dict[str, Any], *, idempotency_key: str) -> TelnyxSent:
        """``POST /messages`` (async); the same retry rule as :meth:`TelnyxClient.create_message`."""
        self._check_key(idempotency_key)
        return await self._post_send(
            MESSAGES_PATH, payload, key=idempotency_key, headers={IDEMPOTENCY_HEADER: idempotency_key}
        )

    async def get_message(self, message_id: str) -> DeliveryRecord:
        """``GET /messages/{id}`` (async)."""
        return self._record(await self._get(self._message_path(message_id)), message_id)

    async def get_balance(self) -> TelnyxBalance:
        """``GET /balance`` (async)."""
        return TelnyxBalance.from_envelope(await self._get(BALANCE_PATH))
