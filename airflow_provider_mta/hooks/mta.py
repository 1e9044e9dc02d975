"""MtaHook: an Airflow connection of type ``mta`` turned into a configured MTA client (sync and async)."""

from __future__ import annotations

import contextlib
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence

    from airflow.sdk import Connection

    from airflow_provider_mta.backends.mta.client import AsyncMtaClient, MtaClient
    from airflow_provider_mta.backends.mta.models import SendRequest, SendResult, VerifyResult
    from airflow_provider_mta.core.delivery import DeliveryPage, DeliveryRecord

DEFAULT_BASE_URL = "https://api.mobile-text-alerts.com/v3"
_LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
_EXTRAS = ("timeout", "max_retries", "send_rate_limit", "default_region", "opt_out_conn_id")


class MtaHook(BaseHook):
    """
    Talk to the Mobile Text Alerts API with the API key of an ``mta`` connection.

    The connection's password is the API key (sent as a Bearer token) and its host the base URL
    (default ``https://api.mobile-text-alerts.com/v3``; the bundled sandbox is ``http://127.0.0.1:8787/v3``).
    Extras: ``timeout``, ``max_retries``, ``send_rate_limit`` (``N/SECONDS``), ``default_region`` and
    ``opt_out_conn_id`` (the SQL connection of the shared opt-out table).

    :param mta_conn_id: The ``mta`` connection to use.
    :param timeout: Seconds to wait for one answer; overrides the connection extra.
    :param max_retries: Retries on 429, 5xx and network errors; overrides the connection extra.
    :param send_rate_limit: Client-side pacing of ``POST /send`` such as ``"25/15"``; ``"0"`` turns it off.
    :param default_region: ISO country code for phone numbers written without ``+``.
    """

    conn_name_attr = "mta_conn_id"
    default_conn_name = "mta_default"
    conn_type = "mta"
    hook_name = "Mobile Text Alerts"

    def __init__(
        self,
        mta_conn_id: str = default_conn_name,
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
        send_rate_limit: str | None = None,
        default_region: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.mta_conn_id = mta_conn_id
        self._overrides = {
            "timeout": timeout,
            "max_retries": max_retries,
            "send_rate_limit": send_rate_limit,
            "default_region": default_region,
            "opt_out_conn_id": None,
        }
        self._region: str | None = None
        self._opt_out_conn_id: str | None = None

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Legacy form customisation (the same data is declared in ``get_provider_info``).

        Airflow 3.1 reads the form only from this method, with snake_case keys (``hidden_fields``,
        ``relabeling``, ``placeholders``); the provider-info declaration uses kebab-case.
        """
        from airflow_provider_mta.get_provider_info import get_provider_info

        behaviour = get_provider_info()["connection-types"][0]["ui-field-behaviour"]
        return {key.replace("-", "_"): value for key, value in behaviour.items()}

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Legacy form widgets for UIs that still render them with WTForms; empty when unavailable."""
        try:
            from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
            from flask_babel import lazy_gettext
            from wtforms import StringField
        except ImportError:
            return {}
        from airflow_provider_mta.get_provider_info import get_provider_info

        fields = get_provider_info()["connection-types"][0]["conn-fields"]
        return {
            name: StringField(
                lazy_gettext(spec["label"]), widget=BS3TextFieldWidget(), description=lazy_gettext(spec["description"])
            )
            for name, spec in fields.items()
        }

    # -- configuration --------------------------------------------------------------------------

    def _options(self, conn: Connection, **overrides: Any) -> dict[str, Any]:
        """Client keyword arguments from a connection, hook arguments winning over extras."""
        from airflow_provider_mta.core.errors import MtaConfigError
        from airflow_provider_mta.core.retry import RetryPolicy

        api_key = (conn.password or "").strip()
        if not api_key:
            raise MtaConfigError(
                f"Connection {self.mta_conn_id!r} has no API key: put the MTA API key in its password field."
            )
        extras = conn.extra_dejson or {}
        settings: dict[str, Any] = {}
        for name in _EXTRAS:
            value = self._overrides[name]
            if value is None:
                value = extras.get(name, extras.get(f"extra__mta__{name}"))
            settings[name] = None if value in (None, "") else value
        settings.update({k: v for k, v in overrides.items() if v is not None})
        options: dict[str, Any] = {"api_key": api_key, "base_url": self._base_url(conn)}
        try:
            if settings["timeout"] is not None:
                options["timeout"] = float(settings["timeout"])
            if settings["max_retries"] is not None:
                options["retry"] = RetryPolicy(max_retries=int(settings["max_retries"]))
        except (TypeError, ValueError):
            raise MtaConfigError(
                f"Connection {self.mta_conn_id!r}: extras timeout/max_retries must be numbers"
            ) from None
        if settings["send_rate_limit"] is not None:
            from airflow_provider_mta.core.pacing import RateLimit

            options["send_rate_limit"] = str(settings["send_rate_limit"])
            try:
                RateLimit.parse(options["send_rate_limit"])
            except MtaConfigError as exc:
                raise MtaConfigError(f"Connection {self.mta_conn_id!r}: send_rate_limit: {exc}") from None
        region = str(settings["default_region"] or "US").strip().upper()
        if region != "US":  # the default needs no check (and no phonenumbers import)
            from airflow_provider_mta.core.phones import is_known_region

            if not is_known_region(region):
                raise MtaConfigError(
                    f"default_region {region!r} (of connection {self.mta_conn_id!r} or the operator) is not a "
                    "country code phonenumbers knows; use an ISO 3166 code such as US, GB or DE"
                )
        self._region = region
        self._opt_out_conn_id = str(settings["opt_out_conn_id"]).strip() if settings["opt_out_conn_id"] else None
        return options

    @staticmethod
    def _base_url(conn: Connection) -> str:
        host = (conn.host or "").strip()
        if not host:
            return DEFAULT_BASE_URL
        if "://" in host:
            return host.rstrip("/")
        scheme = "http" if host.split("/")[0] in _LOOPBACK else "https"
        port = f":{conn.port}" if conn.port else ""
        path = host.partition("/")[2] or (conn.schema or "v3")
        return f"{scheme}://{host.split('/')[0]}{port}/{path.strip('/')}"

    # -- clients --------------------------------------------------------------------------------

    @cached_property
    def client(self) -> MtaClient:
        """The sync client, built once per hook from the connection."""
        from airflow_provider_mta.backends.mta.client import MtaClient

        return MtaClient(**self._options(self.get_connection(self.mta_conn_id)))

    def get_conn(self) -> MtaClient:
        """Return the cached sync :class:`MtaClient`."""
        return self.client

    async def aget_conn(self, **overrides: Any) -> AsyncMtaClient:
        """A new async client (close it, or use ``async with``); the connection is looked up asynchronously."""
        from airflow_provider_mta.backends.mta.client import AsyncMtaClient

        conn = await self.aget_connection(self.mta_conn_id)
        return AsyncMtaClient(**self._options(conn, **overrides))

    # -- API ------------------------------------------------------------------------------------

    def verify_api_key(self) -> VerifyResult:
        """Check the API key with ``GET /auth/verify-api-key``; returns the account's name and email."""
        return self.client.verify_api_key()

    async def averify_api_key(self) -> VerifyResult:
        """Async twin of :meth:`verify_api_key`."""
        async with await self.aget_conn() as client:
            return await client.verify_api_key()

    def send(self, request: SendRequest, *, request_id: str | None = None) -> SendResult:
        """Send a validated :class:`SendRequest` as is (raw ``POST /send``, paced and retried)."""
        self.log.info("Sending %s to MTA (X-Request-Id %s)", _describe(request), request_id or "random")
        return self.client.send(request, request_id=request_id)

    async def asend(self, request: SendRequest, *, request_id: str | None = None) -> SendResult:
        """Async twin of :meth:`send`."""
        self.log.info("Sending %s to MTA (X-Request-Id %s)", _describe(request), request_id or "random")
        async with await self.aget_conn() as client:
            return await client.send(request, request_id=request_id)

    @property
    def region(self) -> str | None:
        """Region for numbers without ``+``: the hook's ``default_region``, else the connection's extra."""
        if self._region is None:
            self.client  # noqa: B018 - reading the connection once sets the default region
        return self._region

    @property
    def opt_out_conn_id(self) -> str | None:
        """The connection extra ``opt_out_conn_id``: the SQL connection of the shared opt-out table."""
        if self._region is None:
            self.client  # noqa: B018 - reading the connection once sets it
        return self._opt_out_conn_id

    def get_send_cost(self, request: SendRequest) -> int:
        """The credits MTA's ``POST /send/cost`` quotes for a request; nothing is sent."""
        return self.client.send_cost(request)

    def build_request(self, **fields: Any) -> SendRequest:
        """Validate ``/send`` fields (snake_case) and normalize phone numbers to E.164.

        Raises :class:`~airflow_provider_mta.core.errors.MtaValidationError` naming the field.
        """
        from airflow_provider_mta.backends.mta.models import SendRequest

        if self._region is None:
            self.client  # noqa: B018 - reading the connection once also sets the default region
        return SendRequest.build(region=self._region, **fields)

    def send_message(self, *, request_id: str | None = None, **fields: Any) -> SendResult:
        """Validate and send, e.g. ``send_message(subscribers=["+13175551111"], message="Hi")``.

        Every recipient's text is checked against MTA's length limit (160 characters as SMS, 1,550 as
        MMS) before the request leaves; :meth:`send` sends a built request as is.

        Returns the parsed result (``message_id``, ``outbound_ids``, ``total_sent``, ``already_sent``).
        """
        from airflow_provider_mta.core.estimate import estimate_send

        request = self.build_request(**fields)
        estimate_send(request, previews=0)  # MTA's length limit, checked before anything is sent
        return self.send(request, request_id=request_id)

    async def asend_message(self, *, request_id: str | None = None, **fields: Any) -> SendResult:
        """Async twin of :meth:`send_message`."""
        from airflow_provider_mta.backends.mta.models import SendRequest
        from airflow_provider_mta.core.estimate import estimate_send

        async with await self.aget_conn() as client:  # one async connection lookup, which sets the region
            request = SendRequest.build(region=self._region, **fields)
            estimate_send(request, previews=0)
            self.log.info("Sending %s to MTA (X-Request-Id %s)", _describe(request), request_id or "random")
            return await client.send(request, request_id=request_id)

    # -- delivery -------------------------------------------------------------------------------

    def get_delivery_report(self, outbound_id: int) -> DeliveryRecord:
        """``GET /sent-messages/{outboundId}/delivery-report``: the current status (recipient masked)."""
        from airflow_provider_mta.backends.mta.deliveries import parse_report, report_path

        return parse_report(self.client.request("GET", report_path(outbound_id)), outbound_id=int(outbound_id))

    async def aget_delivery_report(self, outbound_id: int, *, client: AsyncMtaClient | None = None) -> DeliveryRecord:
        """Async twin of :meth:`get_delivery_report`; pass an open ``client`` to reuse it."""
        from airflow_provider_mta.backends.mta.deliveries import parse_report, report_path

        async with self._async_client(client) as c:
            envelope = await c.request("GET", report_path(outbound_id))
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
        client: AsyncMtaClient | None = None,
    ) -> DeliveryPage:
        """Async twin of :meth:`list_deliveries`; pass an open ``client`` to reuse it."""
        from airflow_provider_mta.backends.mta.deliveries import DELIVERIES_PATH, deliveries_params, parse_page

        params = deliveries_params(message_id=message_id, page=page, page_size=page_size, status=status)
        async with self._async_client(client) as c:
            return parse_page(await c.request("GET", DELIVERIES_PATH, params=params))

    def stopped_recipients(self, *, message_ids: Sequence[str] = (), outbound_ids: Sequence[int] = ()) -> list[str]:
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
            found += stopped_recipients(self.client.request("GET", report_path(outbound_id)))
        return list(dict.fromkeys(found))

    @contextlib.asynccontextmanager
    async def _async_client(self, client: AsyncMtaClient | None) -> AsyncIterator[AsyncMtaClient]:
        if client is not None:
            yield client
            return
        async with await self.aget_conn() as own:
            yield own

    def test_connection(self) -> tuple[bool, str]:
        """Used by the UI's and CLI's "Test": verify the API key once, without retries."""
        from airflow_provider_mta.backends.mta.client import MtaClient
        from airflow_provider_mta.core.errors import MtaError

        try:
            options = self._options(self.get_connection(self.mta_conn_id), max_retries=0)
            with MtaClient(**options) as client:
                account = client.verify_api_key()
        except MtaError as exc:
            return False, str(exc)
        who = " ".join(x for x in (account.name, f"<{account.email}>" if account.email else None) if x)
        return True, f"API key verified for {who or 'this account'} at {options['base_url']}"


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
