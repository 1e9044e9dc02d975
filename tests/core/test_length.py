"""MTA's length limits at their edges: 160/161 GSM-7, extension characters, UCS-2, MMS 1,550/1,551, header/footer."""

from __future__ import annotations

import pytest

from airflow_provider_mta.backends.mta.models import SendRequest
from airflow_provider_mta.core.errors import MtaValidationError
from airflow_provider_mta.core.estimate import estimate_send
from airflow_provider_mta.core.length import CUT_MARKER, fit_sms, length_problem, text_length
from airflow_provider_mta.core.segments import compose

EMOJI = "\U0001f600"  # outside the BMP: 2 UTF-16 code units


@pytest.mark.parametrize(
    ("text", "length", "fits_sms"),
    [
        ("x" * 160, 160, True),
        ("x" * 161, 161, False),
        ("é" * 160, 160, True),  # é is in the GSM-7 basic table
        ("x" * 159 + "€", 161, False),  # an extension character is 2 septets
        ("x" * 158 + "€", 160, True),
        (EMOJI * 80, 160, True),  # UCS-2: 2 units per emoji
        (EMOJI * 80 + "a", 161, False),
        ("ж" * 160, 160, True),  # UCS-2 inside the BMP: 1 unit each
        ("ж" * 161, 161, False),
    ],
)
def test_sms_length_edges(text, length, fits_sms):
    assert text_length(text) == length
    problem = length_problem(text, is_mms=False)
    assert (problem is None) == fits_sms
    if problem:
        assert f"the text is {length} characters; an SMS holds at most 160" in problem
        assert "is_mms=True (3 credits, up to 1,550 characters)" in problem


def test_mms_length_edges():
    assert length_problem("x" * 1550, is_mms=True) is None
    assert (
        length_problem("x" * 1551, is_mms=True)
        == "the text is 1,551 characters; an MMS holds at most 1,550: shorten it"
    )


def test_header_and_footer_are_counted():
    body = "x" * 150
    assert length_problem(compose(body, header="ABCDEFGHI"), is_mms=False) is None  # 9 + newline + 150 = 160
    assert length_problem(compose(body, header="ABCDEFGHI", footer="S"), is_mms=False) is not None  # + " S" = 162


def test_estimate_send_refuses_a_recipient_whose_rendered_text_is_too_long():
    request = SendRequest.build(
        subscribers=["+13175551111", "+13175552222"],
        message="Hi {{ name }} " + "x" * 150,
        properties={"+13175551111": {"name": "Al"}, "+13175552222": {"name": "Alexandra"}},
    )
    with pytest.raises(MtaValidationError, match=r"message: for \*\*\*2222, the text is 163 characters") as info:
        estimate_send(request)
    assert info.value.field == "message" and "Nothing was sent" in str(info.value)
    ok = SendRequest.build(subscribers=["+13175551111"], message="x" * 161, is_mms=True)
    assert estimate_send(ok).credits == 3


def test_template_without_message_is_not_measured_here():
    assert estimate_send(SendRequest.build(subscribers=["+13175551111"], template_id=7)).recipients == 1


@pytest.mark.parametrize("text", ["x" * 400, EMOJI * 200, "x" * 150 + "€" * 20, "short"])
def test_fit_sms_cuts_with_a_visible_marker(text):
    fitted = fit_sms(text)
    assert text_length(fitted) <= 160
    if text_length(text) <= 160:
        assert fitted == text
    else:
        assert fitted.endswith(CUT_MARKER)
        assert text.startswith(fitted.removesuffix(CUT_MARKER))
        assert text_length(fitted) >= 160 - 2  # the longest prefix that fits (a 2-unit character may not)
