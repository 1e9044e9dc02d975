"""TelnyxHook: an Airflow connection of type ``telnyx`` turned into Telnyx's Messaging API backend (sync and async)."""

from __future__ import annotations

import uuid
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_provider_mta.hooks.sms import COMMON_EXTRAS, ConnectionSettings, SmsHook

if TYPE_CHECKING:
    from airflow_provider_mta.backends.telnyx.client import AsyncTelnyxClient, TelnyxClient
    from airflow_provider_mta.backends.telnyx.models import TelnyxSent
    from airflow_provider_mta.backends.telnyx.request import TelnyxRequest
    from airflow_provider_mta.core.delivery import DeliveryRecord
    from airflow_provider_mta.core.outgoing import OutgoingRequest, SendResult

DEFAULT_BASE_URL = "https://api.telnyx.com/v2"
_KEYS = uuid.UUID("6f1c2a52-5d0e-4a8f-9d3e-7c0b9a1e2f30")  # namespace of this provider's Idempotency-Keys


def idempotency_key(request_id: str, recipient: str) -> str:
    """The ``Idempotency-Key`` of one recipient's ``POST /messages``: the same for every try of the same send."""
    return str(uuid.uuid5(_KEYS, f"{request_id}|{recipient}"))


class TelnyxHook(SmsHook):
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
    extra_names = (*COMMON_EXTRAS, "from", "messaging_profile_id")
    sends_per_recipient = True
    resend_is_safe = False

    def __init__(
        self,
        telnyx_conn_id: str | None = None,
        *,
        sms_conn_id: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        send_rate_limit: str | None = None,
        default_region: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            sms_conn_id or telnyx_conn_id or self.default_conn_name,
            timeout=timeout,
            max_retries=max_retries,
            send_rate_limit=send_rate_limit,
            default_region=default_region,
            **kwargs,
        )

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

    def send(self, request: OutgoingRequest, *, request_id: str | None = None) -> SendResult:
        """One ``POST /messages`` per recipient; ambiguous, opted-out and refused ones are reported, not raised."""
        from airflow_provider_mta.core.idempotency import new_request_id

        request_id = request_id or new_request_id()
        outcome = _Outcome(request_id)
        for recipient, payload in self._payloads(request):
            outcome.attempt(recipient)
            try:
                sent = self.client.create_message(payload, idempotency_key=idempotency_key(request_id, recipient))
            except Exception as exc:
                outcome.failed(recipient, exc, self.log)
                continue
            outcome.sent(sent)
        return outcome.result()

    async def asend(self, request: OutgoingRequest, *, request_id: str | None = None) -> SendResult:
        """Async twin of :meth:`send`."""
        from airflow_provider_mta.core.idempotency import new_request_id

        request_id = request_id or new_request_id()
        outcome = _Outcome(request_id)
        async with await self.aget_conn() as client:
            settings = await self.asettings()
            for recipient, payload in self._payloads(request, settings=settings):
                outcome.attempt(recipient)
                try:
                    sent = await client.create_message(payload, idempotency_key=idempotency_key(request_id, recipient))
                except Exception as exc:
                    outcome.failed(recipient, exc, self.log)
                    continue
                outcome.sent(sent)
        return outcome.result()

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

    # -- delivery -------------------------------------------------------------------------------

    def get_delivery_report(self, outbound_id: int | str) -> DeliveryRecord:
        """``GET /messages/{id}``: the current status of one recipient's message (recipient masked)."""
        return self.client.get_message(str(outbound_id))

    async def aget_delivery_report(self, outbound_id: int | str, *, client: Any = None) -> DeliveryRecord:
        """Async twin of :meth:`get_delivery_report`; pass an open ``client`` to reuse it."""
        async with self._async_client(client) as c:
            record: DeliveryRecord = await c.get_message(str(outbound_id))
            return record

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


class _Outcome:
    """The result of one send across its recipients."""

    def __init__(self, request_id: str) -> None:
        from airflow_provider_mta.core.outgoing import SendResult

        self._result = SendResult(provider="telnyx", request_id=request_id)
        self._replayed = 0
        self._parts = 0
        self._cost: float | None = None

    def attempt(self, recipient: str) -> None:
        self._current = recipient

    def sent(self, sent: TelnyxSent) -> None:
        self._result.total_sent += 1
        self._result.outbound_ids.append(sent.id)
        self._replayed += int(sent.replayed)
        self._parts += sent.parts or 0
        if sent.cost is not None:
            self._cost = (self._cost or 0.0) + sent.cost
            self._result.currency = sent.currency or self._result.currency

    def failed(self, recipient: str, exc: Exception, log: Any) -> None:
        """Ambiguous -> unknown; STOP -> opted_out; another 4xx about this recipient -> failures; else raise."""
        from airflow_provider_mta.core.errors import (
            MtaAmbiguousSendError,
            MtaBadRequestError,
            MtaOptedOutError,
            MtaValidationError,
        )
        from airflow_provider_mta.core.masking import mask_recipient

        who = mask_recipient(recipient)
        if isinstance(exc, MtaAmbiguousSendError):
            log.warning("%s: Telnyx may or may not have texted this recipient (%s); not resent", who, exc)
            self._result.unknown.append(who)
        elif isinstance(exc, MtaOptedOutError):
            log.warning("%s: refused by Telnyx, the number texted STOP (40300); never retried", who)
            self._result.opted_out.append(who)
        elif isinstance(exc, (MtaBadRequestError, MtaValidationError)) or getattr(exc, "status_code", None) == 422:
            log.warning("%s: refused by Telnyx: %s", who, exc)
            self._result.failures.append({"recipient": who, "reason": str(exc)[:300]})
        else:
            raise exc

    def result(self) -> SendResult:
        result = self._result
        result.already_sent = bool(result.total_sent) and self._replayed == result.total_sent
        result.parts = self._parts or None
        result.cost = round(self._cost, 6) if self._cost is not None else None
        return result
