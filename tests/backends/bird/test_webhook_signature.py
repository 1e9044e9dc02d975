"""Bird webhook signatures: sign/verify round trip, and every way a forged, altered or stale one is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from airflow_provider_mta.backends.bird.webhook_signature import sign, signed_payload, verify
from airflow_provider_mta.core.errors import MtaConfigError, MtaWebhookSignatureError

KEY = "secureSigningKey"
URL = "https://example.com/webhook/bird?x=1"
BODY = b'{"service":"channels","event":"sms.outbound","payload":{"status":"delivered"}}'
NOW = 1_719_823_259
STAMP = str(NOW)


def signature(body: bytes = BODY, url: str = URL, timestamp: str = STAMP, key: str = KEY) -> str:
    return sign(body=body, url=url, timestamp=timestamp, signing_key=key)


def check(**overrides: object) -> None:
    args: dict[str, object] = {
        "body": BODY,
        "url": URL,
        "signature": signature(),
        "timestamp": STAMP,
        "signing_key": KEY,
        "now": NOW + 10,
    }
    verify(**{**args, **overrides})  # type: ignore[arg-type]


def test_the_signed_payload_holds_the_raw_digest_of_the_body():
    assert signed_payload(body=BODY, url=URL, timestamp=STAMP) == (
        f"{STAMP}\n{URL}\n".encode() + hashlib.sha256(BODY).digest()
    )
    # Bird's documented recipe, spelled out independently of the module.
    expected = hmac.new(KEY.encode(), f"{STAMP}\n{URL}\n".encode() + hashlib.sha256(BODY).digest(), "sha256")
    assert signature() == base64.b64encode(expected.digest()).decode()


def test_a_genuine_webhook_verifies():
    check()
    check(signature=f"  {signature()} ")


def test_a_millisecond_timestamp_is_accepted():
    ms = str(NOW * 1000)
    check(timestamp=ms, signature=signature(timestamp=ms))


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"signing_key": "another-key"}, "does not match"),
        ({"body": BODY.replace(b"delivered", b"failed")}, "does not match"),
        ({"url": "https://example.com/webhook/bird"}, "does not match"),
        ({"timestamp": str(NOW + 1)}, "does not match"),
        ({"now": NOW + 301}, "301s old"),
        ({"now": NOW - 400}, "in the future"),
        ({"signature": ""}, "no messagebird-signature header"),
        ({"timestamp": ""}, "no messagebird-request-timestamp header"),
        ({"timestamp": "2024-07-01"}, "is not Unix seconds"),
        ({"signature": "not base64!"}, "is not base64"),
    ],
)
def test_forged_altered_or_stale_webhooks_are_refused(change, match):
    with pytest.raises(MtaWebhookSignatureError, match=match):
        check(**change)


def test_a_stale_millisecond_timestamp_is_refused():
    ms = str((NOW - 1000) * 1000)
    with pytest.raises(MtaWebhookSignatureError, match="old"):
        check(timestamp=ms, signature=signature(timestamp=ms))


def test_the_hex_digest_variant_is_not_accepted():
    hex_variant = hmac.new(KEY.encode(), f"{STAMP}\n{URL}\n{hashlib.sha256(BODY).hexdigest()}".encode(), "sha256")
    with pytest.raises(MtaWebhookSignatureError):
        check(signature=base64.b64encode(hex_variant.digest()).decode())


def test_no_signing_key_is_a_config_error():
    with pytest.raises(MtaConfigError):
        check(signing_key="")
