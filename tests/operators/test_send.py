"""SendSmsOperator: Jinja + Liquid templating, validation before sending, dry run (sandbox over loopback)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from airflow_provider_mta.core.errors import MtaValidationError
from airflow_provider_mta.operators.send import SendSmsOperator
from airflow_provider_mta.utils.message_template import render_message

CONTEXT = {"ds": "2025-03-06", "params": {"shop": "Acme"}, "ti": SimpleNamespace(task_id="t")}


def env():
    return SendSmsOperator(task_id="env_probe", subscribers=["1"], message="x").get_template_env()


@pytest.mark.parametrize(
    ("message", "names", "expected"),
    [
        ("Hi {{ first }} on {{ ds }}", {"first"}, "Hi {{ first }} on 2025-03-06"),
        ("{{ params.shop }}: {{first|upcase}}", {"first"}, "Acme: {{first|upcase}}"),
        ('{{ first | default: "friend" }} {{ ti.task_id }}', {"first"}, '{{ first | default: "friend" }} t'),
        (
            "{% if vip %}VIP {{ code }}{% endif %} {{ ds }}",
            {"vip", "code"},
            "{% if vip %}VIP {{ code }}{% endif %} 2025-03-06",
        ),
        ("{% if params.shop %}{{ ds }}{% endif %}", set(), "2025-03-06"),
        ("{{ ds }} wins only when not a property", {"ds"}, "{{ ds }} wins only when not a property"),
        ("no templating", set(), "no templating"),
    ],
)
def test_render_message_keeps_liquid_and_renders_jinja(message, names, expected):
    assert render_message(message, context=CONTEXT, jinja_env=env(), liquid_names=names) == expected


def test_a_name_that_is_neither_property_nor_context_is_an_error():
    with pytest.raises(MtaValidationError, match=r"\{\{ frist \}\} is neither a recipient property \(first\)"):
        render_message("Hi {{ frist }}", context=CONTEXT, jinja_env=env(), liquid_names={"first"})


def test_message_from_a_liquid_file(tmp_path):
    (tmp_path / "hello.liquid").write_text("Hi {{ first }}, {{ params.shop }} here")
    op = SendSmsOperator(task_id="f", subscribers=["1"], message="hello.liquid")
    import jinja2

    jinja_env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(tmp_path)))
    assert (
        render_message(
            op.message, context=CONTEXT, jinja_env=jinja_env, liquid_names={"first"}, template_ext=op.template_ext
        )
        == "Hi {{ first }}, Acme here"
    )


def make(**kw):
    op = SendSmsOperator(task_id="send", **kw)
    op.render_template_fields(CONTEXT)
    return op


def test_a_rendered_text_over_160_characters_is_refused_before_sending(sandbox):
    op = make(
        subscribers=["3175551111", "3175552222"],
        message="Hi {{ first }}, " + "x" * 150,
        properties={"3175551111": {"first": "Al"}, "3175552222": {"first": "Alexandra"}},
    )
    with pytest.raises(MtaValidationError, match=r"for \*\*\*2222, the text is 164 characters") as info:
        op.execute(CONTEXT)
    assert "is_mms=True" in str(info.value)
    assert sandbox.messages() == []


def test_dry_run_previews_and_estimates_and_sends_nothing(sandbox):
    op = make(
        subscribers=["3175551111", "+13175552222"],
        message="Hi {{ first }}, {{ params.shop }} on {{ ds }} " + "ж" * 60,
        properties={"3175551111": {"first": "Ann"}, "+13175552222": {"first": "Bobby😀"}},
        footer="STOP=end",
        dry_run=True,
    )
    out = op.execute(CONTEXT)
    assert out["dry_run"] is True and out["recipients"] == 2
    first, second = out["previews"]
    assert first["to"] == "***1111" and first["text"].startswith("Hi Ann, Acme on 2025-03-06 ")
    assert first["text"].endswith(" STOP=end") and first["parts"] == 2  # UCS-2, 96 units / 67
    assert second["parts"] == 2  # 100 units (the emoji counts 2)
    assert out["credits"] == 4
    assert sandbox.messages() == []


@pytest.mark.parametrize(
    ("kw", "text"),
    [
        ({"subscribers": ["+13175551111"], "message": "Hi {{ first }}", "properties": {"+13175551111": {}}}, "neither"),
        (
            {
                "subscribers": ["+13175551111", "+13175552222"],
                "message": "Hi {{ first }}",
                "properties": {"+13175551111": {"first": "A"}},
            },
            "***2222 lacks first",
        ),
        ({"subscribers": ["+13175551111"], "message": "Hi {% if %}"}, "Airflow could not render it"),
        (
            {
                "subscribers": ["+13175551111"],
                "message": "Hi {{ first | }}",
                "properties": {"+13175551111": {"first": "A"}},
            },
            "invalid Liquid",
        ),
        ({"subscribers": ["+13175551111"], "groups": [1], "message": "x"}, "exactly one kind"),
        ({"subscribers": ["+1317555"], "message": "x"}, "subscribers[0]"),
        ({"subscribers": ["+13175551111"], "message": "x", "scheduled_date": "2001-01-01T00:00:00Z"}, "in the past"),
    ],
)
def test_bad_input_fails_before_anything_is_sent(sandbox, kw, text):
    with pytest.raises(MtaValidationError) as info:
        make(**kw).execute({**CONTEXT, "ti": SimpleNamespace(dag_id="d", task_id="t", run_id="r", map_index=-1)})
    assert text in str(info.value)
    assert sandbox.messages() == []


def test_request_id_is_stable_for_the_same_run_and_user_id_wins(sandbox):
    ti = SimpleNamespace(dag_id="d", task_id="send", run_id="r1", map_index=-1)
    first = make(subscribers=["+13175551111"], message="hello").execute({**CONTEXT, "ti": ti})
    again = make(subscribers=["+13175551111"], message="hello").execute({**CONTEXT, "ti": ti})
    assert first["request_id"] == again["request_id"] and again["already_sent"] and not first["already_sent"]
    other_run = make(subscribers=["+13175551111"], message="hello").execute(
        {**CONTEXT, "ti": SimpleNamespace(dag_id="d", task_id="send", run_id="r2", map_index=-1)}
    )
    assert other_run["request_id"] != first["request_id"]
    mine = make(subscribers=["+13175551111"], message="hello", request_id="my-id-1").execute({**CONTEXT, "ti": ti})
    assert mine["request_id"] == "my-id-1"
    assert len(sandbox.messages()) == 3


def test_template_fields_cover_what_users_template():
    assert {"message", "subscribers", "properties", "tags", "external_id", "scheduled_date", "image"} <= set(
        SendSmsOperator.template_fields
    )
    assert ".liquid" in SendSmsOperator.template_ext and ".txt" in SendSmsOperator.template_ext
