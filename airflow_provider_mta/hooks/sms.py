"""SmsHook: what every SMS API's hook provides, and ``get_sms_hook`` to get the one a connection's type names.

Modelled on common.sql, where generic operators work over whatever ``DbApiHook`` a connection resolves
to: the operators, sensor, trigger and notifier of this package call only the methods below and never
name a vendor. Each backend's hook (``hooks/mta.py``, ``hooks/telnyx.py``, ``hooks/bird.py``) subclasses it.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseHook

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence
    from urllib.parse import SplitResult

    from airflow.sdk import Connection

    from airflow_provider_mta.core.delivery import DeliveryPage, DeliveryRecord
    from airflow_provider_mta.core.outgoing import OutgoingRequest, SendResult

HOOKS_BY_CONN_TYPE = {
    "mta": "airflow_provider_mta.hooks.mta.MtaHook",
    "telnyx": "airflow_provider_mta.hooks.telnyx.TelnyxHook",
    "bird": "airflow_provider_mta.hooks.bird.BirdHook",
}
"""Connection type -> the hook that provides its backend (import path; imported only when used)."""

DEFAULT_CONN_ID = "mta_default"
_LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
COMMON_EXTRAS = (
    "timeout",
    "max_retries",
    "send_rate_limit",
    "default_region",
    "opt_out_conn_id",
    "rate_limit_conn_id",
)
WEBHOOK_EXTRAS = ("webhook_url", "webhook_store_conn_id")
"""Extras of the webhook receiver every connection type has; each type adds the name of its secret."""
_RECEIVER_EXTRAS = (*WEBHOOK_EXTRAS, "webhook_secret", "webhook_public_key")  # read by webhooks/, never the client
SEND_PRIORITIES = ("normal", "page")
"""``send_priority`` of a hook: ``page`` sends may use the slots each rate-limit window keeps for pages."""


@dataclass(frozen=True)
class ConnectionSettings:
    """A connection's settings, parsed once: hook arguments win over extras, extras over defaults."""

    conn_id: str
    api_key: str
    base_url: str
    timeout: float | None
    max_retries: int | None
    send_rate_limit: str | None
    region: str
    opt_out_conn_id: str | None
    extras: dict[str, Any]
    rate_limit_conn_id: str | None = None
    send_priority: str = "normal"

    def client_options(self, **overrides: Any) -> dict[str, Any]:
        """Keyword arguments of a backend's client built from these settings."""
        from airflow_provider_mta.core.retry import RetryPolicy

        options: dict[str, Any] = {"api_key": self.api_key, "base_url": self.base_url}
        if self.timeout is not None:
            options["timeout"] = self.timeout
        max_retries = overrides.pop("max_retries", None)
        max_retries = self.max_retries if max_retries is None else max_retries
        if max_retries is not None:
            options["retry"] = RetryPolicy(max_retries=int(max_retries))
        if self.send_rate_limit is not None:
            options["send_rate_limit"] = self.send_rate_limit
        if self.rate_limit_conn_id:
            from airflow_provider_mta.hooks.rate_limit import SharedLimit

            options["pacer_factory"] = SharedLimit(self.rate_limit_conn_id, self.base_url, self.api_key)
        if self.send_priority == "page":
            options["send_priority"] = True
        options.update({k: v for k, v in overrides.items() if v is not None})
        return options


class SmsHook(BaseHook):
    """The methods operators, the delivery sensor, its trigger and the notifier use, whatever the API.

    Subclasses set ``conn_type``, ``hook_name``, :attr:`provider`, :attr:`default_base_url`,
    :attr:`extra_names` and implement the I/O methods. ``sends_per_recipient`` says one request carries
    one recipient (the batch then checkpoints each one); ``resend_is_safe`` says the API rejects a repeat
    of the same request id, so a request whose answer was lost may be sent again; ``requests_per_check``
    bounds each delivery-sensor check so polling fits the API's general rate limit.
    """

    conn_type: ClassVar[str] = ""
    hook_name: ClassVar[str] = "SMS API"
    api_name: ClassVar[str] = "SMS API"  # short name in messages: "MTA", "Telnyx"
    provider: ClassVar[str] = "sms"
    default_base_url: ClassVar[str] = ""
    default_path: ClassVar[str] = ""
    extra_names: ClassVar[tuple[str, ...]] = COMMON_EXTRAS
    sends_per_recipient: ClassVar[bool] = False
    resend_is_safe: ClassVar[bool] = False
    requests_per_check: ClassVar[int | None] = None
    """The delivery sensor's default request budget per check (None: unbounded)."""
    send_log_level: int = 20  # logging.INFO: the "Sending ..." line of each send; the batch lowers it to DEBUG

    def __init__(
        self,
        sms_conn_id: str = DEFAULT_CONN_ID,
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
        send_rate_limit: str | None = None,
        default_region: str | None = None,
        send_priority: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.sms_conn_id = sms_conn_id
        if send_priority is not None and send_priority not in SEND_PRIORITIES:
            from airflow_provider_mta.core.errors import MtaConfigError

            raise MtaConfigError(f"send_priority {send_priority!r} must be one of {', '.join(SEND_PRIORITIES)}")
        self.send_priority = send_priority or "normal"
        self._overrides: dict[str, Any] = {
            "timeout": timeout,
            "max_retries": max_retries,
            "send_rate_limit": send_rate_limit,
            "default_region": default_region,
        }

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Give each hook its own form methods: Airflow 3.1 reads them only from a class's own ``__dict__``."""
        super().__init_subclass__(**kwargs)
        for name in ("get_ui_field_behaviour", "get_connection_form_widgets"):
            if name not in cls.__dict__:
                setattr(cls, name, classmethod(SmsHook.__dict__[name].__func__))

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Legacy form customisation (the same data is declared in ``get_provider_info``).

        Airflow 3.1 reads the form only from this method, with snake_case keys (``hidden_fields``,
        ``relabeling``, ``placeholders``); the provider-info declaration uses kebab-case.
        """
        behaviour = _declared(cls.conn_type)["ui-field-behaviour"]
        return {key.replace("-", "_"): value for key, value in behaviour.items()}

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Legacy form widgets for UIs that still render them with WTForms; empty when unavailable."""
        try:
            from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, BS3TextFieldWidget
            from flask_babel import lazy_gettext
            from wtforms import PasswordField, StringField
        except ImportError:
            return {}
        fields = _declared(cls.conn_type)["conn-fields"]
        widgets: dict[str, Any] = {}
        for name, spec in fields.items():
            secret = spec["schema"].get("format") == "password"
            field, widget = (PasswordField, BS3PasswordFieldWidget) if secret else (StringField, BS3TextFieldWidget)
            widgets[name] = field(
                lazy_gettext(spec["label"]), widget=widget(), description=lazy_gettext(spec["description"])
            )
        return widgets

    # -- configuration --------------------------------------------------------------------------

    @cached_property
    def settings(self) -> ConnectionSettings:
        """The connection's settings, read once (sync lookup)."""
        return self.parse_settings(self.get_connection(self.sms_conn_id))

    async def asettings(self) -> ConnectionSettings:
        """The connection's settings, looked up asynchronously (triggerer)."""
        if "settings" in self.__dict__:
            return self.settings
        settings = self.parse_settings(await self.aget_connection(self.sms_conn_id))
        self.__dict__["settings"] = settings
        return settings

    def parse_settings(self, conn: Connection) -> ConnectionSettings:
        """Validate a connection into :class:`ConnectionSettings`; errors name the connection and field."""
        from airflow_provider_mta.core.errors import MtaConfigError

        if conn.conn_type and conn.conn_type != self.conn_type:
            raise MtaConfigError(
                f"Connection {self.sms_conn_id!r} is of type {conn.conn_type!r}, not {self.conn_type!r} "
                f"({self.api_name}); use get_sms_hook() to pick the hook of its type"
            )
        api_key = (conn.password or "").strip()
        if not api_key:
            raise MtaConfigError(
                f"Connection {self.sms_conn_id!r} has no API key: "
                f"put the {self.api_name} API key in its password field."
            )
        extras = conn.extra_dejson or {}
        values: dict[str, Any] = {}
        for name in self.extra_names:
            value = self._overrides.get(name)
            if value is None:
                value = extras.get(name)
                if value in (None, ""):
                    value = extras.get(f"extra__{self.conn_type}__{name}")
            values[name] = None if value in (None, "") else value
        try:
            timeout = float(values["timeout"]) if values["timeout"] is not None else None
            max_retries = int(values["max_retries"]) if values["max_retries"] is not None else None
        except (TypeError, ValueError):
            raise MtaConfigError(
                f"Connection {self.sms_conn_id!r}: extras timeout/max_retries must be numbers"
            ) from None
        rate = self.rate_limit_value(values, "send_rate_limit")
        region = str(values["default_region"] or "US").strip().upper()
        if region != "US":  # the default needs no check (and no phonenumbers import)
            from airflow_provider_mta.core.phones import is_known_region

            if not is_known_region(region):
                raise MtaConfigError(
                    f"default_region {region!r} (of connection {self.sms_conn_id!r} or the operator) is not a "
                    "country code phonenumbers knows; use an ISO 3166 code such as US, GB or DE"
                )
        opt_out = str(values["opt_out_conn_id"]).strip() if values["opt_out_conn_id"] else None
        rate_limit_conn_id = str(values["rate_limit_conn_id"]).strip() if values["rate_limit_conn_id"] else None
        settings = ConnectionSettings(
            conn_id=self.sms_conn_id,
            api_key=api_key,
            base_url=self.base_url_of(conn),
            timeout=timeout,
            max_retries=max_retries,
            send_rate_limit=rate,
            region=region,
            opt_out_conn_id=opt_out,
            extras={k: v for k, v in values.items() if k not in COMMON_EXTRAS and k not in _RECEIVER_EXTRAS},
            rate_limit_conn_id=rate_limit_conn_id or None,
            send_priority=self.send_priority,
        )
        self.check_settings(settings)
        return settings

    def rate_limit_value(self, values: dict[str, Any], name: str) -> str | None:
        """The ``N/SECONDS`` value of extra ``name`` (None when not set); a malformed one is an error naming
        the connection and the field."""
        from airflow_provider_mta.core.errors import MtaConfigError
        from airflow_provider_mta.core.pacing import RateLimit

        if values.get(name) is None:
            return None
        rate = str(values[name])
        try:
            RateLimit.parse(rate)
        except MtaConfigError as exc:
            raise MtaConfigError(f"Connection {self.sms_conn_id!r}: {name}: {exc}") from None
        return rate

    def check_settings(self, settings: ConnectionSettings) -> None:
        """Backend-specific checks of a connection (e.g. a sender is required); raise MtaConfigError."""

    @classmethod
    def base_url_of(cls, conn: Connection) -> str:
        """The API's base URL from the Base URL field: ``host``, ``host:port``, ``host/path`` or a full URL.

        A missing scheme becomes ``http`` for a loopback host and ``https`` otherwise; a missing path
        becomes the connection's schema, else :attr:`default_path` (``v3``, ``v2``); a path given is kept;
        the Port field fills in a port the host does not name; no trailing slash.
        """
        from urllib.parse import urlsplit

        field = (conn.host or "").strip()
        if not field:
            return cls.default_base_url
        parts = urlsplit(field if "://" in field else f"//{field}")
        netloc, hostname = parts.netloc, (parts.hostname or "").lower()
        scheme = parts.scheme or ("http" if hostname in _LOOPBACK else "https")
        if conn.port and not _names_port(parts):
            netloc = f"{netloc}:{conn.port}"
        path = parts.path.strip("/") or (conn.schema or cls.default_path).strip("/")
        return f"{scheme}://{netloc}/{path}".rstrip("/")

    @property
    def region(self) -> str:
        """Region for numbers without ``+``: the hook's ``default_region``, else the connection's extra, else US."""
        return self.settings.region

    @property
    def opt_out_conn_id(self) -> str | None:
        """The connection extra ``opt_out_conn_id``: the SQL connection of the shared opt-out table."""
        return self.settings.opt_out_conn_id

    # -- requests -------------------------------------------------------------------------------

    @classmethod
    def request_type(cls) -> type[OutgoingRequest]:
        """The request model of this API (imported when first needed)."""
        raise NotImplementedError

    def build_request(self, **fields: Any) -> OutgoingRequest:
        """Validate send fields (snake_case) and normalize phone numbers to E.164; errors name the field."""
        request: OutgoingRequest = self.request_type().build(region=self.region, **fields)
        return request

    def check_fields(self, names: Sequence[str]) -> None:
        """Refuse, before anything is sent, fields this API's request does not have (naming field and connection)."""
        from airflow_provider_mta.core.errors import MtaValidationError

        known = self.request_type().model_fields
        unknown = [name for name in names if name not in known]
        if unknown:
            raise MtaValidationError(
                f"{unknown[0]}: is not a field of {self.api_name}'s send request (connection {self.sms_conn_id!r} "
                f"is of type {self.conn_type!r}); fields only another API has: {', '.join(unknown)}",
                field=unknown[0],
            )

    def send(self, request: OutgoingRequest, *, request_id: str | None = None) -> SendResult:
        """Send a validated request as is (paced and retried as the API allows)."""
        raise NotImplementedError

    async def asend(self, request: OutgoingRequest, *, request_id: str | None = None) -> SendResult:
        """Async twin of :meth:`send`."""
        raise NotImplementedError

    def send_message(self, *, request_id: str | None = None, **fields: Any) -> SendResult:
        """Validate and send, e.g. ``send_message(subscribers=["+13175551111"], message="Hi")``.

        Every recipient's text is checked against the length limit before the request leaves.
        """
        from airflow_provider_mta.core.estimate import estimate_send

        request = self.build_request(**fields)
        estimate_send(request, previews=0)
        return self.send(request, request_id=request_id)

    async def asend_message(self, *, request_id: str | None = None, **fields: Any) -> SendResult:
        """Async twin of :meth:`send_message` (the connection is looked up asynchronously)."""
        from airflow_provider_mta.core.estimate import estimate_send

        settings = await self.asettings()
        request = self.request_type().build(region=settings.region, **fields)
        estimate_send(request, previews=0)
        return await self.asend(request, request_id=request_id)

    def get_send_cost(self, request: OutgoingRequest) -> int:
        """The credits the API quotes for a request; only APIs with a quote endpoint have it."""
        from airflow_provider_mta.core.errors import MtaConfigError

        raise MtaConfigError(
            f"{self.api_name} has no cost quote before sending (connection {self.sms_conn_id!r}); "
            "verify_cost=True works with mta connections"
        )

    # -- delivery -------------------------------------------------------------------------------

    async def aget_conn(self, **overrides: Any) -> Any:
        """A new async client (close it, or use ``async with``)."""
        raise NotImplementedError

    def get_delivery_report(self, outbound_id: int | str) -> DeliveryRecord:
        """The current status of one recipient's message (recipient masked)."""
        raise NotImplementedError

    async def aget_delivery_report(self, outbound_id: int | str, *, client: Any = None) -> DeliveryRecord:
        """Async twin of :meth:`get_delivery_report`; pass an open ``client`` to reuse it."""
        raise NotImplementedError

    def list_deliveries(
        self, *, message_id: str | None = None, page: int = 1, page_size: int = 1000, status: str | None = None
    ) -> DeliveryPage:
        """One page of the statuses of one send, for APIs that group recipients under a message id."""
        from airflow_provider_mta.core.errors import MtaConfigError

        raise MtaConfigError(f"{self.api_name} does not list deliveries by message id; give outbound ids")

    async def alist_deliveries(
        self,
        *,
        message_id: str | None = None,
        page: int = 1,
        page_size: int = 1000,
        status: str | None = None,
        client: Any = None,
    ) -> DeliveryPage:
        """Async twin of :meth:`list_deliveries`."""
        return self.list_deliveries(message_id=message_id, page=page, page_size=page_size, status=status)

    def stopped_recipients(
        self, *, message_ids: Sequence[str] = (), outbound_ids: Sequence[int | str] = ()
    ) -> list[str]:
        """Recipients the API reported as opted out (STOP) among these sends; full numbers, never log them."""
        return []

    @contextlib.asynccontextmanager
    async def _async_client(self, client: Any) -> AsyncIterator[Any]:
        if client is not None:
            yield client
            return
        async with await self.aget_conn() as own:
            yield own


def _names_port(parts: SplitResult) -> bool:
    """Whether a URL names a port (one that is not a number counts: the URL is then used as typed)."""
    try:
        return parts.port is not None
    except ValueError:
        return True


def _declared(conn_type: str) -> dict[str, Any]:
    """This connection type's entry in ``get_provider_info()["connection-types"]``."""
    from airflow_provider_mta.get_provider_info import get_provider_info

    for entry in get_provider_info()["connection-types"]:
        if entry["connection-type"] == conn_type:
            return dict(entry)
    raise KeyError(conn_type)


def hook_class(conn_type: str, *, conn_id: str) -> type[SmsHook]:
    """The hook class of an SMS connection type; a clear error naming the connection for any other type."""
    import importlib

    from airflow_provider_mta.core.errors import MtaConfigError

    path = HOOKS_BY_CONN_TYPE.get(conn_type or "")
    if path is None:
        raise MtaConfigError(
            f"Connection {conn_id!r} is of type {conn_type!r}, which is no SMS API this provider speaks; "
            f"use a connection of type {', '.join(repr(t) for t in HOOKS_BY_CONN_TYPE)}"
        )
    module, _, name = path.rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    if not (isinstance(cls, type) and issubclass(cls, SmsHook)):  # a registry entry must be an SmsHook
        raise MtaConfigError(f"{path} is not an SmsHook")
    return cls


def get_sms_hook(sms_conn_id: str, **hook_params: Any) -> SmsHook:
    """The hook of the connection's type (``mta`` -> MtaHook, ``telnyx`` -> TelnyxHook, ``bird`` -> BirdHook)."""
    conn = BaseHook.get_connection(sms_conn_id)
    return hook_class(conn.conn_type or "", conn_id=sms_conn_id)(sms_conn_id, **hook_params)


def resolve_conn_id(*, sms_conn_id: str | None, mta_conn_id: str | None, owner: str) -> str:
    """``sms_conn_id``, or the older ``mta_conn_id`` (the same thing); both given and different is an error."""
    from airflow_provider_mta.core.errors import MtaConfigError

    if sms_conn_id and mta_conn_id and sms_conn_id != mta_conn_id:
        raise MtaConfigError(
            f"{owner}: sms_conn_id={sms_conn_id!r} and mta_conn_id={mta_conn_id!r} name different connections; "
            "give sms_conn_id only (mta_conn_id is its older name)"
        )
    return sms_conn_id or mta_conn_id or DEFAULT_CONN_ID
