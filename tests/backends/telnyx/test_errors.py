"""Telnyx's error bodies mapped onto the provider's errors: classes by status, text, masking, secrecy."""

from __future__ import annotations

import httpx
import pytest

from airflow_provider_mta.backends.telnyx.errors import error_from_response
from airflow_provider_mta.core.errors import (
    MtaApiError,
    MtaBadRequestError,
    MtaConflictError,
    MtaForbiddenError,
    MtaNotFoundError,
    MtaOptedOutError,
    MtaPaymentRequiredError,
    MtaRateLimitError,
    MtaServerError,
    MtaUnauthorizedError,
)
from airflow_provider_mta.core.retry import is_retryable

KEY = "KEY0123456789abcdefSECRET"
NUMBER = "+13175551111"


def answer(status: int, body: object = None, *, text: str | None = None, **headers: str) -> httpx.Response:
    request = httpx.Request("POST", "https://api.telnyx.test/v2/messages", headers={"Authorization": f"Bearer {KEY}"})
    if text is not None:
        return httpx.Response(status, text=text, headers=headers, request=request)
    return httpx.Response(status, json=body, headers=headers, request=request)


def telnyx(code: str, title: str, detail: str = "", pointer: str | None = None) -> dict[str, object]:
    error: dict[str, object] = {"code": code, "title": title, "detail": detail}
    if pointer:
        error["source"] = {"pointer": pointer}
    return {"errors": [error]}


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, MtaBadRequestError),
        (401, MtaUnauthorizedError),
        (402, MtaPaymentRequiredError),
        (403, MtaForbiddenError),
        (404, MtaNotFoundError),
        (422, MtaApiError),
        (429, MtaRateLimitError),
        (500, MtaServerError),
        (503, MtaServerError),
    ],
)
def test_classes_follow_the_http_status(status, cls):
    error = error_from_response(answer(status, telnyx("10001", "Whatever")), what="POST /messages")
    assert type(error) is cls
    assert error.status_code == status
    assert error.api == "Telnyx"


def test_text_names_the_api_call_code_title_detail_and_pointer():
    body = telnyx("40310", "Invalid 'to' address", "The 'to' address should be in E.164 format.", "/to")
    error = error_from_response(answer(422, body, **{"x-request-id": "req-9"}), what="POST /messages")
    text = str(error)
    assert text.startswith("Telnyx answered HTTP 422 (Invalid 'to' address): POST /messages: code 40310")
    assert "The 'to' address should be in E.164 format." in text
    assert "(at /to)" in text
    assert "requestId=req-9" in text
    assert error.error_type == "40310"
    assert error.name == "Invalid 'to' address"


def test_a_409_is_not_mtas_already_sent_conflict():
    error = error_from_response(answer(409, telnyx("10015", "Conflict")), what="POST /messages")
    assert type(error) is MtaApiError
    assert not isinstance(error, MtaConflictError)


def test_stop_blocked_is_opted_out_a_forbidden_that_is_never_retried():
    body = telnyx("40300", "Blocked due to STOP message", f"Messages to {NUMBER} are blocked.", "/to")
    error = error_from_response(answer(403, body), what="POST /messages")
    assert isinstance(error, MtaOptedOutError)
    assert isinstance(error, MtaForbiddenError)
    assert not is_retryable(error)
    assert NUMBER not in str(error)
    assert "***1111" in str(error)


def test_another_403_is_forbidden_but_not_opted_out():
    error = error_from_response(answer(403, telnyx("10010", "Forbidden")), what="GET /balance")
    assert type(error) is MtaForbiddenError


def test_rate_limit_reads_retry_after_first():
    response = answer(429, telnyx("10011", "Too many requests"), **{"retry-after": "7", "x-ratelimit-reset": "3"})
    error = error_from_response(response, what="POST /messages")
    assert isinstance(error, MtaRateLimitError)
    assert error.retry_after == 7.0
    assert "code 10011" in str(error)


def test_rate_limit_falls_back_to_x_ratelimit_reset_seconds():
    error = error_from_response(
        answer(429, telnyx("10011", "Too many requests"), **{"x-ratelimit-reset": "3"}), what="POST /messages"
    )
    assert error.retry_after == 3.0


def test_rate_limit_without_headers_has_no_retry_after():
    error = error_from_response(answer(429, telnyx("10011", "Too many requests")), what="POST /messages")
    assert error.retry_after is None


def test_phone_numbers_are_masked_with_or_without_plus():
    body = {
        "errors": [
            {"code": "40001", "title": f"Not routable: {NUMBER}", "detail": "from 18445550001 to +4915112345678"}
        ]
    }
    text = str(error_from_response(answer(400, body), what="POST /messages"))
    for full in (NUMBER, "13175551111", "18445550001", "4915112345678"):
        assert full not in text
    assert "***1111" in text and "***0001" in text and "***5678" in text


def test_a_uuid_is_not_mistaken_for_a_number():
    body = telnyx("10005", "Resource not found", "message b448f9cc-a842-4784-98e9-036694578950 not found")
    text = str(error_from_response(answer(404, body), what="GET /messages/x"))
    assert "b448f9cc-a842-4784-98e9-036694578950" in text


def test_the_api_key_never_reaches_the_text_even_when_echoed():
    body = telnyx("10009", "Authentication failed", f"Bearer {KEY} is not a valid key")
    error = error_from_response(answer(401, body), what="GET /balance")
    assert KEY not in str(error)
    assert KEY not in repr(error.body)
    html = error_from_response(answer(502, text=f"<html><title>Bad gateway {KEY}</title></html>"), what="GET /b")
    assert KEY not in str(html)


def test_non_json_bodies_are_summarized():
    response = answer(
        502,
        text="<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
        **{"content-type": "text/html"},
    )
    error = error_from_response(response, what="POST /messages")
    assert isinstance(error, MtaServerError)
    assert "POST /messages: unexpected an HTML page: 502 Bad Gateway" in str(error)


def test_json_without_an_errors_list_is_summarized_too():
    error = error_from_response(answer(400, {"message": "nope"}), what="POST /messages")
    assert "unexpected a non-JSON body" in str(error)


def test_several_errors_are_all_named():
    body = {"errors": [{"code": "1", "title": "A"}, {"code": "2", "title": "B", "source": {"parameter": "to"}}]}
    text = str(error_from_response(answer(400, body), what="POST /messages"))
    assert "code 1: A; code 2: B (at to)" in text


def test_a_response_without_its_request_still_maps():
    error = error_from_response(httpx.Response(401, json=telnyx("10009", "Authentication failed")), what="GET /b")
    assert isinstance(error, MtaUnauthorizedError)
