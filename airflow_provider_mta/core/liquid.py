"""MTA's Liquid ``properties``: variables of a message, strict per-recipient rendering, and keeping
Liquid expressions intact while Airflow's Jinja renders the same text (both write ``{{ name }}``).

python-liquid is imported lazily, when a message is first parsed.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from airflow_provider_mta.core.errors import MtaValidationError
from airflow_provider_mta.core.masking import mask_recipient

if TYPE_CHECKING:
    from liquid import BoundTemplate, Environment

_EXPR_RE = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}", re.DOTALL)
_TAG_RE = re.compile(r"\{%-?\s*(.*?)\s*-?%\}", re.DOTALL)
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Liquid/Jinja words that are not variables.
_KEYWORDS = frozenset(
    """if elif else endif for endfor in unless endunless case when endcase assign capture endcapture and or not is
    raw endraw comment endcomment break continue cycle increment decrement set endset true false none nil empty blank
    limit offset reversed with include render""".split()  # noqa: SIM905
)

# Airflow context names that exist only in a run with a logical date: a run triggered from the UI, the CLI or
# the REST API without one has none of them (Airflow 3). Each maps to what renders in every kind of run.
_SAME_DATE = "(dag_run.logical_date or dag_run.run_after)"
LOGICAL_DATE_NAMES: dict[str, str] = {
    "ds": f"{{{{ {_SAME_DATE} | ds }}}}",
    "ds_nodash": f"{{{{ {_SAME_DATE} | ds_nodash }}}}",
    "ts": f"{{{{ {_SAME_DATE} | ts }}}}",
    "ts_nodash": f"{{{{ {_SAME_DATE} | ts_nodash }}}}",
    "ts_nodash_with_tz": f"{{{{ {_SAME_DATE} | ts_nodash_with_tz }}}}",
    "logical_date": "{{ dag_run.logical_date or dag_run.run_after }}",
    "data_interval_start": "{{ dag_run.data_interval_start or dag_run.run_after }}",
    "data_interval_end": "{{ dag_run.data_interval_end or dag_run.run_after }}",
    "prev_data_interval_start_success": "{{ dag_run.run_after }}",
    "prev_data_interval_end_success": "{{ dag_run.run_after }}",
}


def absent_context_name(name: str) -> str | None:
    """For a context name only runs with a logical date have: why it is missing and what to write instead."""
    instead = LOGICAL_DATE_NAMES.get(name)
    if instead is None:
        return None
    return (
        f"{{{{ {name} }}}} is an Airflow context variable, but absent in this run: a run without a logical date "
        f"(triggered manually, from the CLI or the REST API) has no {name}; write {instead} instead, "
        "which renders in every kind of run"
    )


@lru_cache(maxsize=1)
def _environment() -> Environment:
    from liquid import Environment, StrictUndefined

    return Environment(undefined=StrictUndefined)


@lru_cache(maxsize=64)
def parse(message: str) -> BoundTemplate:
    """Parse a Liquid message once; a syntax error is an :class:`MtaValidationError` on ``message``."""
    from liquid.exceptions import LiquidError

    try:
        return _environment().from_string(message)
    except LiquidError as exc:
        first_line = str(exc).splitlines()[0]
        raise MtaValidationError(f"message: invalid Liquid template: {first_line}", field="message") from None


def variables(message: str) -> list[str]:
    """The top-level Liquid variables a message uses (``{{ first_name }}`` -> ``first_name``)."""
    return [str(name) for name in parse(message).global_variables()]


def render(message: str, properties: Mapping[str, Any]) -> str:
    """Render for one recipient; an undefined variable raises instead of becoming an empty string.

    A message made only of text and plain ``{{ name }}`` outputs is rendered without python-liquid
    (about 20 times faster, byte for byte the same text); anything else, and any value that is not
    text, a number, a boolean or None, goes through python-liquid.
    """
    plain = _plain_outputs(message)
    if plain is not None:
        text = _render_plain(plain, properties)
        if text is not None:
            return text
    return str(parse(message).render(**properties))


# ``{{ name }}`` with Liquid's own whitespace (space, tab, newline, carriage return), no filters, no
# whitespace control (``{{-``), no dots or brackets.
_PLAIN_OUTPUT_RE = re.compile(r"\{\{[ \t\n\r]*([A-Za-z_][A-Za-z0-9_]*)[ \t\n\r]*\}\}")
_LITERAL_WORDS = frozenset(
    "true false nil null empty blank and or not contains in offset limit reversed cols continue with for".split()  # noqa: SIM905
)


@lru_cache(maxsize=64)
def _plain_outputs(message: str) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """``(texts, names)`` when the message is text and plain outputs only, else None.

    ``texts`` has one more item than ``names``: text, name, text, ..., text. The text between outputs
    may hold no brace at all (no tag, comment or other output), and python-liquid must agree on the
    variables, so the fast path is only taken where the two renderers cannot differ.
    """
    pieces = _PLAIN_OUTPUT_RE.split(message)
    texts, names = tuple(pieces[0::2]), tuple(pieces[1::2])
    if not names or any("{" in t or "}" in t for t in texts) or _LITERAL_WORDS.intersection(names):
        return None
    if set(names) != set(variables(message)):  # also raises on a Liquid syntax error, like parse()
        return None
    return texts, names


def _render_plain(plain: tuple[tuple[str, ...], tuple[str, ...]], properties: Mapping[str, Any]) -> str | None:
    """Liquid's output of each value (``to_liquid_string``), or None to let python-liquid decide."""
    texts, names = plain
    out = [texts[0]]
    for name, text in zip(names, texts[1:], strict=True):
        try:
            value = properties[name]
        except KeyError:
            return None  # python-liquid raises the undefined-variable error
        kind = type(value)
        if kind is str:
            out.append(value)
        elif kind is bool:
            out.append("true" if value else "false")
        elif value is None:
            pass
        elif kind is int or kind is float:
            try:
                out.append(str(value))
            except ValueError:  # an int too long to print: python-liquid says so
                return None
        else:
            return None
        out.append(text)
    return "".join(out)


def check_properties(
    message: str, recipients: Iterable[str], properties: Mapping[str, Mapping[str, Any]] | None, *, limit: int = 5
) -> list[str]:
    """Fail (naming recipients and variables) unless every recipient has every variable; return the variables."""
    needed = variables(message)
    if not needed:
        return needed
    props = properties or {}
    missing: list[str] = []
    count = 0
    for recipient in recipients:
        lacking = [v for v in needed if v not in props.get(recipient, {})]
        if lacking:
            count += 1
            if len(missing) < limit:
                missing.append(f"{mask_recipient(recipient)} lacks {', '.join(lacking)}")
    if count:
        more = f" and {count - limit} more recipient(s)" if count > limit else ""
        raise MtaValidationError(
            f"properties: the message uses {', '.join(needed)}, but {'; '.join(missing)}{more}", field="properties"
        )
    return needed


def protect_liquid(
    template: str, *, liquid_names: Collection[str], airflow_names: Collection[str], unknown_to_liquid: bool = False
) -> tuple[str, dict[str, str]]:
    """Hide Liquid expressions from Jinja: returns the protected text and placeholder -> original.

    ``{{ x ... }}`` is kept for Liquid when ``x`` is a recipient property (properties win over context
    names), left for Jinja when ``x`` is an Airflow context name, and is an error otherwise (or kept for
    Liquid with ``unknown_to_liquid``, when the property names are only known later). ``{% %}``
    tags are all kept for Liquid when any of them mentions a property, else all left for Jinja.
    """
    saved: dict[str, str] = {}

    def keep(match: re.Match[str]) -> str:
        token = f"__MTA_LIQUID_{len(saved)}__"
        saved[token] = match.group(0)
        return token

    def expression(match: re.Match[str]) -> str:
        root = _IDENT_RE.match(match.group(1))
        if root is None:
            return match.group(0)
        name = root.group(0)
        if name in liquid_names:
            return keep(match)
        if name in airflow_names or name in ("true", "false", "none", "True", "False", "None"):
            return match.group(0)
        if unknown_to_liquid:
            return keep(match)
        absent = absent_context_name(name)
        if absent is not None:
            raise MtaValidationError(f"message: {absent}", field="message")
        known = ", ".join(sorted(liquid_names)) or "none given"
        raise MtaValidationError(
            f"message: {{{{ {name} }}}} is neither a recipient property ({known}) nor an Airflow context name",
            field="message",
        )

    protected = _EXPR_RE.sub(expression, template)
    tags = _TAG_RE.findall(protected)

    def liquid_tag(tag: str) -> bool:
        names = set(_IDENT_RE.findall(tag))
        unknown = names - _KEYWORDS - set(airflow_names) if unknown_to_liquid else set()
        return bool(names & set(liquid_names) or unknown)

    if any(liquid_tag(tag) for tag in tags):
        protected = _TAG_RE.sub(keep, protected)
    return protected, saved


def restore_liquid(text: str, saved: Mapping[str, str]) -> str:
    """Put back what :func:`protect_liquid` hid."""
    for token, original in saved.items():
        text = text.replace(token, original)
    return text
