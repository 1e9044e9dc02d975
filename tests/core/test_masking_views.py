"""The masked views the operators leave in their recipient template fields (what Airflow stores and shows)."""

from __future__ import annotations

from airflow_provider_mta.core.masking import ROWS_SHOWN, mask_phone_runs, mask_properties, mask_recipients, mask_rows


def test_recipients_in_every_shape_keep_their_last_4_digits() -> None:
    given = ["(503) 555-0611", "+15035550612", 15035550613, "ann@example.com", {"phone": "503.555.0614", "why": "STOP"}]
    assert mask_recipients(given) == [
        "***0611",
        "***0612",
        "***0613",
        "a***@example.com",
        {"phone": "***0614", "why": "STOP"},
    ]
    assert mask_recipients("['(503) 555-0611', '+1 503 555 0612']") == "['***0611', '***0612']"
    assert mask_recipients({"phone": ["+15035550611"]}) == {"phone": ["***0611"]}
    assert mask_recipients(None) is None
    assert mask_phone_runs("order 12345, call 503-555-0611") == "order 12345, call ***0611"


def test_properties_and_rows() -> None:
    props = {"(503) 555-0611": {"first_name": "Ed", "note": "or +15035550602"}}
    assert mask_properties(props) == {"***0611": {"first_name": "Ed", "note": "or ***0602"}}
    rows = [{"phone": "(503) 555-0602", "first_name": "Bob", "since": "2025-01-01"}] * (ROWS_SHOWN + 5)
    view = mask_rows(rows, phone_column="phone")
    assert view[0] == {"phone": "***0602", "first_name": "Bob", "since": "2025-01-01"}
    assert len(view) == ROWS_SHOWN + 1 and view[-1] == "... and 5 more row(s)"
    assert mask_rows([("+15035550601", "Ann")], phone_column="tel", columns=["tel", "n"]) == [
        {"tel": "***0601", "n": "Ann"}
    ]
    assert mask_rows({"phone": ["+15035550601", "+15035550602"]}, phone_column="phone") == [
        {"phone": "***0601"},
        {"phone": "***0602"},
    ]
    assert mask_rows(iter([{"phone": "+15035550601"}]), phone_column="phone") == "<list_iterator: rows not shown>"


def test_a_field_assigned_after_rendering_is_what_the_task_reads():
    """Code that renders and then sets the field (as bench/throughput.py sets rows like an XComArg) wins."""
    from airflow_provider_mta.operators.batch import BatchPersonalizedSmsOperator

    op = BatchPersonalizedSmsOperator(task_id="b", rows=[{"phone": "+13175550001"}], message="hi")
    op.render_template_fields({"params": {}})  # type: ignore[arg-type]
    assert op.unmasked("rows") == [{"phone": "+13175550001"}] and "+13175550001" not in str(op.rows)
    fresh = [{"phone": "+13175550002"}]
    op.rows = fresh
    assert op.unmasked("rows") is fresh
    op._restore_unmasked()  # rendering again keeps the assigned value, not the old rendered one
    assert op.rows is fresh
