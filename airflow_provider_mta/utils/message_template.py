"""Render a message that mixes Airflow's Jinja (run-time context) with MTA's Liquid (recipient properties)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import logging

    import jinja2

    from airflow_provider_mta.core.estimate import Preview


def check_message_type(message: Any) -> None:
    """``message`` must be text (or None); an int, bytes or a list is an error naming the field."""
    from airflow_provider_mta.core.errors import MtaValidationError

    if message is not None and not isinstance(message, str):
        raise MtaValidationError(
            f"message: must be text, got {type(message).__name__} (pass a string, or a .txt/.liquid file name)",
            field="message",
        )
    if isinstance(message, str):
        try:
            message.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise MtaValidationError(
                f"message: holds a character that is not valid Unicode text (a lone surrogate, "
                f"{message[exc.start]!r} at position {exc.start}); fix the source text",
                field="message",
            ) from None


def render_message(
    message: str | None,
    *,
    context: Mapping[str, Any],
    jinja_env: jinja2.Environment,
    liquid_names: Collection[str],
    template_ext: Sequence[str] = (),
    unknown_to_liquid: bool = False,
) -> str | None:
    """Jinja-render ``message`` with the Airflow context, keeping Liquid property expressions intact.

    ``{{ ds }}`` becomes the run's date; ``{{ first_name }}`` stays for MTA when ``first_name`` is a
    recipient property; a name that is neither raises an error naming it (or, with ``unknown_to_liquid``,
    is kept for Liquid and checked against the rows later). A ``.txt``/``.liquid`` path
    (``template_ext``) is read through the DAG's template search path first.
    """
    import jinja2

    from airflow_provider_mta.core.errors import MtaValidationError
    from airflow_provider_mta.core.liquid import protect_liquid, restore_liquid

    if not message:
        return message
    source = message
    if template_ext and message.endswith(tuple(template_ext)) and jinja_env.loader is not None:
        source = jinja_env.loader.get_source(jinja_env, message)[0]
    airflow_names = set(context) | set(jinja_env.globals)
    protected, saved = protect_liquid(
        source, liquid_names=liquid_names, airflow_names=airflow_names, unknown_to_liquid=unknown_to_liquid
    )
    try:
        rendered = jinja_env.from_string(protected).render(**context)
    except jinja2.TemplateError as exc:
        raise MtaValidationError(f"message: Airflow could not render it: {exc}", field="message") from None
    return restore_liquid(rendered, saved)


def log_previews(log: logging.Logger | Any, previews: Sequence[Preview]) -> None:
    """Log what a few (masked) recipients would receive, with parts and credits."""
    for preview in previews:
        log.info(
            "To %s: %d part(s) %s, %d credit(s): %r",
            preview.to,
            preview.parts,
            preview.encoding,
            preview.credits,
            preview.text,
        )
