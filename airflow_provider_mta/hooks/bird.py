"""BirdHook: an Airflow connection of type ``bird`` turned into Bird's Channels API backend (sync and async)."""

from __future__ import annotations

import uuid
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_provider_mta.hooks.per_recipient import PerRecipientHook
from airflow_provider_mta.hooks.sms import COMMON_EXTRAS, WEBHOOK_EXTRAS, ConnectionSettings

if TYPE_CHECKING:
    from airflow_provider_mta.backends.bird.client import AsyncBirdClient, BirdClient
    from airflow_provider_mta.backends.bird.request import BirdRequest
    from airflow_provider_mta.core.outgoing import OutgoingRequest

DEFAULT_BASE_URL = "https://api.bird.com"
_REFERENCES = uuid.UUID("b14d0c1e-3a5f-4e7b-9c2d-8f6a1e0b5d47")  # namespace of this provider's Bird references
REQUIRED_EXTRAS = ("workspace_id", "channel_id")


def message_reference(request_id: str, recipient: str) -> str:
    """The ``reference`` of one recipient's message: the same for every try of the same send (a UUID)."""
    return BirdHook.message_key(request_id, recipient)


class BirdHook(PerRecipientHook):
    """
    Send through Bird's Channels API (an SMS channel) with the access key of a ``bird`` connection.

    The password is the access key (sent as ``Authorization: AccessKey ...``); the host is the base URL
    (default ``https://api.bird.com``; a loopback ``host:port`` such as the sandbox's gets ``http://``).
    Extras: ``workspace_id`` and ``channel_id`` (both required), ``timeout``, ``max_retries``,
    ``send_rate_limit``, ``default_region``, ``opt_out_conn_id``.

    One request carries one recipient, so each text is rendered here from the recipient's properties. Each
    message carries a deterministic ``reference`` (a UUID from the send's request id and the recipient).
    Bird documents no idempotency, so a send whose answer is lost (a timeout, a dropped connection, a 5xx)
    is never resent: that recipient is reported in ``unknown``. A 400/422/409 refusing one recipient is
    reported in ``failures``; the rest of the send goes on.

    Webhooks have no ``register_webhook`` here: a Bird webhook subscription is created in Bird's dashboard
    (its Notifications API is not imitated by the sandbox). Put its signing key in the receiving connection's
    extra ``webhook_secret``, and, behind a proxy, the public URL Bird calls in ``webhook_url``
    (``webhooks/receive.py``).

    :param bird_conn_id: The ``bird`` connection to use (``sms_conn_id`` is the same thing).
    """

    conn_name_attr = "bird_conn_id"
    default_conn_name = "bird_default"
    conn_type = "bird"
    hook_name = "Bird"
    api_name = "Bird"
    provider = "bird"
    default_base_url = DEFAULT_BASE_URL
    default_path = ""
    extra_names = (*COMMON_EXTRAS, *REQUIRED_EXTRAS, "webhook_secret", *WEBHOOK_EXTRAS)
    sends_per_recipient = True
    resend_is_safe = False
    key_namespace = _REFERENCES
    send_key_arg = "reference"
    refused_statuses = (409, 422)

    @property
    def bird_conn_id(self) -> str:
        return self.sms_conn_id

    def check_settings(self, settings: ConnectionSettings) -> None:
        """Both ``workspace_id`` and ``channel_id`` are required (checked before anything is sent)."""
        from airflow_provider_mta.core.errors import MtaConfigError

        for name in REQUIRED_EXTRAS:
            if not str(settings.extras.get(name) or "").strip():
                raise MtaConfigError(
                    f"Connection {self.sms_conn_id!r} (Bird) has no {name}: set its extra {name!r} "
                    "(the ids are in Bird's dashboard, and in the URL of the channel's page)"
                )

    def _client_options(self, settings: ConnectionSettings, **overrides: Any) -> dict[str, Any]:
        ids = {name: str(settings.extras[name]).strip() for name in REQUIRED_EXTRAS}
        return settings.client_options(**ids, **overrides)

    # -- clients --------------------------------------------------------------------------------

    @cached_property
    def client(self) -> BirdClient:
        """The sync client, built once per hook from the connection."""
        from airflow_provider_mta.backends.bird.client import BirdClient

        return BirdClient(**self._client_options(self.settings))

    def get_conn(self) -> BirdClient:
        """Return the cached sync :class:`BirdClient`."""
        return self.client

    async def aget_conn(self, **overrides: Any) -> AsyncBirdClient:
        """A new async client (close it, or use ``async with``); the connection is looked up asynchronously."""
        from airflow_provider_mta.backends.bird.client import AsyncBirdClient

        return AsyncBirdClient(**self._client_options(await self.asettings(), **overrides))

    # -- sending --------------------------------------------------------------------------------

    @classmethod
    def request_type(cls) -> type[BirdRequest]:
        from airflow_provider_mta.backends.bird.request import BirdRequest

        return BirdRequest

    def _payloads(
        self, request: OutgoingRequest, *, settings: ConnectionSettings | None = None
    ) -> list[tuple[str, dict[str, Any]]]:
        from airflow_provider_mta.backends.bird.request import BirdRequest
        from airflow_provider_mta.core.errors import MtaConfigError

        if not isinstance(request, BirdRequest):
            raise MtaConfigError(f"BirdHook sends a BirdRequest, got {type(request).__name__}")
        return request.payloads()

    def test_connection(self) -> tuple[bool, str]:
        """Used by the UI's and CLI's "Test": ``GET`` the channel once, without retries (nothing is sent)."""
        from airflow_provider_mta.backends.bird.client import BirdClient
        from airflow_provider_mta.core.errors import MtaError

        base_url = channel_id = "?"
        try:
            options = self._client_options(self.settings, max_retries=0)
            base_url, channel_id = options["base_url"], options["channel_id"]
            with BirdClient(**options) as client:
                channel = client.get_channel()
        except MtaError as exc:
            return False, f"Bird channel {channel_id} at {base_url}: {exc}"
        name = f" {channel.name!r}" if channel.name else ""
        state = f", {channel.status}" if channel.status else ""
        return True, f"Bird access key accepted: channel{name} ({channel.id or channel_id}{state}) at {base_url}"
