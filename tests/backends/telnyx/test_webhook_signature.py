"""Telnyx webhook signatures: Ed25519 over "{timestamp}|body", signed here with a fresh key."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from airflow_provider_mta.backends.telnyx.webhook_signature import sign, verify_signature
from airflow_provider_mta.core.errors import MtaConfigError, MtaWebhookSignatureError

BODY = b'{"data":{"event_type":"message.finalized","payload":{"id":"40385f64","to":[{"status":"delivered"}]}}}'
NOW = 1_700_000_000.0
STAMP = str(int(NOW))


@pytest.fixture
def private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def public_b64(private_key: Ed25519PrivateKey) -> str:
    return base64.b64encode(private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def check(private_key: Ed25519PrivateKey, **overrides: object) -> None:
    arguments: dict[str, object] = {
        "body": BODY,
        "signature": sign(body=BODY, timestamp=STAMP, private_key=private_key),
        "timestamp": STAMP,
        "public_key": public_b64(private_key),
        "now": NOW,
    }
    verify_signature(**{**arguments, **overrides})  # type: ignore[arg-type]


def test_a_good_signature_passes(private_key):
    assert check(private_key) is None


def test_the_signed_bytes_are_timestamp_pipe_body(private_key):
    raw = base64.b64decode(sign(body=BODY, timestamp=STAMP, private_key=private_key))
    private_key.public_key().verify(raw, f"{STAMP}|".encode() + BODY)  # raises if not


def test_surrounding_whitespace_in_headers_and_key_is_accepted(private_key):
    signature = sign(body=BODY, timestamp=STAMP, private_key=private_key)
    check(private_key, signature=f" {signature}\n", timestamp=f"{STAMP} ", public_key=f"{public_b64(private_key)}\n")


def test_a_tampered_body_fails(private_key):
    with pytest.raises(MtaWebhookSignatureError, match="does not match"):
        check(private_key, body=BODY.replace(b"delivered", b"delivery_failed"))


def test_a_tampered_timestamp_fails(private_key):
    with pytest.raises(MtaWebhookSignatureError, match="does not match"):
        check(private_key, timestamp=str(int(NOW) + 1), now=NOW + 1)


def test_another_key_fails(private_key):
    with pytest.raises(MtaWebhookSignatureError, match="does not match"):
        check(private_key, public_key=public_b64(Ed25519PrivateKey.generate()))


@pytest.mark.parametrize("age", [301.0, 3600.0])
def test_a_stale_timestamp_fails_even_when_signed(private_key, age):
    with pytest.raises(MtaWebhookSignatureError, match="old"):
        check(private_key, now=NOW + age)


def test_a_timestamp_far_in_the_future_fails(private_key):
    with pytest.raises(MtaWebhookSignatureError, match="in the future"):
        check(private_key, now=NOW - 301.0)


def test_within_the_tolerance_passes_and_tolerance_is_configurable(private_key):
    check(private_key, now=NOW + 300.0)
    check(private_key, now=NOW - 299.0)
    with pytest.raises(MtaWebhookSignatureError):
        check(private_key, now=NOW + 61.0, tolerance=60.0)


@pytest.mark.parametrize("signature", ["", "   ", "not base64!!", base64.b64encode(b"short").decode()])
def test_a_missing_or_bad_signature_fails(private_key, signature):
    with pytest.raises(MtaWebhookSignatureError):
        check(private_key, signature=signature)


@pytest.mark.parametrize("timestamp", ["", "soon", "1700000000.5", "-1700000000", "\uff11\uff17\uff10\uff10"])
def test_a_missing_or_malformed_timestamp_fails(private_key, timestamp):
    with pytest.raises(MtaWebhookSignatureError, match="telnyx-timestamp"):
        check(private_key, timestamp=timestamp)


@pytest.mark.parametrize("public_key", ["", "not base64!!", base64.b64encode(b"x" * 31).decode()])
def test_a_malformed_public_key_is_a_configuration_error(private_key, public_key):
    with pytest.raises(MtaConfigError, match="base64 of 32 bytes"):
        check(private_key, public_key=public_key)
