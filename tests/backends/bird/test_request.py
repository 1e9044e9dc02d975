"""BirdRequest: one text body per recipient (Liquid rendered per recipient), fields Bird cannot carry refused."""

from __future__ import annotations

import pytest

from airflow_provider_mta.backends.bird.request import BirdRequest
from airflow_provider_mta.core.errors import MtaValidationError

ANN, BO = "+13175551111", "+13175552222"


def test_each_recipient_gets_its_own_rendered_text_body():
    request = BirdRequest.build(
        subscribers=[ANN, BO], message="Hi {{ name }}", properties={ANN: {"name": "Ann"}, BO: {"name": "Bo"}}
    )
    assert request.payloads() == [
        (ANN, {"receiver": {"contacts": [{"identifierKey": "phonenumber", "identifierValue": ANN}]},
               "body": {"type": "text", "text": {"text": "Hi Ann"}}}),
        (BO, {"receiver": {"contacts": [{"identifierKey": "phonenumber", "identifierValue": BO}]},
              "body": {"type": "text", "text": {"text": "Hi Bo"}}}),
    ]  # fmt: skip


def test_numbers_are_normalized_with_the_region():
    request = BirdRequest.build(region="US", subscribers=["(317) 555-1111"], message="hi")
    assert request.subscribers == [ANN]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"image": "https://example.com/a.png"}, "image"),
        ({"is_mms": True}, "is_mms"),
        ({"tags": {"a": "b"}}, "tags"),
        ({"external_id": "x-1"}, "external_id"),
        ({"scheduled_date": "2999-01-01T00:00:00Z"}, "scheduled_date"),
        ({"groups": [5]}, "groups"),
        ({"template_id": 3}, "template_id"),
        ({"header": "Acme"}, "header"),
    ],
)
def test_fields_a_bird_text_cannot_carry_are_refused_by_name(fields, field):
    with pytest.raises(MtaValidationError) as info:
        BirdRequest.build(subscribers=[ANN], message="hi", **fields)
    assert info.value.field == field
    assert str(info.value).startswith("invalid Bird send request: " + field)


def test_no_message_is_refused():
    with pytest.raises(MtaValidationError) as info:
        BirdRequest.build(subscribers=[ANN])
    assert info.value.field == "message"
