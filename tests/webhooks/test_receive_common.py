"""verify_and_parse refusals shared by every vendor (404, 413, 401 with no secret), and the connection extras."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from airflow_provider_mta.webhooks.receive import (
    WebhookRejected,
    verify_and_parse,
    webhook_secret_of,
    webhook_url_of,
)
from tests.webhooks.vendor_signing import compact, mta_headers

BODY = compact({"destinationNumber": "+13175551111", "messageId": 1, "status": 4})
URL = "https://airflow.example.com/sms-webhooks/x"
EXTRAS = {"mta": "webhook_secret", "telnyx": "webhook_public_key", "bird": "webhook_secret"}


def rejected(**kwargs: object) -> WebhookRejected:
    args = {"conn_type": "mta", "headers": mta_headers("s3cret", BODY), "body": BODY, "url": URL, "secret": "s3cret"}
    with pytest.raises(WebhookRejected) as caught:
        verify_and_parse(**{**args, **kwargs})  # type: ignore[arg-type]
    return caught.value


def test_unknown_connection_type_is_404():
    error = rejected(conn_type="postgres")
    assert error.status == 404 and "postgres" in error.reason


@pytest.mark.parametrize("conn_type", EXTRAS)
def test_a_body_over_the_limit_is_413_before_anything_else(conn_type):
    error = rejected(conn_type=conn_type, body=b"x" * 1025, max_body=1024, headers={})
    assert error.status == 413 and "1025" in error.reason


def test_the_default_limit_is_256_kib():
    assert rejected(body=b" " * (256 * 1024 + 1)).status == 413
    big = BODY + b" " * (256 * 1024 - len(BODY))
    assert len(verify_and_parse(conn_type="mta", headers=mta_headers("k", big), body=big, url=URL, secret="k")) == 1


@pytest.mark.parametrize(("conn_type", "extra"), EXTRAS.items())
@pytest.mark.parametrize("secret", [None, "", "  "])
def test_no_secret_configured_fails_closed_naming_the_extra(conn_type, extra, secret):
    error = rejected(conn_type=conn_type, secret=secret)
    assert error.status == 401 and f"'{extra}'" in error.reason


def test_reasons_never_hold_the_secret_or_the_number():
    for error in (rejected(headers={"X-Signature": "00"}), rejected(body=b"+13175551111 not json")):
        assert "s3cret" not in str(error) and "3175551111" not in str(error)


@pytest.mark.parametrize(("conn_type", "extra"), EXTRAS.items())
def test_webhook_secret_of_reads_the_extra_of_the_type(conn_type, extra):
    conn = SimpleNamespace(conn_type=conn_type, extra_dejson={extra: " k1 "})
    assert webhook_secret_of(conn) == "k1"
    legacy = SimpleNamespace(conn_type=conn_type, extra_dejson={f"extra__{conn_type}__{extra}": "k2"})
    assert webhook_secret_of(legacy) == "k2"
    assert webhook_secret_of(SimpleNamespace(conn_type=conn_type, extra_dejson={})) is None


def test_webhook_secret_of_ignores_other_types_and_other_extras():
    assert webhook_secret_of(SimpleNamespace(conn_type="http", extra_dejson={"webhook_secret": "k"})) is None
    assert webhook_secret_of(SimpleNamespace(conn_type="telnyx", extra_dejson={"webhook_secret": "k"})) is None


def test_webhook_url_of_prefers_the_extra_behind_a_proxy():
    conn = SimpleNamespace(conn_type="bird", extra_dejson={"webhook_url": "https://public.example.com/hook"})
    assert webhook_url_of(conn, request_url="http://10.0.0.5:8080/hook") == "https://public.example.com/hook"
    bare = SimpleNamespace(conn_type="bird", extra_dejson={})
    assert webhook_url_of(bare, request_url="http://10.0.0.5:8080/hook") == "http://10.0.0.5:8080/hook"
