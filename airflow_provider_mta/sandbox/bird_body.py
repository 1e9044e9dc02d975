"""Validation of a ``POST /workspaces/{ws}/channels/{ch}/messages`` body, never more lenient than Bird.

The sandbox simulates text SMS only: ``receiver.contacts`` (1 to 50, each ``identifierKey``
``phonenumber`` and an E.164 ``identifierValue``), ``body`` of type ``text`` with a non-empty
``body.text.text`` of at most 1,600 characters, and an optional ``reference`` (a string of at most 256
characters). Any other field (Bird's ``template``, ``sender``, ``tags``, ``scheduledFor``, other body
types, ...) is refused with a 422 naming it, since the sandbox would not honour it. Each refusal is a
:class:`~.bird_errors.BirdError` 422 ``InvalidPayload`` whose ``details`` names the first bad field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from airflow_provider_mta.sandbox.bird_errors import BirdError, invalid

MAX_CONTACTS = 50
MAX_TEXT = 1600
MAX_REFERENCE = 256
E164 = re.compile(r"\+[1-9][0-9]{6,14}")  # used with fullmatch: no trailing newline, ASCII digits only
FIELDS = frozenset({"receiver", "body", "template", "reference"})
_NOT_SIMULATED = "is not simulated by the sandbox"


@dataclass(frozen=True)
class BirdSend:
    """A valid send: the recipients (E.164, in order), the text, the body as sent and the reference."""

    recipients: tuple[str, ...]
    text: str
    body: dict[str, Any]
    reference: str | None


def _object(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid(field, "must be an object")
    return value


def _only(value: dict[str, Any], allowed: frozenset[str], prefix: str) -> None:
    """Refuse the first key of ``value`` the sandbox does not simulate."""
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise invalid(f"{prefix}.{unknown[0]}" if prefix else unknown[0], _NOT_SIMULATED)


def _contacts(payload: dict[str, Any]) -> tuple[str, ...]:
    if "receiver" not in payload:
        raise invalid("receiver", "is required")
    receiver = _object(payload["receiver"], "receiver")
    _only(receiver, frozenset({"contacts"}), "receiver")
    contacts = receiver.get("contacts")
    if not isinstance(contacts, list) or not contacts:
        raise invalid("receiver.contacts", "must be a non-empty list")
    if len(contacts) > MAX_CONTACTS:
        raise invalid("receiver.contacts", f"must hold at most {MAX_CONTACTS} contacts")
    numbers = []
    for i, raw in enumerate(contacts):
        field = f"receiver.contacts[{i}]"
        contact = _object(raw, field)
        _only(contact, frozenset({"identifierKey", "identifierValue"}), field)
        if contact.get("identifierKey") != "phonenumber":
            raise invalid(f"{field}.identifierKey", 'must be "phonenumber"')
        value = contact.get("identifierValue")
        if not isinstance(value, str) or not E164.fullmatch(value):
            raise invalid(f"{field}.identifierValue", "must be a phone number in E.164 format (+ and 7 to 15 digits)")
        numbers.append(value)
    return tuple(numbers)


def _text(payload: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    if "template" in payload:
        raise invalid("template", "templates are not simulated by the sandbox")
    if "body" not in payload:
        raise invalid("body", "is required unless template is given")
    body = _object(payload["body"], "body")
    if body.get("type") != "text":
        raise invalid("body.type", 'only text bodies are simulated (type "text")')
    _only(body, frozenset({"type", "text"}), "body")
    text_object = _object(body.get("text"), "body.text")
    _only(text_object, frozenset({"text"}), "body.text")
    text = text_object.get("text")
    if not isinstance(text, str) or not text:
        raise invalid("body.text.text", "must be a non-empty string")
    if len(text) > MAX_TEXT:
        raise invalid("body.text.text", f"must be at most {MAX_TEXT} characters (it has {len(text)})")
    return text, body


def _reference(payload: dict[str, Any]) -> str | None:
    if "reference" not in payload:
        return None
    reference = payload["reference"]
    if not isinstance(reference, str):
        raise invalid("reference", "must be a string")
    if len(reference) > MAX_REFERENCE:
        raise invalid("reference", f"must be at most {MAX_REFERENCE} characters")
    return reference


def parse_bird_send(payload: Any) -> BirdSend:
    """Validate a decoded JSON body; the first problem found is raised as a 422."""
    if not isinstance(payload, dict):
        raise BirdError(422, "InvalidPayload", "the request body must be a JSON object")
    _only(payload, FIELDS, "")
    recipients = _contacts(payload)
    text, body = _text(payload)
    return BirdSend(recipients, text, body, _reference(payload))


def check_not_stopped(send: BirdSend, opted_out: frozenset[str]) -> None:
    """422 when a recipient texted STOP (the number itself is not echoed)."""
    for i, number in enumerate(send.recipients):
        if number in opted_out:
            raise invalid(f"receiver.contacts[{i}].identifierValue", "has opted out")
