"""Recipient normalization: phone numbers to E.164 (phonenumbers, imported lazily), emails kept."""

from __future__ import annotations

import re
from typing import Any

from airflow_provider_mta.core.masking import mask_recipient

DEFAULT_REGION = "US"
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class InvalidRecipientError(ValueError):
    """A recipient is neither a valid phone number nor an email. The text masks the number."""


def normalize_recipient(value: object, *, region: str | None = DEFAULT_REGION) -> str:
    """Return the E.164 form of a phone number (``+13175551111``) or the email, trimmed.

    Numbers without ``+`` are read in ``region`` (an ISO country code such as ``US`` or ``GB``).
    """
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidRecipientError(f"recipient must be text or a number, got {type(value).__name__}")
    text = str(value).strip()
    if not text:
        raise InvalidRecipientError("recipient is empty")
    if "@" in text:
        if not _EMAIL_RE.match(text):
            raise InvalidRecipientError(f"{mask_recipient(text)} is not a valid email address")
        user, _, domain = text.partition("@")
        return f"{user}@{domain.lower()}"
    import phonenumbers

    try:
        number = phonenumbers.parse(text, (region or DEFAULT_REGION).upper())
    except phonenumbers.NumberParseException:
        raise InvalidRecipientError(f"{mask_recipient(text)} is not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidRecipientError(
            f"{mask_recipient(text)} is not a valid phone number in region {(region or DEFAULT_REGION).upper()}"
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_subscribers(
    subscribers: list[str | int] | tuple[str | int, ...] | str | int,
    *,
    properties: dict[str, dict[str, Any]] | None = None,
    region: str | None = DEFAULT_REGION,
) -> tuple[list[str], dict[str, dict[str, Any]] | None]:
    """Normalize every recipient and re-key ``properties`` to the normalized strings.

    Duplicates (the same person written twice, e.g. ``3175551111`` and ``+13175551111``) are merged
    when their properties agree; otherwise the duplicate is an error. Errors name ``subscribers[i]``.
    """
    from airflow_provider_mta.core.errors import MtaValidationError

    items = [subscribers] if isinstance(subscribers, (str, int)) else list(subscribers)
    seen: dict[str, int] = {}
    out: list[str] = []
    props_out: dict[str, dict[str, Any]] | None = {} if properties is not None else None
    props_in = {str(k).strip(): v for k, v in (properties or {}).items()}
    for i, raw in enumerate(items):
        try:
            normalized = normalize_recipient(raw, region=region)
        except InvalidRecipientError as exc:
            raise MtaValidationError(f"subscribers[{i}]: {exc}", field=f"subscribers[{i}]") from None
        props = props_in.pop(str(raw).strip(), None)
        if props is None and normalized in props_in:
            props = props_in.pop(normalized)
        if normalized in seen:
            earlier = props_out.get(normalized) if props_out is not None else None
            if props is not None and earlier is not None and props != earlier:
                raise MtaValidationError(
                    f"subscribers[{i}]: {mask_recipient(normalized)} is also subscribers[{seen[normalized]}] "
                    "with different properties",
                    field=f"subscribers[{i}]",
                )
            continue
        seen[normalized] = i
        out.append(normalized)
        if props_out is not None and props is not None:
            props_out[normalized] = props
    if props_in:
        names = ", ".join(mask_recipient(k) for k in list(props_in)[:5])
        raise MtaValidationError(f"properties: keys that are not in subscribers: {names}", field="properties")
    return out, props_out
