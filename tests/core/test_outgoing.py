"""The neutral send request and result, and Telnyx's request built on it."""

from __future__ import annotations

import datetime as dt

import pytest

from airflow_provider_mta.backends.mta.models import SendRequest
from airflow_provider_mta.backends.telnyx.request import TelnyxRequest
from airflow_provider_mta.core.errors import MtaValidationError
from airflow_provider_mta.core.outgoing import OutgoingRequest, SendResult

ANN, BO = "+13175551111", "+13175552222"


def test_each_recipient_gets_its_own_rendered_text():
    request = OutgoingRequest.build(
        subscribers=[ANN, BO],
        message="Hi {{ first_name }}, {{ n | plus: 1 }} left",
        properties={ANN: {"first_name": "Ann", "n": 1}, BO: {"first_name": "Bo", "n": 4}},
    )
    assert request.texts() == [(ANN, "Hi Ann, 2 left"), (BO, "Hi Bo, 5 left")]
    plain = OutgoingRequest.build(subscribers=[ANN], message="no placeholders")
    assert plain.texts() == [(ANN, "no placeholders")]


def test_a_text_that_does_not_render_names_the_masked_recipient():
    request = OutgoingRequest.build(
        subscribers=[ANN, BO], message="Hi {{ first_name }}", properties={ANN: {"first_name": "A"}}
    )
    with pytest.raises(MtaValidationError, match=r"message: for \*\*\*2222, it does not render") as info:
        request.texts()
    assert BO not in str(info.value)


def test_each_api_writes_dates_its_own_way_and_refuses_the_past():
    when = "2031-01-01T10:00:00+02:00"
    assert (
        SendRequest.build(subscribers=[ANN], message="x", scheduled_date=when).scheduled_date == "20310101T080000+0000"
    )
    assert (
        TelnyxRequest.build(subscribers=[ANN], message="x", scheduled_date=when).scheduled_date
        == "2031-01-01T08:00:00Z"
    )
    past = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1)).isoformat()
    with pytest.raises(MtaValidationError, match=r"scheduled_date: .* is in the past"):
        TelnyxRequest.build(subscribers=[ANN], message="x", scheduled_date=past)


def test_telnyx_payloads_carry_the_sender_media_and_type():
    request = TelnyxRequest.build(
        subscribers=["3175551111"],
        message="Hi {{ n }}",
        properties={"3175551111": {"n": "A"}},
        image="https://x.test/a.png",
        subject="S",
        region="US",
    )
    [(to, body)] = request.payloads(sender="+13125550100", messaging_profile_id="prof-1")
    assert to == ANN
    assert body == {
        "to": ANN,
        "from": "+13125550100",
        "messaging_profile_id": "prof-1",
        "text": "Hi A",
        "media_urls": ["https://x.test/a.png"],
        "type": "MMS",
        "subject": "S",
    }


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"groups": [1]}, "groups", "is not a field of Telnyx's POST /v2/messages"),
        ({"template_id": 3}, "template_id", "is not a field of Telnyx's POST /v2/messages"),
        ({"header": "H"}, "header", "is not a field of Telnyx's POST /v2/messages"),
        ({"tags": {"a": "b"}}, "tags", "Telnyx messages carry no tags"),
        ({"subscribers": [ANN, ANN]}, "subscribers", "lists the same recipient twice"),
        ({"subscribers": []}, "subscribers", "no recipient"),
    ],
)
def test_telnyx_refuses_what_it_cannot_send_by_name(fields, field, words):
    with pytest.raises(MtaValidationError) as info:
        TelnyxRequest.build(**{"subscribers": [ANN], "message": "x", **fields})
    assert info.value.field == field and words in str(info.value)


def test_send_result_is_one_shape_for_every_api():
    result = SendResult(
        provider="telnyx", total_sent=1, outbound_ids=["4a5b6c7d-8e9f"], unknown=["***2222"], cost=0.004
    )
    assert result.summary()["unknown"] == 1 and result.summary()["provider"] == "telnyx"
    assert SendResult(outbound_ids=[7, "8"]).outbound_ids == [7, "8"]
