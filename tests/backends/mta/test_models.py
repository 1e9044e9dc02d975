"""Every local validation rule of POST /send names the field; responses parse tolerantly."""

from __future__ import annotations

import datetime as dt

import pytest

from airflow_provider_mta.backends.mta.models import SendRequest, SendResult, VerifyResult, parse_scheduled_date
from airflow_provider_mta.core.errors import MtaValidationError

FUTURE = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2)).strftime("%Y%m%dT%H%M%S+0000")
PAST = "20200101T000000-0000"


def test_payload_uses_mta_field_names_and_drops_unset():
    request = SendRequest.build(
        subscribers=["+13175551111", 3175552222],
        message="Hi {{name}}",
        subscriber_ids=None,
        is_mms=False,
        longcode_id=7,
        sender_name="Acme",
        external_id="otp_42",
        tags={"campaign": "nightly", "n": 3},
        properties={"+13175551111": {"name": "Ann"}, "3175552222": {"name": "Bob", "age": 41}},
        header="ACME",
        footer="STOP to end",
        scheduled_date=FUTURE,
        repeat={"saturday": True, "type": "month", "frequency": 2},
    )
    payload = request.to_payload()
    assert payload["subscribers"] == ["+13175551111", "3175552222"]
    assert payload["isMMS"] is False
    assert payload["longcodeId"] == 7
    assert payload["senderName"] == "Acme"
    assert payload["externalId"] == "otp_42"
    assert payload["tags"] == {"campaign": "nightly", "n": "3"}
    assert payload["properties"]["3175552222"] == {"name": "Bob", "age": "41"}
    assert payload["scheduledDate"] == FUTURE
    assert payload["repeat"]["saturday"] is True and payload["repeat"]["frequency"] == 2
    assert "subscriberIds" not in payload and "groups" not in payload


@pytest.mark.parametrize(
    ("fields", "field", "text"),
    [
        ({"message": "x"}, "subscribers", "no recipient"),
        ({"subscribers": [], "message": "x"}, "subscribers", "is empty"),
        ({"groups": [], "message": "x"}, "groups", "is empty"),
        ({"subscribers": ["1"], "groups": [1], "message": "x"}, "subscribers, groups", "exactly one kind"),
        ({"all_subscribers": True, "groups": [2], "message": "x"}, "groups, all_subscribers", "exactly one kind"),
        ({"all_subscribers": True, "thread_id": 4, "message": "x"}, "thread_id, all_subscribers", "exactly one kind"),
        ({"all_subscribers": False, "message": "x"}, "subscribers", "no recipient"),
        ({"subscribers": ["1"]}, "message", "no content"),
        ({"subscribers": ["1"], "message": ""}, "message", "no content"),
        ({"subscribers": ["1"], "message": "x", "link_id": 3}, "link_id", "template_id"),
        ({"subscribers": ["1", "1"], "message": "x"}, "subscribers", "same recipient twice"),
        ({"subscribers": [None], "message": "x"}, "subscribers", "item 0"),
        ({"subscribers": [" "], "message": "x"}, "subscribers", "item 0 is empty"),
        ({"groups": [1], "message": "x", "properties": {"1": {"a": "b"}}}, "properties", "needs subscribers"),
        ({"subscribers": ["1"], "message": "x", "properties": {"2": {"a": "b"}}}, "properties", "not in subscribers"),
        ({"subscribers": ["1"], "message": "x", "properties": {"1": "Ann"}}, "properties", "must be an object"),
        ({"subscribers": ["1"], "message": "x", "properties": {"1": {"a": None}}}, "properties", "is null"),
        ({"subscribers": ["1"], "message": "x", "scheduled_date": PAST}, "scheduled_date", "in the past"),
        ({"subscribers": ["1"], "message": "x", "scheduled_date": "next friday"}, "scheduled_date", "ISO 8601"),
        ({"subscribers": ["1"], "message": "x", "scheduled_date": 20250101}, "scheduled_date", "ISO 8601"),
        ({"subscribers": ["1"], "message": "x", "repeat": {"frequency": 1}}, "repeat", "needs scheduled_date"),
        (
            {"subscribers": ["1"], "message": "x", "scheduled_date": FUTURE, "repeat": {"frequency": 9}},
            "repeat.frequency",
            "less than or equal to 5",
        ),
        (
            {"subscribers": ["1"], "message": "x", "scheduled_date": FUTURE, "repeat": {"frequency": 1, "type": "day"}},
            "repeat.type",
            "week",
        ),
        (
            {"subscribers": ["1"], "message": "x", "scheduled_date": FUTURE, "repeat": {"frequency": -1}},
            "repeat",
            "at least one weekday",
        ),
        (
            {"subscribers": ["1"], "message": "x", "scheduled_date": FUTURE, "repeat": {"frequency": 1, "sun": True}},
            "repeat.sun",
            "not a field",
        ),
        ({"subscribers": ["1"], "message": "x", "image": "not a url"}, "image", "http(s) URL"),
        ({"subscribers": ["1"], "message": "x", "sendername": "a"}, "sendername", "not a field of POST /send"),
        ({"subscribers": ["1"], "message": "x", "tags": {"a": [1]}}, "tags", "must be text or a number"),
        ({"subscriber_ids": ["abc"], "message": "x"}, "subscriber_ids.0", "integer"),
    ],
)
def test_each_rule_names_the_field(fields, field, text):
    with pytest.raises(MtaValidationError) as info:
        SendRequest.build(**fields)
    assert info.value.field == field
    assert text in str(info.value)
    assert field in str(info.value)


def test_valid_recipient_kinds_and_contents():
    assert SendRequest.build(all_subscribers=True, template_id=5, link_id=2).to_payload() == {
        "allSubscribers": True,
        "templateId": 5,
        "linkId": 2,
    }
    assert SendRequest.build(groups=[1, 2], image="https://example.com/a.png").sends_as_mms
    assert not SendRequest.build(thread_id=9, image="https://example.com/a.png", is_mms=False).sends_as_mms
    assert SendRequest.build(subscriber_ids=[3], message="x", subscribers=None).subscriber_ids == [3]


def test_camel_case_input_is_accepted_too():
    request = SendRequest.build(subscribers=["1"], message="x", isMMS=True, externalId=42)
    assert request.is_mms is True and request.external_id == 42


def test_region_normalizes_subscribers_and_rekeys_properties():
    request = SendRequest.build(
        region="US",
        subscribers=["(317) 555-1111", "+1 317 555 2222", "3175551111"],
        message="Hi {{n}}",
        properties={"(317) 555-1111": {"n": "Ann"}, "+1 317 555 2222": {"n": "Bob"}},
    )
    assert request.subscribers == ["+13175551111", "+13175552222"]
    assert request.properties == {"+13175551111": {"n": "Ann"}, "+13175552222": {"n": "Bob"}}


def test_region_normalization_errors_name_the_position_and_mask_the_number():
    with pytest.raises(MtaValidationError) as info:
        SendRequest.build(region="US", subscribers=["+13175551111", "555-0000-99999"], message="x")
    assert info.value.field == "subscribers[1]"
    assert "99999" not in str(info.value) and "***9999" in str(info.value)


def test_conflicting_duplicate_properties_are_an_error():
    with pytest.raises(
        MtaValidationError, match=r"properties: \*\*\*1111 is keyed twice \(written two ways\) with different"
    ):
        SendRequest.build(
            region="US",
            subscribers=["3175551111", "+13175551111"],
            message="{{n}}",
            properties={"3175551111": {"n": "a"}, "+13175551111": {"n": "b"}},
        )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20250306T193000-0000", dt.datetime(2025, 3, 6, 19, 30, tzinfo=dt.timezone.utc)),
        ("20230302T173000-0500", dt.datetime(2023, 3, 2, 22, 30, tzinfo=dt.timezone.utc)),
        ("2025-03-06T19:30:00Z", dt.datetime(2025, 3, 6, 19, 30, tzinfo=dt.timezone.utc)),
        ("2025-03-06T19:30:00", dt.datetime(2025, 3, 6, 19, 30, tzinfo=dt.timezone.utc)),
        ("20250306T1930Z", dt.datetime(2025, 3, 6, 19, 30, tzinfo=dt.timezone.utc)),
    ],
)
def test_scheduled_date_formats(text, expected):
    assert parse_scheduled_date(text) == expected


def test_send_result_parses_tolerantly():
    full = SendResult.from_envelope(
        {
            "message": "Message Sent to 2 Recipient(s).",
            "data": {"messageId": "u-1", "totalSent": 2, "outboundIds": [5, "6"], "newField": {"x": 1}},
        },
        request_id="r1",
    )
    assert (full.message_id, full.total_sent, full.outbound_ids, full.request_id) == ("u-1", 2, [5, 6], "r1")
    assert full.model_extra == {"newField": {"x": 1}}
    empty = SendResult.from_envelope({"data": None}, request_id="r2")
    assert (empty.message_id, empty.total_sent, empty.outbound_ids) == (None, 0, [])
    odd = SendResult.from_envelope(["not", "a", "dict"], request_id=None)
    assert odd.total_sent == 0
    assert SendResult.from_envelope({"data": {"totalSent": "many"}}, request_id=None).total_sent == 0


def test_verify_result_parses_tolerantly():
    account = VerifyResult.from_envelope({"message": "API Key verified", "data": {"name": "N", "email": "e@x.io"}})
    assert (account.name, account.email, account.message) == ("N", "e@x.io", "API Key verified")
    assert VerifyResult.from_envelope({}).name is None
