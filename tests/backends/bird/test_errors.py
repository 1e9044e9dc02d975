"""Bird's error bodies mapped onto the provider's errors: text, non-JSON bodies, secrecy, Retry-After."""

from __future__ import annotations

import httpx

from airflow_provider_mta.backends.bird.errors import error_from_response
from airflow_provider_mta.core.errors import MtaBadRequestError, MtaRateLimitError, MtaServerError

KEY = "bird-access-key-SECRET-0123456789"
WHAT = "POST /workspaces/w/channels/c/messages"


def answer(status: int, body: object = None, *, text: str | None = None, **headers: str) -> httpx.Response:
    request = httpx.Request("POST", "https://api.bird.test/x", headers={"Authorization": f"AccessKey {KEY}"})
    if text is not None:
        return httpx.Response(status, text=text, headers=headers, request=request)
    return httpx.Response(status, json=body, headers=headers, request=request)


def test_code_message_and_details_are_named():
    body = {"code": "InvalidPayload", "message": "bad", "details": {"body.text.text": ["is required", "too short"]}}
    error = error_from_response(answer(422, body, **{"x-request-id": "r-1"}), what=WHAT)
    assert isinstance(error, MtaBadRequestError)
    assert (error.error_type, error.request_id) == ("InvalidPayload", "r-1")
    assert str(error) == (
        f"Bird answered HTTP 422 (InvalidPayload): {WHAT}: InvalidPayload: bad "
        "(body.text.text: is required, too short) (requestId=r-1)"
    )


def test_many_detail_fields_are_cut():
    body = {"code": "InvalidPayload", "details": {f"f{i}": ["x"] for i in range(8)}}
    text = str(error_from_response(answer(422, body), what=WHAT))
    assert "f4: x" in text and "f5" not in text and "and 3 more" in text


def test_a_non_json_body_is_summarized_and_masked():
    error = error_from_response(answer(502, text="<html><title>Bad gateway for 13175551111</title></html>"), what=WHAT)
    assert isinstance(error, MtaServerError)
    assert "an HTML page: Bad gateway for ***1111" in str(error)


def test_the_key_is_cut_out_of_an_echoed_body():
    error = error_from_response(answer(400, {"code": "BadRequest", "message": f"key {KEY} bad"}), what=WHAT)
    assert KEY not in str(error) and "key *** bad" in str(error)


def test_retry_after_is_read():
    error = error_from_response(answer(429, {"code": "TooManyRequests"}, **{"Retry-After": "4"}), what=WHAT)
    assert isinstance(error, MtaRateLimitError) and error.retry_after == 4.0


def test_a_404_without_a_body_still_hints():
    error = error_from_response(answer(404, text=""), what=WHAT)
    assert "workspace_id and channel_id" in str(error)
