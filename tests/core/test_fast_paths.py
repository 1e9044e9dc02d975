"""The per-row fast paths give exactly what the slow, obvious code gives.

- ``liquid.render`` renders messages made of text and plain ``{{ name }}`` outputs without
  python-liquid; its output must be byte for byte python-liquid's, for every value type.
- ``segments.count_parts`` counts units with set and codec operations instead of per character.
- ``RecipientSpool.chunk`` parses a chunk's properties with one ``json.loads``.
- ``SendRequest`` turns common property values into text without building a field name per value.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import json
import random

import pytest
from liquid import Environment, StrictUndefined
from liquid.exceptions import LiquidError

from airflow_provider_mta.backends.mta.models import SendRequest
from airflow_provider_mta.core import liquid
from airflow_provider_mta.core.errors import MtaValidationError
from airflow_provider_mta.core.outgoing import _scalar_to_str
from airflow_provider_mta.core.segments import _LIMITS, GSM7_ALL, GSM7_EXTENSION, _char_units, count_parts
from airflow_provider_mta.core.spool import RecipientSpool

ENV = Environment(undefined=StrictUndefined)


class Label(str):
    """A str subclass (python-liquid writes it as it is)."""


class Level(enum.IntEnum):
    LOW = 1


VALUES = [
    "",
    "Ann",
    "Zoë",
    "José",
    "李",
    "😀 party",
    "a\nb\r\nc\t",
    "  spaced  ",
    "{{ not_liquid }} {% if %}",
    "<b>&amp;</b>",
    "true",
    "None",
    0,
    -1,
    42,
    10**20,
    -(10**30),
    0.0,
    -0.0,
    1.0,
    0.1,
    1.5e-7,
    1e16,
    123456789.123456789,
    float("nan"),
    float("inf"),
    float("-inf"),
    True,
    False,
    None,
    decimal.Decimal("1.10"),
    dt.date(2025, 3, 6),
    dt.datetime(2025, 3, 6, 19, 30),
    [1, "a", None],
    {"a": 1},
    ("x", "y"),
    Label("labelled"),
    Level.LOW,
]

PLAIN = [
    "Hi {{ first_name }}",
    "{{first_name}}",
    "{{\tfirst_name\n}}",
    "{{  first_name  }}, you have {{ points }} points",
    "a {{ first_name }} b {{ first_name }} c",
    "{{ first_name }}{{ points }}",
    "Ünïcödé ✓ {{ first_name }} 😀\n100% sure",
    "{{ _x1 }} and {{ first_name }}",
]
NOT_PLAIN = [
    "{{- first_name }}",
    "{{ first_name -}} x",
    "{{ first_name | upcase }}",
    "{{ first_name.size }}",
    "{{ first_name[0] }}",
    "{% if first_name %}yes{% endif %}",
    "{{ first_name }} {{ true }}",
    "{{ first_name }} {{ nil }}",
    "{ {{ first_name }} }",
    "{{ first_name }} }} {{",
    "{{ first_name }} %} stray",
    "{{ first-name }}",
    "No variables at all",
    "{{ first_name }}{% raw %}{{ x }}{% endraw %}",
]


def reference(message: str, props: dict) -> tuple[str, str | None]:
    """python-liquid's answer: ("ok", text) or ("error", None)."""
    try:
        return "ok", str(ENV.from_string(message).render(**props))
    except (LiquidError, TypeError, ValueError):
        return "error", None


def ours(message: str, props: dict) -> tuple[str, str | None]:
    try:
        return "ok", liquid.render(message, props)
    except (LiquidError, TypeError, ValueError, MtaValidationError):
        return "error", None


@pytest.mark.parametrize("message", PLAIN)
def test_plain_messages_take_the_fast_path(message):
    assert liquid._plain_outputs(message) is not None


@pytest.mark.parametrize("message", NOT_PLAIN)
def test_other_messages_go_through_python_liquid(message):
    assert liquid._plain_outputs(message) is None


@pytest.mark.parametrize("message", PLAIN + NOT_PLAIN)
def test_render_is_byte_identical_to_python_liquid_for_every_value_type(message):
    for value in VALUES:
        for other in (7, "x", None):
            props = {"first_name": value, "points": other, "_x1": value}
            got, want = ours(message, props), reference(message, props)
            assert got == want, (message, value, other)
            if want[0] == "ok":
                assert type(got[1]) is str


@pytest.mark.parametrize("message", PLAIN)
def test_absent_values_fail_like_python_liquid(message):
    assert reference(message, {}) == ("error", None)
    with pytest.raises(LiquidError):
        liquid.render(message, {})
    if "points" in message:
        with pytest.raises(LiquidError):
            liquid.render(message, {"first_name": "Ann"})


def test_random_plain_messages_and_values_match_python_liquid():
    rng = random.Random(8)
    alphabet = "ab Ünï😀€\n\t.,!%-:;" + "xyz"
    names = ["first_name", "points", "city", "_n"]
    scalars = [v for v in VALUES if v is None or type(v) in (str, int, float, bool)]
    for _ in range(300):
        pieces = []
        for _ in range(rng.randint(1, 4)):
            pieces.append("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6))))
            pieces.append("{{" + " " * rng.randint(0, 2) + rng.choice(names) + " " * rng.randint(0, 2) + "}}")
        pieces.append("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6))))
        message = "".join(pieces)
        props = {n: rng.choice(scalars) for n in names if rng.random() < 0.9}
        assert liquid._plain_outputs(message) is not None, message
        assert ours(message, props) == reference(message, props), (message, props)


def test_a_liquid_syntax_error_is_still_a_validation_error():
    with pytest.raises(MtaValidationError, match="invalid Liquid template"):
        liquid.render("{{ first_name }} {% if %}", {"first_name": "Ann"})


# -- segments ---------------------------------------------------------------------------------------


def slow_count_parts(text: str) -> tuple[str, int, int]:
    """The obvious per-character count (the code before the fast path)."""
    encoding = "GSM-7" if all(c in GSM7_ALL for c in text) else "UCS-2"
    units = [_char_units(c, encoding) for c in text]  # type: ignore[arg-type]
    total = sum(units)
    single, multi = _LIMITS[encoding]
    if total <= single:
        return encoding, total, 1
    parts, used = 1, 0
    for size in units:
        if used + size > multi:
            parts, used = parts + 1, 0
        used += size
    return encoding, total, parts


def test_count_parts_matches_the_per_character_count():
    rng = random.Random(3)
    pools = [
        "abc XYZ 0123",
        "abc" + "".join(GSM7_EXTENSION),
        "abcé" + "ç",
        "ab😀李\ud800",  # an astral character and a lone surrogate
        "".join(sorted(GSM7_ALL)),
    ]
    for _ in range(3000):
        pool = rng.choice(pools)
        text = "".join(rng.choice(pool) for _ in range(rng.choice((0, 1, 5, 69, 70, 71, 140, 159, 160, 161, 400))))
        assert count_parts(text) == slow_count_parts(text), repr(text)


# -- spool and payloads ---------------------------------------------------------------------------


def test_spool_chunks_parse_properties_per_chunk_exactly():
    props = [{}, {"a": "x"}, {"n": 1, "f": 1.5, "b": True, "u": "Zoë 😀", "q": 'say "hi"\n'}]
    with RecipientSpool() as spool:
        for i in range(7):
            spool.add(f"+1317555{1000 + i}", i + 1, json.dumps(props[i % 3], sort_keys=True, separators=(",", ":")))
        spool.finish()
        chunks = list(spool.chunks(3))
        assert [i for i, _ in chunks] == [0, 1, 2]
        flat = [item for _, chunk in chunks for item in chunk]
        assert flat == [(f"+1317555{1000 + i}", props[i % 3]) for i in range(7)]
        assert spool.chunk(5, 3) == []


@pytest.mark.parametrize("value", ["x", "", "Zoë", 0, -3, 10**20, 1.5, -0.0, 1e300, True, False, Level.LOW])
def test_property_values_become_the_same_text_as_before(value):
    request = SendRequest.build(subscribers=["+13175551111"], message="Hi", properties={"+13175551111": {"v": value}})
    assert request.properties == {"+13175551111": {"v": _scalar_to_str("v", value)}}


def test_bad_property_values_still_name_the_field():
    with pytest.raises(MtaValidationError, match=r"properties\['\*\*\*1111'\]\['v'\] is null"):
        SendRequest.build(subscribers=["+13175551111"], message="Hi", properties={"+13175551111": {"v": None}})
    with pytest.raises(MtaValidationError, match=r"must be text or a number, got list"):
        SendRequest.build(subscribers=["+13175551111"], message="Hi", properties={"+13175551111": {"v": [1]}})


# -- the plan as a whole ----------------------------------------------------------------------------


def test_the_batch_fingerprint_and_estimate_are_those_of_the_code_before_the_fast_paths():
    """A retry started before this change must still match its checkpoint (same fingerprint)."""
    from airflow_provider_mta.core.batch_plan import plan_batch
    from airflow_provider_mta.core.rows import ColumnMapping

    names = ("Ann", "Bob", "Zoë", "José", "Li", "Maria", "Olu", "Chen")
    formats = ("+1317{}", "(317) {}-{}", "317.{}.{}")
    rows = []
    for i in range(50):
        digits = f"{5550000 + i:07d}"
        fmt = formats[i % 3]
        phone = fmt.format(digits) if i % 3 == 0 else fmt.format(digits[:3], digits[3:])
        rows.append({"phone": phone, "first_name": f"{names[i % len(names)]}{i}", "points": i})
    rows[3]["points"], rows[4]["first_name"], rows[5]["points"] = 1.5, "Zoë 😀", True
    rows += [{"phone": "3175550001", "first_name": "Dup", "points": 1}, {"phone": "x", "first_name": "Bad"}]
    plan = plan_batch(
        rows,
        mapping=ColumnMapping(),
        message="Hi {{ first_name }}, {{ points }} pts",
        region="US",
        on_invalid="skip",
        identity={"message": "m"},
    )
    try:
        # Computed with the code before the fast paths (python-liquid for every row, json.dumps per row).
        assert plan.fingerprint == "15b8a841f978314974cb790f2c624fdc444654569bc8f10dd59ca26e5f8a3e93"
        assert (plan.recipients, plan.duplicates, plan.invalid, plan.credits, plan.parts) == (50, 1, 1, 50, 50)
        assert [p.text for p in plan.previews] == [
            "Hi Ann0, 0 pts",
            "Hi Bob1, 1 pts",
            "Hi Zoë2, 2 pts",
            "Hi José3, 1.5 pts",
            "Hi Zoë 😀, 4 pts",
        ]
    finally:
        plan.close()


@pytest.mark.parametrize(
    "props", [{}, {"b": 1, "a": "x"}, {"u": "Zoë 😀", "f": 0.1, "t": True, "n": None, "q": 'a"b\\c\n'}]
)
def test_properties_json_is_json_dumps_sorted_and_compact(props):
    from airflow_provider_mta.core.batch_plan import _PROPS_JSON

    assert _PROPS_JSON(props) == json.dumps(props, sort_keys=True, separators=(",", ":"))


@pytest.mark.parametrize("block", [1, 2, 3, 1000])
def test_recipients_normalized_a_block_at_a_time_give_the_same_plan(monkeypatch, block):
    from airflow_provider_mta.core import batch_plan
    from airflow_provider_mta.core.rows import ColumnMapping

    monkeypatch.setattr(batch_plan, "NORMALIZE_BLOCK_ROWS", block)
    rows = [
        {"phone": "nope", "first_name": "A"},
        {"phone": "3175551111", "first_name": "B"},
        {"phone": "+1 317 555 1111", "first_name": "C"},  # duplicate of row 2, other properties
        {"phone": "12", "first_name": "D"},
        {"phone": "bob@Example.com", "first_name": "E"},
        {"phone": "3175553333", "first_name": "F"},
        {"phone": "3175553333", "first_name": None},  # lacks first_name, but merged into row 6
    ]
    plan = batch_plan.plan_batch(
        rows, mapping=ColumnMapping(), message="Hi {{ first_name }}", region="US", on_invalid="skip", identity=1
    )
    try:
        assert (plan.rows, plan.recipients, plan.invalid, plan.duplicates) == (7, 3, 2, 2)
        assert [r for _, chunk in plan.spool.chunks(10) for r, _ in chunk] == [
            "+13175551111",
            "bob@example.com",
            "+13175553333",
        ]
        assert [str(p) for p in plan.invalid_rows] == [
            "row 1: *** is not a phone number",
            "row 4: ***12 is not a valid phone number in region US",
        ]
        assert [str(p) for p in plan.conflicting_duplicates] == [
            "row 3 (***1111): same recipient as row 2 with other properties; row 2 is kept"
        ]
    finally:
        plan.close()
    rows.insert(4, {"phone": "(317) 555-2222", "first_name": None})
    with pytest.raises(MtaValidationError, match=r"lack a value: row 5 \(\*\*\*2222\): lacks first_name"):
        batch_plan.plan_batch(rows, mapping=ColumnMapping(), message="Hi {{ first_name }}", on_invalid="skip")
