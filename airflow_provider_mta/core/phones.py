"""Recipient normalization: phone numbers to E.164 (phonenumbers, imported lazily), emails kept."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from airflow_provider_mta.core.masking import mask_recipient

DEFAULT_REGION = "US"
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# The usual ways a North American (+1) number is written: +13175551111, 3175551111, 1-317-555-1111,
# (317) 555-1111, 317.555.1111, +1 317 555 1111. Group 1 is "+1" / "1" when the country code is given.
_NANP_SHAPE_RE = re.compile(r"(\+1|1)?[ .-]?\(?([2-9][0-9]{2})\)?[ .-]?([0-9]{3})[ .-]?([0-9]{4})")


class InvalidRecipientError(ValueError):
    """A recipient is neither a valid phone number nor an email. The text masks the number."""


def is_known_region(region: str) -> bool:
    """True when ``phonenumbers`` can read national numbers in ``region`` (an ISO country code like ``GB``)."""
    import phonenumbers

    return region.upper() in phonenumbers.SUPPORTED_REGIONS


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
        # ``mailto:ann@example.com`` and ``<ann@example.com>`` are the same address; so is any capitalization
        # (mailbox names are case-insensitive in practice, and MTA matches subscribers by address).
        if text[:7].lower() == "mailto:":
            text = text[7:].strip()
        if text.startswith("<") and text.endswith(">"):
            text = text[1:-1].strip()
        if not _EMAIL_RE.match(text):
            raise InvalidRecipientError(f"{mask_recipient(text)} is not a valid email address")
        return text.lower()
    region_code = (region or DEFAULT_REGION).upper()
    return _valid_nanp(text, region_code) or _parse(text, region_code)


def _parse(text: str, region_code: str) -> str:
    """Any way of writing a phone number, read and validated by phonenumbers."""
    import phonenumbers

    try:
        number = phonenumbers.parse(text, region_code)
    except phonenumbers.NumberParseException:
        raise InvalidRecipientError(f"{mask_recipient(text)} is not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidRecipientError(f"{mask_recipient(text)} is not a valid phone number in region {region_code}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _valid_nanp(text: str, region_code: str) -> str | None:
    """The E.164 form of a +1 number written in one of the usual shapes, when phonenumbers finds it valid.

    ``phonenumbers.parse`` spends about two thirds of a recipient's validation on reading free text
    (extensions, letters, carrier codes). For these plain shapes it can only arrive at country code 1
    and the same ten digits, so the number is built directly and still validated by
    ``phonenumbers.is_valid_number``. None means "not this shape, or not valid": the caller then takes
    the full ``parse`` path, which gives the answer and the error text for everything else.
    """
    match = _NANP_SHAPE_RE.fullmatch(text)
    if match is None:
        return None
    country, area, exchange, line = match.groups()
    if country != "+1" and region_code not in _nanp_regions():
        return None  # without "+1", a number only means +1 when read in a North American region
    import phonenumbers

    national = area + exchange + line
    number = phonenumbers.PhoneNumber(country_code=1, national_number=int(national))
    us_first = _us_checked_first()
    if not (
        (us_first and phonenumbers.is_valid_number_for_region(number, "US")) or phonenumbers.is_valid_number(number)
    ):
        return None
    return "+1" + national


@lru_cache(maxsize=1)
def _nanp_regions() -> frozenset[str]:
    import phonenumbers

    return frozenset(phonenumbers.COUNTRY_CODE_TO_REGION_CODE[1])


@lru_cache(maxsize=1)
def _us_checked_first() -> bool:
    """True when ``is_valid_number`` of a +1 number tries the US rules first (and finds it valid if they do).

    phonenumbers looks for a +1 number's region in its list order, and a region without
    ``leading_digits`` matches only a number valid by that region's rules. With US first and without
    ``leading_digits``, "valid for US" is therefore "valid", and the common US number is checked once
    instead of twice. Any other metadata: always ``is_valid_number``.
    """
    import phonenumbers
    from phonenumbers.phonemetadata import PhoneMetadata

    us = PhoneMetadata.metadata_for_region("US", None)
    return phonenumbers.COUNTRY_CODE_TO_REGION_CODE[1][0] == "US" and us is not None and us.leading_digits is None


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
    props_in: dict[str, Any] = {}
    for key, value in (properties or {}).items():
        try:
            normalized_key = normalize_recipient(key, region=region)
        except InvalidRecipientError:
            normalized_key = str(key).strip()  # reported below as not in subscribers
        if normalized_key in props_in and props_in[normalized_key] != value:
            raise MtaValidationError(
                f"properties: {mask_recipient(normalized_key)} is keyed twice (written two ways) with different values",
                field="properties",
            )
        props_in[normalized_key] = value
    for i, raw in enumerate(items):
        try:
            normalized = normalize_recipient(raw, region=region)
        except InvalidRecipientError as exc:
            raise MtaValidationError(f"subscribers[{i}]: {exc}", field=f"subscribers[{i}]") from None
        props = props_in.pop(normalized, None)
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
