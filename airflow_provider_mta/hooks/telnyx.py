"""TelnyxHook: an Airflow connection of type ``telnyx`` turned into Telnyx's Messaging API backend (sync and async)."""

from __future__ import annotations

import uuid
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_provider_mta.hooks.per_recipient import PerRecipientHook
from airflow_provider_mta.hooks.sms import COMMON_EXTRAS, WEBHOOK_EXTRAS, ConnectionSettings

if TYPE_CHECKING:
    from airflow_provider_mta.backends.telnyx.client import AsyncTelnyxClient, TelnyxClient
    from airflow_provider_mta.backends.telnyx.request import TelnyxRequest
    from airflow_provider_mta.core.outgoing import OutgoingRequest

DEFAULT_BASE_URL = "https://api.telnyx.com/v2"
_KEYS = uuid.UUID("6f1c2a52-5d0e-4a8f-9d3e-7c0b9a1e2f30")  # namespace of this provider's Idempotency-Keys


def idempotency_key(request_id: str, recipient: str) -> str:
    """The ``Idempotency-Key`` of one recipient's ``POST /messages``: the same for every try of the same send."""
    return TelnyxHook.message_key(request_id, recipient)


class TelnyxHook(PerRecipientHook):
    """
    Send through Telnyx's Messaging API (``POST /v2/messages``) with the API key of a ``telnyx`` connection.

    The password is the API key (sent as a Bearer token); the host is the base URL (default
    ``https://api.telnyx.com/v2``; the bundled sandbox answers at ``http://127.0.0.1:8787/v2``). Extras:
    ``from`` (the sender number or alphanumeric sender id) and/or ``messaging_profile_id`` (one is
    required), ``timeout``, ``max_retries``, ``send_rate_limit``, ``default_region``, ``opt_out_conn_id``.

    One request carries one recipient, so each text is rendered here from the recipient's properties.
    Every request has a deterministic ``Idempotency-Key``. Telnyx's reference does not say
    ``/messages`` honours it, so a send whose answer is lost (a timeout, a dropped connection, a 5xx)
    is never resent: that recipient is reported in ``unknown``. A number that texted STOP (Telnyx
    error 40300) is reported in ``opted_out`` and never retried.

    Webhooks have no ``register_webhook`` here: Telnyx posts to the messaging profile's ``webhook_url``, set in
    the Telnyx portal (or ``PATCH /v2/messaging_profiles/{id}``, which the sandbox does not serve). The
    receiving connection's extra ``webhook_public_key`` is the portal's public key (``webhooks/receive.py``).

    :param telnyx_conn_id: The ``telnyx`` connection to use (``sms_conn_id`` is the same thing).
    """

    conn_name_attr = "telnyx_conn_id"
    default_conn_name = "telnyx_default"
    conn_type = "telnyx"
    hook_name = "Telnyx"
    api_name = "Telnyx"
    provider = "telnyx"
    default_base_url = DEFAULT_BASE_URL
    default_path = "v2"
    extra_names = (*COMMON_EXTRAS, "from", "messaging_profile_id", "webhook_public_key", *WEBHOOK_EXTRAS)
    sends_per_recipient = True
    resend_is_safe = False
    key_namespace = _KEYS
    send_key_arg = "idempotency_key"

    @property
    def telnyx_conn_id(self) -> str:
        return self.sms_conn_id

    def check_settings(self, settings: ConnectionSettings) -> None:
        """A sender is required: the ``from`` extra, a ``messaging_profile_id``, or both."""
        from airflow_provider_mta.core.errors import MtaConfigError

        if not (settings.extras.get("from") or settings.extras.get("messaging_profile_id")):
            raise MtaConfigError(
                f"Connection {self.sms_conn_id!r} (Telnyx) names no sender: set its extra 'from' (a Telnyx number "
                "in E.164, or an alphanumeric sender id) or 'messaging_profile_id'"
            )

    # -- clients --------------------------------------------------------------------------------

    @cached_property
    def client(self) -> TelnyxClient:
        """The sync client, built once per hook from the connection."""
        from airflow_provider_mta.backends.telnyx.client import TelnyxClient

        return TelnyxClient(**self.settings.client_options())

    def get_conn(self) -> TelnyxClient:
        """Return the cached sync :class:`TelnyxClient`."""
        return self.client

    async def aget_conn(self, **overrides: Any) -> AsyncTelnyxClient:
        """A new async client (close it, or use ``async with``); the connection is looked up asynchronously."""
        from airflow_provider_mta.backends.telnyx.client import AsyncTelnyxClient

        settings = await self.asettings()
        return AsyncTelnyxClient(**settings.client_options(**overrides))

    # -- sending --------------------------------------------------------------------------------

    @classmethod
    def request_type(cls) -> type[TelnyxRequest]:
        from airflow_provider_mta.backends.telnyx.request import TelnyxRequest

        return TelnyxRequest

    def _payloads(
        self, request: OutgoingRequest, *, settings: ConnectionSettings | None = None
    ) -> list[tuple[str, dict[str, Any]]]:
        from airflow_provider_mta.backends.telnyx.request import TelnyxRequest
        from airflow_provider_mta.core.errors import MtaConfigError

        if not isinstance(request, TelnyxRequest):
            raise MtaConfigError(f"TelnyxHook sends a TelnyxRequest, got {type(request).__name__}")
        settings = settings or self.settings
        return request.payloads(
            sender=settings.extras.get("from"), messaging_profile_id=settings.extras.get("messaging_profile_id")
        )

    def test_connection(self) -> tuple[bool, str]:
        """Used by the UI's and CLI's "Test": ``GET /balance`` once, without retries (nothing is sent)."""
        from airflow_provider_mta.backends.telnyx.client import TelnyxClient
        from airflow_provider_mta.core.errors import MtaError

        try:
            options = self.settings.client_options(max_retries=0)
            with TelnyxClient(**options) as client:
                balance = client.get_balance()
        except MtaError as exc:
            return False, str(exc)
        shown = f" (balance {balance.balance} {balance.currency or ''})".rstrip() if balance.balance else ""
        return True, f"Telnyx API key accepted at {options['base_url']}{shown}"
