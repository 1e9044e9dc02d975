"""Every MTA error body (and a proxy's HTML page) maps to one exception with status, message and requestId."""

from __future__ import annotations

import json

import pytest

from airflow_provider_mta.backends.mta.errors import error_from_response
from airflow_provider_mta.core import errors as e


def _body(status: int, type_: str, name: str, **more: object) -> bytes:
    return json.dumps(
        {
            "httpCode": status,
            "message": f"text for {status}",
            "timestamp": "2025-03-04T19:24:00.365Z",
            "type": type_,
            "name": name,
            "requestId": "srv-req-1",
            **more,
        }
    ).encode()


@pytest.mark.parametrize(
    ("status", "type_", "name", "cls"),
    [
        (400, "bad_request_error", "MTABadRequestError", e.MtaBadRequestError),
        (401, "unauthorized_error", "MTAUnauthorizedError", e.MtaUnauthorizedError),
        (402, "payment_required_error", "MTAPaymentRequiredError", e.MtaPaymentRequiredError),
        (403, "forbidden_error", "MTAForbiddenError", e.MtaForbiddenError),
        (404, "not_found_error", "MTANotFoundError", e.MtaNotFoundError),
        (409, "conflict_error", "MTAConflictError", e.MtaConflictError),
        (429, "rate_limit_error", "MTARateLimitError", e.MtaRateLimitError),
        (500, "internal_server_error", "MTAInternalServerError", e.MtaServerError),
        (502, "bad_gateway", "MTABadGateway", e.MtaServerError),
        (503, "service_unavailable", "MTAUnavailable", e.MtaServerError),
        (418, "teapot", "MTATeapot", e.MtaApiError),
    ],
)
def test_json_error_bodies_map_to_classes(status, type_, name, cls):
    error = error_from_response(status_code=status, body=_body(status, type_, name), client_request_id="mine")
    assert type(error) is cls
    assert isinstance(error, e.MtaError)
    assert (error.status_code, error.error_type, error.name, error.request_id) == (status, type_, name, "srv-req-1")
    assert str(error) == f"MTA answered HTTP {status} ({name}): text for {status} (requestId=srv-req-1)"


def test_forbidden_reason_and_retry_after_are_kept():
    error = error_from_response(
        status_code=403, body=_body(403, "forbidden_error", "MTAForbiddenError", reason="unverified number")
    )
    assert error.reason == "unverified number" and "[reason: unverified number]" in str(error)
    limited = error_from_response(
        status_code=429, body=_body(429, "rate_limit_error", "MTARateLimitError"), retry_after_header="7"
    )
    assert isinstance(limited, e.MtaRateLimitError) and limited.retry_after == 7.0


def test_html_page_from_a_proxy_maps_cleanly():
    page = b"<html><head><title>502 Bad Gateway</title></head><body><h1>nginx</h1></body></html>"
    error = error_from_response(status_code=502, body=page, content_type="text/html", client_request_id="mine")
    assert isinstance(error, e.MtaServerError)
    assert str(error) == (
        "MTA answered HTTP 502 (MtaServerError): unexpected an HTML page: 502 Bad Gateway (requestId=mine)"
    )


@pytest.mark.parametrize("body", [b"", b"oops", b'{"truncated": ', b"[1, 2]"])
def test_other_non_json_bodies_map_cleanly(body):
    error = error_from_response(status_code=500, body=body, client_request_id="mine")
    assert isinstance(error, e.MtaServerError)
    assert error.request_id == "mine" and "HTTP 500" in str(error)


@pytest.mark.parametrize(
    ("header", "value"),
    [(None, None), ("", None), ("3", 3.0), ("1.5", 1.5), ("-2", 0.0), ("Wed, 21 Oct 2026 07:28:00 GMT", None)],
)
def test_parse_retry_after(header, value):
    assert e.parse_retry_after(header) == value


def test_validation_error_is_a_value_error_with_field():
    error = e.MtaValidationError("subscribers: empty", field="subscribers")
    assert isinstance(error, ValueError) and error.field == "subscribers"
