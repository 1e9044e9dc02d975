"""What the hooks of APIs that send one recipient per request share (Telnyx, Bird): the send loop and its result.

Each recipient is one request with a deterministic key (a UUID from the send's request id and the
recipient). A failure that may have texted the recipient (:class:`MtaAmbiguousSendError`) is reported in
``unknown`` and never resent; a STOP refusal in ``opted_out``; another refusal of that one recipient in
``failures``; anything else (401, 402, 403, 429 beyond the retry budget...) stops the send.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_mta.hooks.sms import DEFAULT_CONN_ID, ConnectionSettings, SmsHook

if TYPE_CHECKING:
    from airflow_provider_mta.core.delivery import DeliveryRecord
    from airflow_provider_mta.core.outgoing import OutgoingRequest, SendResult


class PerRecipientHook(SmsHook):
    """An :class:`SmsHook` whose API takes one recipient per request and promises no idempotency.

    Subclasses set :attr:`key_namespace` (the UUID namespace of their per-send keys) and :attr:`send_key_arg`
    (the keyword their client's ``create_message`` takes the key as), and implement :meth:`_payloads`,
    ``client`` and :meth:`aget_conn`.
    """

    sends_per_recipient = True
    resend_is_safe = False
    requests_per_check = 100  # one status lookup per pending recipient: a round of a large send spans checks
    key_namespace: ClassVar[uuid.UUID] = uuid.UUID(int=0)
    send_key_arg: ClassVar[str] = "idempotency_key"
    refused_statuses: ClassVar[tuple[int, ...]] = (422,)
    """Error statuses (besides 400) that refuse one recipient: reported in ``failures``, the send goes on."""

    client: Any  # the cached sync client (a cached_property in each subclass)

    def __init__(self, conn_id: str | None = None, *, sms_conn_id: str | None = None, **kwargs: Any) -> None:
        """``conn_id`` positionally, as ``sms_conn_id``, or by the hook's own name (``telnyx_conn_id=``...)."""
        named = kwargs.pop(getattr(self, "conn_name_attr", "sms_conn_id"), None)
        default = getattr(self, "default_conn_name", DEFAULT_CONN_ID)
        super().__init__(sms_conn_id or conn_id or named or default, **kwargs)

    @classmethod
    def message_key(cls, request_id: str, recipient: str) -> str:
        """The key of one recipient's request: the same for every try of the same send."""
        return str(uuid.uuid5(cls.key_namespace, f"{request_id}|{recipient}"))

    def _payloads(
        self, request: OutgoingRequest, *, settings: ConnectionSettings | None = None
    ) -> list[tuple[str, dict[str, Any]]]:
        """Each recipient with the body of its request."""
        raise NotImplementedError

    def send(self, request: OutgoingRequest, *, request_id: str | None = None) -> SendResult:
        """One request per recipient; ambiguous, opted-out and refused ones are reported, not raised."""
        from airflow_provider_mta.core.idempotency import new_request_id

        request_id = request_id or new_request_id()
        outcome = self._outcome(request_id)
        for recipient, payload in self._payloads(request):
            try:
                sent = self.client.create_message(
                    payload, **{self.send_key_arg: self.message_key(request_id, recipient)}
                )
            except Exception as exc:
                outcome.failed(recipient, exc, self.log)
                continue
            outcome.sent(sent)
        return outcome.result()

    async def asend(self, request: OutgoingRequest, *, request_id: str | None = None) -> SendResult:
        """Async twin of :meth:`send`."""
        from airflow_provider_mta.core.idempotency import new_request_id

        request_id = request_id or new_request_id()
        outcome = self._outcome(request_id)
        async with await self.aget_conn() as client:
            settings = await self.asettings()
            for recipient, payload in self._payloads(request, settings=settings):
                key = self.message_key(request_id, recipient)
                try:
                    sent = await client.create_message(payload, **{self.send_key_arg: key})
                except Exception as exc:
                    outcome.failed(recipient, exc, self.log)
                    continue
                outcome.sent(sent)
        return outcome.result()

    def _outcome(self, request_id: str) -> SendOutcome:
        return SendOutcome(request_id, provider=self.provider, api=self.api_name, refused=self.refused_statuses)

    def get_delivery_report(self, outbound_id: int | str) -> DeliveryRecord:
        """The current status of one recipient's message (recipient masked)."""
        record: DeliveryRecord = self.client.get_message(str(outbound_id))
        return record

    async def aget_delivery_report(self, outbound_id: int | str, *, client: Any = None) -> DeliveryRecord:
        """Async twin of :meth:`get_delivery_report`; pass an open ``client`` to reuse it."""
        async with self._async_client(client) as c:
            record: DeliveryRecord = await c.get_message(str(outbound_id))
            return record


class SendOutcome:
    """The result of one send across its recipients."""

    def __init__(self, request_id: str, *, provider: str, api: str, refused: tuple[int, ...] = (422,)) -> None:
        from airflow_provider_mta.core.outgoing import SendResult

        self.api = api
        self.refused = refused
        self._result = SendResult(provider=provider, request_id=request_id)
        self._replayed = 0
        self._parts = 0
        self._cost: float | None = None

    def sent(self, sent: Any) -> None:
        """One accepted request: its message id, and ``replayed``/``parts``/``cost`` when the API gives them."""
        self._result.total_sent += 1
        self._result.outbound_ids.append(sent.id)
        self._replayed += int(bool(getattr(sent, "replayed", False)))
        self._parts += getattr(sent, "parts", None) or 0
        cost = getattr(sent, "cost", None)
        if cost is not None:
            self._cost = (self._cost or 0.0) + cost
            self._result.currency = getattr(sent, "currency", None) or self._result.currency

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
            log.warning("%s: %s may or may not have texted this recipient (%s); not resent", who, self.api, exc)
            self._result.unknown.append(who)
        elif isinstance(exc, MtaOptedOutError):
            log.warning("%s: refused by %s, the number texted STOP; never retried", who, self.api)
            self._result.opted_out.append(who)
        elif (
            isinstance(exc, (MtaBadRequestError, MtaValidationError))
            or getattr(exc, "status_code", None) in self.refused
        ):
            log.warning("%s: refused by %s: %s", who, self.api, exc)
            self._result.failures.append({"recipient": who, "reason": str(exc)[:300]})
        else:
            raise exc

    def _refused(self, exc: Exception) -> bool:
        return getattr(exc, "status_code", None) in self.refused

    def result(self) -> SendResult:
        result = self._result
        result.already_sent = bool(result.total_sent) and self._replayed == result.total_sent
        result.parts = self._parts or None
        result.cost = round(self._cost, 6) if self._cost is not None else None
        return result
