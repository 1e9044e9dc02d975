"""MtaHook: an Airflow connection of type ``mta`` turned into a configured MTA client (sync and async)."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_provider_mta.hooks.sms import COMMON_EXTRAS, WEBHOOK_EXTRAS, SmsHook

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow_provider_mta.backends.mta.client import AsyncMtaClient, MtaClient
    from airflow_provider_mta.backends.mta.models import SendRequest, SendResult, VerifyResult
    from airflow_provider_mta.core.delivery import DeliveryPage, DeliveryRecord
    from airflow_provider_mta.core.outgoing import OutgoingRequest
    from airflow_provider_mta.hooks.sms import ConnectionSettings

DEFAULT_BASE_URL = "https://api.mobile-text-alerts.com/v3"


class MtaHook(SmsHook):
    """
    Talk to the Mobile Text Alerts API with the API key of an ``mta`` connection.

    The connection's password is the API key (sent as a Bearer token) and its host the base URL
    (default ``https://api.mobile-text-alerts.com/v3``; the bundled sandbox is ``http://127.0.0.1:8787/v3``).
    Extras: ``timeout``, ``max_retries``, ``send_rate_limit`` (``N/SECONDS``), ``general_rate_limit``
    (``N/SECONDS``, every request but ``POST /send``), ``default_region``, ``opt_out_conn_id`` (the SQL
    connection of the shared opt-out table) and ``rate_limit_conn_id`` (a Redis connection sharing both
    limits between workers).

    :param mta_conn_id: The ``mta`` connection to use (``sms_conn_id`` is the same thing).
    :param timeout: Seconds to wait for one answer; overrides the connection extra.
    :param max_retries: Retries on 429, 5xx and network errors; overrides the connection extra.
    :param send_rate_limit: Client-side pacing of ``POST /send`` such as ``"25/15"``; ``"0"`` turns it off.
    :param general_rate_limit: Client-side pacing of every other request (default ``"30/60"``, MTA's general
        limit); ``"0"`` turns it off.
    :param default_region: ISO country code for phone numbers written without ``+``.
    """

    conn_name_attr = "mta_conn_id"
    default_conn_name = "mta_default"
    conn_type = "mta"
    hook_name = "Mobile Text Alerts"
    api_name = "MTA"
    provider = "mta"
    default_base_url = DEFAULT_BASE_URL
    default_path = "v3"
    resend_is_safe = True  # MTA answers 409 to a repeated X-Request-Id (docs/assumptions.md)
    requests_per_check = 10  # 20 a minute at the default 30 s interval, under MTA's general 30 a minute
    extra_names = (*COMMON_EXTRAS, "general_rate_limit", "webhook_secret", *WEBHOOK_EXTRAS)

    def __init__(
        self,
        mta_conn_id: str | None = None,
        *,
        sms_conn_id: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        send_rate_limit: str | None = None,
        general_rate_limit: str | None = None,
        default_region: str | None = None,
        **kwargs: Any,
    ) -> None:
        from airflow_provider_mta.hooks.sms import resolve_conn_id

        conn_id = resolve_conn_id(sms_conn_id=sms_conn_id, mta_conn_id=mta_conn_id, owner="MtaHook")
        super().__init__(
            conn_id,
            timeout=timeout,
            max_retries=max_retries,
            send_rate_limit=send_rate_limit,
            default_region=default_region,
            **kwargs,
        )
        self._overrides["general_rate_limit"] = general_rate_limit

    @property
    def mta_conn_id(self) -> str:
        """The connection id (the older name of ``sms_conn_id``)."""
        return self.sms_conn_id

    def check_settings(self, settings: ConnectionSettings) -> None:
        """``general_rate_limit`` is ``N/SECONDS`` or ``0`` (an error names the connection and the field)."""
        self.rate_limit_value(settings.extras, "general_rate_limit")

    # -- clients --------------------------------------------------------------------------------

    def _client_options(self, settings: ConnectionSettings, **overrides: Any) -> dict[str, Any]:
        """The client's keyword arguments: the common ones and ``general_rate_limit``."""
        general = settings.extras.get("general_rate_limit")
        overrides.setdefault("general_rate_limit", None if general is None else str(general))
        return settings.client_options(**overrides)

    @cached_property
    def client(self) -> MtaClient:
        """The sync client, built once per hook from the connection."""
        from airflow_provider_mta.backends.mta.client import MtaClient

        return MtaClient(**self._client_options(self.settings))

    def get_conn(self) -> MtaClient:
        """Return the cached sync :class:`MtaClient`."""
        return self.client

    async def aget_conn(self, **overrides: Any) -> AsyncMtaClient:
        """A new async client (close it, or use ``async with``); the connection is looked up asynchronously."""
        from airflow_provider_mta.backends.mta.client import AsyncMtaClient

        settings = await self.asettings()
        return AsyncMtaClient(**self._client_options(settings, **overrides))

    # -- API ------------------------------------------------------------------------------------

    def verify_api_key(self) -> VerifyResult:
        """Check the API key with ``GET /auth/verify-api-key``; returns the account's name and email."""
        return self.client.verify_api_key()

    async def averify_api_key(self) -> VerifyResult:
        """Async twin of :meth:`verify_api_key`."""
        async with await self.aget_conn() as client:
            return await client.verify_api_key()

    @classmethod
    def request_type(cls) -> type[SendRequest]:
        from airflow_provider_mta.backends.mta.models import SendRequest

        return SendRequest

    def send(self, request: OutgoingRequest, *, request_id: str | None = None) -> SendResult:
        """Send a validated :class:`SendRequest` as is (raw ``POST /send``, paced and retried)."""
        mta_request = _as_mta(request)
        self.log.log(
            self.send_log_level, "Sending %s to MTA (X-Request-Id %s)", _describe(mta_request), request_id or "random"
        )
        return self.client.send(mta_request, request_id=request_id)

    async def asend(self, request: OutgoingRequest, *, request_id: str | None = None) -> SendResult:
        """Async twin of :meth:`send`."""
        mta_request = _as_mta(request)
        self.log.log(
            self.send_log_level, "Sending %s to MTA (X-Request-Id %s)", _describe(mta_request), request_id or "random"
        )
        async with await self.aget_conn() as client:
            return await client.send(mta_request, request_id=request_id)

    def get_send_cost(self, request: OutgoingRequest) -> int:
        """The credits MTA's ``POST /send/cost`` quotes for a request; nothing is sent."""
        return self.client.send_cost(_as_mta(request))

    # -- delivery -------------------------------------------------------------------------------

    def get_delivery_report(self, outbound_id: int | str) -> DeliveryRecord:
        """``GET /sent-messages/{outboundId}/delivery-report``: the current status (recipient masked)."""
        from airflow_provider_mta.backends.mta.deliveries import parse_report, report_path

        return parse_report(self.client.request("GET", report_path(int(outbound_id))), outbound_id=int(outbound_id))

    async def aget_delivery_report(self, outbound_id: int | str, *, client: Any = None) -> DeliveryRecord:
        """Async twin of :meth:`get_delivery_report`; pass an open ``client`` to reuse it."""
        from airflow_provider_mta.backends.mta.deliveries import parse_report, report_path

        async with self._async_client(client) as c:
            envelope = await c.request("GET", report_path(int(outbound_id)))
        return parse_report(envelope, outbound_id=int(outbound_id))

    def list_deliveries(
        self, *, message_id: str | None = None, page: int = 1, page_size: int = 1000, status: str | None = None
    ) -> DeliveryPage:
        """One page of ``GET /deliveries`` (latest status per recipient message), optionally of one send."""
        from airflow_provider_mta.backends.mta.deliveries import DELIVERIES_PATH, deliveries_params, parse_page

        params = deliveries_params(message_id=message_id, page=page, page_size=page_size, status=status)
        return parse_page(self.client.request("GET", DELIVERIES_PATH, params=params))

    async def alist_deliveries(
        self,
        *,
        message_id: str | None = None,
        page: int = 1,
        page_size: int = 1000,
        status: str | None = None,
        client: Any = None,
    ) -> DeliveryPage:
        """Async twin of :meth:`list_deliveries`; pass an open ``client`` to reuse it."""
        from airflow_provider_mta.backends.mta.deliveries import DELIVERIES_PATH, deliveries_params, parse_page

        params = deliveries_params(message_id=message_id, page=page, page_size=page_size, status=status)
        async with self._async_client(client) as c:
            return parse_page(await c.request("GET", DELIVERIES_PATH, params=params))

    def stopped_recipients(
        self, *, message_ids: Sequence[str] = (), outbound_ids: Sequence[int | str] = ()
    ) -> list[str]:
        """Recipients MTA reported as 11 STOPPED_NUMBER among these sends (full numbers: never log them).

        Pages ``GET /deliveries`` of each message id (``filters[status]=undeliverable``), and reads the
        delivery report of each outbound id given.
        """
        from airflow_provider_mta.backends.mta.deliveries import (
            DELIVERIES_PATH,
            deliveries_params,
            parse_page,
            report_path,
            stopped_recipients,
        )
        from airflow_provider_mta.core.delivery import MAX_PAGE_SIZE

        found: list[str] = []
        for message_id in message_ids:
            for page in range(1, 101):
                params = deliveries_params(
                    message_id=message_id, page=page, page_size=MAX_PAGE_SIZE, status="undeliverable"
                )
                envelope = self.client.request("GET", DELIVERIES_PATH, params=params)
                found += stopped_recipients(envelope)
                listed = parse_page(envelope)
                if len(listed.records) < MAX_PAGE_SIZE or (
                    listed.total is not None and page * MAX_PAGE_SIZE >= listed.total
                ):
                    break
        for outbound_id in outbound_ids:
            found += stopped_recipients(self.client.request("GET", report_path(int(outbound_id))))
        return list(dict.fromkeys(found))

    # -- webhooks -------------------------------------------------------------------------------

    def register_webhook(self, *, event: str, url: str, secret: str) -> dict[str, Any]:
        """``POST /webhooks``: MTA will post ``event`` to ``url``, signed with ``secret`` (give the receiving
        connection the same value in its extra ``webhook_secret``). Returns MTA's ``data`` (``id``...).

        ``event`` (``delivery-status``, ``message-reply``, ``message-send``, ``number-opt-in``) is checked before
        any request; the secret never reaches a log or an error (an echo of it reads ``***``).
        """
        from airflow_provider_mta.backends.mta import webhook_registration as reg

        payload = reg.webhook_payload(event=event, url=url, secret=secret)
        self.log.info("Registering an MTA %s webhook to %s", event, reg.shown_url(url))
        envelope = self.client.request("POST", reg.WEBHOOKS_PATH, json_body=payload, secrets=reg.secret_forms(secret))
        return reg.parse_webhook(envelope)

    async def aregister_webhook(self, *, event: str, url: str, secret: str, client: Any = None) -> dict[str, Any]:
        """Async twin of :meth:`register_webhook`; pass an open ``client`` to reuse it."""
        from airflow_provider_mta.backends.mta import webhook_registration as reg

        payload = reg.webhook_payload(event=event, url=url, secret=secret)
        self.log.info("Registering an MTA %s webhook to %s", event, reg.shown_url(url))
        async with self._async_client(client) as c:
            envelope = await c.request("POST", reg.WEBHOOKS_PATH, json_body=payload, secrets=reg.secret_forms(secret))
        return reg.parse_webhook(envelope)

    def list_webhooks(self) -> list[dict[str, Any]]:
        """``GET /webhooks``: the registered webhooks (``id``, ``event``, ``url``...; never a secret)."""
        from airflow_provider_mta.backends.mta import webhook_registration as reg

        return reg.parse_webhooks(self.client.request("GET", reg.WEBHOOKS_PATH))

    async def alist_webhooks(self, *, client: Any = None) -> list[dict[str, Any]]:
        """Async twin of :meth:`list_webhooks`; pass an open ``client`` to reuse it."""
        from airflow_provider_mta.backends.mta import webhook_registration as reg

        async with self._async_client(client) as c:
            return reg.parse_webhooks(await c.request("GET", reg.WEBHOOKS_PATH))

    def test_connection(self) -> tuple[bool, str]:
        """Used by the UI's and CLI's "Test": verify the API key once, without retries."""
        from airflow_provider_mta.backends.mta.client import MtaClient
        from airflow_provider_mta.core.errors import MtaError

        try:
            options = self._client_options(self.settings, max_retries=0)
            with MtaClient(**options) as client:
                account = client.verify_api_key()
        except MtaError as exc:
            return False, str(exc)
        who = " ".join(x for x in (account.name, f"<{account.email}>" if account.email else None) if x)
        return True, f"API key verified for {who or 'this account'} at {options['base_url']}"


def _as_mta(request: OutgoingRequest) -> SendRequest:
    """An MTA request; a request of another API's type is an error, not a silent conversion."""
    from airflow_provider_mta.backends.mta.models import SendRequest

    if not isinstance(request, SendRequest):
        from airflow_provider_mta.core.errors import MtaConfigError

        raise MtaConfigError(f"MtaHook sends an MTA SendRequest, got {type(request).__name__}")
    return request


def _describe(request: SendRequest) -> str:
    from airflow_provider_mta.core.masking import mask_recipient

    if request.subscribers:
        shown = ", ".join(mask_recipient(s) for s in request.subscribers[:3])
        more = f" and {len(request.subscribers) - 3} more" if len(request.subscribers) > 3 else ""
        return f"a message to {len(request.subscribers)} recipient(s) ({shown}{more})"
    for name in ("subscriber_ids", "groups"):
        if getattr(request, name):
            return f"a message to {name} {getattr(request, name)}"
    return "a message to all subscribers" if request.all_subscribers else f"a reply in thread {request.thread_id}"
