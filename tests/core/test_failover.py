"""The failover rule (refused / down / ambiguous) and the circuit breaker, without I/O."""

from __future__ import annotations

import pytest

from airflow_provider_mta.core.errors import (
    MtaAmbiguousSendError,
    MtaApiError,
    MtaBadRequestError,
    MtaConfigError,
    MtaConflictError,
    MtaForbiddenError,
    MtaNotFoundError,
    MtaOptedOutError,
    MtaPaymentRequiredError,
    MtaRateLimitError,
    MtaServerError,
    MtaTransportError,
    MtaUnauthorizedError,
    MtaValidationError,
)
from airflow_provider_mta.core.failover import CircuitBreaker, FailureKind, classify_failure


def api(cls: type[MtaApiError], status: int) -> MtaApiError:
    return cls(status_code=status, message="x")


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (MtaValidationError("subscribers[0]: bad", field="subscribers"), FailureKind.REFUSED),
        (api(MtaBadRequestError, 400), FailureKind.REFUSED),
        (api(MtaApiError, 422), FailureKind.REFUSED),
        (api(MtaConflictError, 409), FailureKind.REFUSED),
        (api(MtaOptedOutError, 403), FailureKind.REFUSED),
        (api(MtaUnauthorizedError, 401), FailureKind.DOWN),
        (api(MtaPaymentRequiredError, 402), FailureKind.DOWN),
        (api(MtaForbiddenError, 403), FailureKind.DOWN),
        (api(MtaNotFoundError, 404), FailureKind.DOWN),
        (api(MtaRateLimitError, 429), FailureKind.DOWN),
        (MtaConfigError("no key"), FailureKind.DOWN),
        (MtaTransportError("refused", maybe_sent=False), FailureKind.DOWN),
        (MtaTransportError("read timeout"), FailureKind.AMBIGUOUS),
        (api(MtaServerError, 503), FailureKind.AMBIGUOUS),
        (MtaAmbiguousSendError("dropped"), FailureKind.AMBIGUOUS),
        (RuntimeError("anything else"), FailureKind.DOWN),
    ],
)
def test_classify_failure(error, kind):
    assert classify_failure(error) is kind


def test_transport_errors_say_whether_the_request_left():
    import httpx

    from airflow_provider_mta.backends.mta.client import MtaClient

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("no answer", request=request)

    from airflow_provider_mta.core.retry import RetryPolicy

    for handler, maybe_sent in ((refuse, False), (hang, True)):
        client = MtaClient(
            api_key="k", base_url="http://mta.test/v3", transport=httpx.MockTransport(handler), retry=RetryPolicy(0)
        )
        with pytest.raises(MtaTransportError) as caught:
            client.verify_api_key()
        assert caught.value.maybe_sent is maybe_sent


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_breaker_skips_a_failed_vendor_for_its_cool_down_then_retries_it():
    clock = Clock()
    breaker = CircuitBreaker(open_for_s=60, clock=clock)
    assert breaker.order(["mta", "telnyx", "bird"]) == ["mta", "telnyx", "bird"]
    breaker.trip("mta")
    assert breaker.is_open("mta") and breaker.order(["mta", "telnyx", "bird"]) == ["telnyx", "bird", "mta"]
    clock.now += 59.9
    assert breaker.is_open("mta")
    clock.now += 0.2
    assert not breaker.is_open("mta") and breaker.order(["mta", "telnyx"]) == ["mta", "telnyx"]


def test_breaker_never_skips_every_vendor_and_reset_closes_at_once():
    clock = Clock()
    breaker = CircuitBreaker(open_for_s=60, clock=clock)
    breaker.trip("mta")
    breaker.trip("telnyx")
    assert breaker.order(["mta", "telnyx"]) == ["mta", "telnyx"]  # all open: all still tried, in order
    breaker.reset("telnyx")
    assert breaker.order(["mta", "telnyx"]) == ["telnyx", "mta"]
