"""Batch validation: one streaming pass, errors naming rows, the duplicate rule, credits per rendered text."""

from __future__ import annotations

import datetime as dt
import decimal

import pytest

from airflow_provider_mta.core.batch_plan import plan_batch
from airflow_provider_mta.core.errors import MtaValidationError
from airflow_provider_mta.core.rows import ColumnMapping, iter_mappings


def plan(rows, message="Hi {{ first_name }}", **kw):
    kw.setdefault("mapping", ColumnMapping())
    kw.setdefault("region", "US")
    return plan_batch(rows, message=message, **kw)


def recipients(p, size=1000):
    return [r for _, chunk in p.spool.chunks(size) for r in chunk]


def test_normalizes_to_e164_and_keys_properties_by_the_sent_string():
    p = plan(
        [
            {"phone": "(317) 555-1111", "first_name": "Ann", "unused": "x"},
            {"phone": "ann@Example.COM", "first_name": "Al"},
        ]
    )
    assert recipients(p) == [("+13175551111", {"first_name": "Ann"}), ("ann@example.com", {"first_name": "Al"})]
    assert (p.rows, p.recipients, p.invalid, p.duplicates) == (2, 2, 0, 0)
    p.close()


def test_first_row_wins_and_conflicting_duplicates_are_reported():
    rows = [
        {"phone": "3175551111", "first_name": "Ann"},
        {"phone": "+1 317 555 1111", "first_name": "Ann"},  # same person, same properties
        {"phone": "317-555-1111", "first_name": "Annie"},  # same person, other properties
        {"phone": "3175552222", "first_name": "Bob"},
    ]
    p = plan(rows)
    assert recipients(p) == [("+13175551111", {"first_name": "Ann"}), ("+13175552222", {"first_name": "Bob"})]
    assert p.duplicates == 2
    (conflict,) = p.conflicting_duplicates
    assert str(conflict) == "row 3 (***1111): same recipient as row 1 with other properties; row 1 is kept"
    p.close()


def test_invalid_rows_fail_by_default_naming_the_first_rows_and_the_count():
    rows = [{"phone": "3175551111", "first_name": "A"}] + [{"phone": f"12{i}", "first_name": "B"} for i in range(7)]
    rows.append({"phone": None, "first_name": "C"})
    with pytest.raises(MtaValidationError) as err:
        plan(rows)
    text = str(err.value)
    assert text.startswith("rows: 8 of 9 row(s) have no valid recipient: row 2: ")
    assert "row 6: " in text and "row 7" not in text and "and 3 more" in text and "on_invalid='skip'" in text
    assert err.value.field == "rows"


def test_skip_counts_invalid_rows_and_keeps_the_rest():
    p = plan([{"phone": "", "first_name": "A"}, {"phone": "3175551111", "first_name": "B"}], on_invalid="skip")
    assert (p.recipients, p.invalid) == (1, 1)
    assert str(p.invalid_rows[0]) == "row 1: recipient is empty"
    p.close()


def test_missing_variables_name_the_rows_recipients_and_variables_and_defaults_fill_them():
    rows = [
        {"phone": "3175551111", "first_name": "Ann", "city": "Indy"},
        {"phone": "3175552222", "first_name": None, "city": "Gary"},
        {"phone": "3175553333", "first_name": "Cy", "city": None},
    ]
    with pytest.raises(MtaValidationError) as err:
        plan(rows, message="Hi {{ first_name }} from {{ city }}")
    assert str(err.value).startswith(
        "properties: the message uses first_name, city, but 2 recipient(s) lack a value: "
        "row 2 (***2222): lacks first_name; row 3 (***3333): lacks city."
    )
    p = plan(rows, message="Hi {{ first_name }} from {{ city }}", defaults={"first_name": "friend", "city": "town"})
    assert [props for _, props in recipients(p)][1:] == [
        {"first_name": "friend", "city": "Gary"},
        {"first_name": "Cy", "city": "town"},
    ]
    p.close()


def test_a_variable_that_is_no_column_fails_at_the_first_row():
    def rows():
        yield {"phone": "3175551111", "first": "Ann"}
        raise AssertionError("read past the first row")

    with pytest.raises(
        MtaValidationError,
        match=r"\{\{ first_name \}\} is neither an Airflow context name nor a property of the rows \(first\)",
    ):
        plan(rows())


def test_renames_property_columns_and_phone_column():
    mapping = ColumnMapping(phone_column="mobile", property_columns=["fname"], rename={"fname": "first_name"})
    p = plan([{"mobile": "+442079460000", "fname": "Jo", "secret": "s"}], mapping=mapping)
    assert recipients(p) == [("+442079460000", {"first_name": "Jo"})]
    p.close()
    with pytest.raises(MtaValidationError, match="phone_column: no column 'phone' in the rows"):
        plan([{"mobile": "1"}])


def test_credits_are_counted_per_rendered_text():
    rows = [
        {"phone": "3175551111", "first_name": "Ann"},  # 1 GSM-7 part
        {"phone": "3175552222", "first_name": "Zoë😀"},  # UCS-2 because of the emoji
        {"phone": "3175553333", "first_name": "ж" * 100},  # UCS-2, 112 units: 2 parts of 67 (fits the 160 limit)
    ]
    p = plan(rows, footer="STOP=end")
    assert [pr.parts for pr in p.previews] == [1, 1, 2]
    assert p.previews[1].encoding == "UCS-2"
    assert p.previews[0].text == "Hi Ann STOP=end"
    assert (p.parts, p.credits) == (4, 4)
    p.close()
    mms = plan(rows[:1], is_mms=True)
    assert mms.credits == 3
    mms.close()


def test_mms_text_over_the_limit_fails_naming_the_row():
    with pytest.raises(
        MtaValidationError, match=r"row 2 \(\*\*\*2222\): the text is 1,603 characters; an MMS holds at most 1,550"
    ):
        plan(
            [{"phone": "3175551111", "first_name": "A"}, {"phone": "3175552222", "first_name": "B" * 1600}],
            is_mms=True,
        )


def test_fingerprint_is_stable_and_changes_with_rows_or_message():
    rows = [{"phone": "3175551111", "first_name": "Ann"}]
    a, b = plan(rows, identity={"m": 1}), plan(rows, identity={"m": 1})
    c = plan([{"phone": "3175551111", "first_name": "Anne"}], identity={"m": 1})
    d = plan(rows, identity={"m": 2})
    assert a.fingerprint == b.fingerprint
    assert len({a.fingerprint, c.fingerprint, d.fingerprint}) == 3
    for p in (a, b, c, d):
        p.close()


def test_only_used_variables_are_sent_unless_a_saved_template_needs_all():
    rows = [{"phone": "3175551111", "first_name": "Ann", "ssn": "123"}]
    p = plan(rows, message="Hello")
    assert recipients(p) == [("+13175551111", {})]
    p.close()
    p = plan(rows, message=None, send_all_properties=True)
    assert recipients(p) == [("+13175551111", {"first_name": "Ann", "ssn": "123"})]
    p.close()


def test_sql_values_become_json_safe_properties():
    row = {"phone": "3175551111", "d": dt.date(2025, 3, 6), "amount": decimal.Decimal("9.50"), "n": 3}
    p = plan([row], message="{{ d }} {{ amount }} {{ n }}")
    assert recipients(p) == [("+13175551111", {"amount": "9.50", "d": "2025-03-06", "n": 3})]
    assert p.previews[0].text == "2025-03-06 9.50 3"
    p.close()


def test_chunks_follow_source_order_and_the_spool_file_is_removed():
    import os

    rows = [{"phone": f"317555{1000 + i}", "first_name": str(i)} for i in range(25)]
    p = plan(rows)
    chunks = list(p.spool.chunks(10))
    assert [i for i, _ in chunks] == [0, 1, 2] and [len(c) for _, c in chunks] == [10, 10, 5]
    assert chunks[2][1][0] == ("+13175551020", {"first_name": "20"})
    assert [i for i, _ in p.spool.chunks(10, start=2)] == [2]
    path = p.spool.path
    assert os.path.exists(path)
    p.close()
    assert not os.path.exists(path)


def test_the_spool_is_removed_when_validation_fails():
    import glob
    import tempfile

    before = set(glob.glob(f"{tempfile.gettempdir()}/mta-batch-*"))
    with pytest.raises(MtaValidationError):
        plan([{"phone": "x", "first_name": "A"}])
    assert set(glob.glob(f"{tempfile.gettempdir()}/mta-batch-*")) == before


@pytest.mark.parametrize(
    ("rows", "columns", "expected"),
    [
        ([{"phone": "1"}], None, [{"phone": "1"}]),
        ([("1", "Ann")], ["phone", "first_name"], [{"phone": "1", "first_name": "Ann"}]),
        (
            {"phone": ["1", "2"], "first_name": ["A", "B"]},
            None,
            [{"phone": "1", "first_name": "A"}, {"phone": "2", "first_name": "B"}],
        ),
        ((r for r in [{"phone": "1"}]), None, [{"phone": "1"}]),
    ],
)
def test_row_shapes_an_upstream_task_may_return(rows, columns, expected):
    assert list(iter_mappings(rows, columns=columns)) == expected


@pytest.mark.parametrize(
    ("rows", "columns", "error"),
    [
        ("[{'phone': '1'}]", None, "rows: got text, not rows"),
        ([("1", "Ann")], None, "rows: row 1 is a tuple; give columns"),
        ([("1",)], ["phone", "x"], "rows: row 1 has 1 values for 2 columns"),
        ([42], None, "rows: row 1 is a int"),
        ({"phone": ["1"], "x": ["a", "b"]}, None, "different lengths"),
        (None, None, "rows: no rows given"),
    ],
)
def test_row_shapes_that_are_errors(rows, columns, error):
    with pytest.raises(MtaValidationError, match=error):
        list(iter_mappings(rows, columns=columns))


def test_a_text_over_160_characters_fails_the_batch_naming_the_rows_before_anything_is_sent():
    rows = [
        {"phone": "3175551111", "first_name": "Ann"},
        {"phone": "3175552222", "first_name": "x" * 158},  # "Hi " + 158 = 161
        {"phone": "3175553333", "first_name": "y" * 157},  # 160: fits
    ]
    with pytest.raises(MtaValidationError) as info:
        plan(rows)
    text = str(info.value)
    assert info.value.field == "message"
    assert "1 recipient(s) cannot be sent as given: row 2 (***2222): the text is 161 characters" in text
    assert "is_mms=True" in text and "Nothing was sent" in text and "***3333" not in text


def test_skip_leaves_too_long_texts_out_and_counts_them():
    rows = [
        {"phone": "3175551111", "first_name": "Ann"},
        {"phone": "3175552222", "first_name": "x" * 158},
        {"phone": "3175552222", "first_name": "Bo"},  # the same person again: the first row wins, so no text
        {"phone": "3175553333", "first_name": "Cy"},
    ]
    p = plan(rows, on_invalid="skip", footer="")
    assert [r for r, _ in recipients(p)] == ["+13175551111", "+13175553333"]
    assert (p.recipients, p.too_long, p.duplicates, p.credits) == (2, 1, 1, 2)
    assert str(p.refused_rows[0]).startswith("row 2 (***2222): the text is 161 characters")
    p.close()


def test_header_and_footer_count_toward_the_limit_and_mms_allows_1550():
    rows = [{"phone": "3175551111", "first_name": "x" * 147}]  # "Hi " + 147 = 150
    plan(rows, header="ABCDEFGHI").close()  # 10 + 150 = 160
    with pytest.raises(MtaValidationError, match="the text is 162 characters"):
        plan(rows, header="ABCDEFGHI", footer="S")
    mms = plan([{"phone": "3175551111", "first_name": "x" * 1547}], is_mms=True)
    assert mms.credits == 3
    mms.close()
    with pytest.raises(MtaValidationError, match="the text is 1,551 characters; an MMS holds at most 1,550"):
        plan([{"phone": "3175551111", "first_name": "x" * 1548}], is_mms=True)
