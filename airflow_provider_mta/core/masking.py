"""Masking of phone numbers and emails for logs and error messages."""

from __future__ import annotations

import re

_E164_RE = re.compile(r"\+\d{8,15}(?!\d)")


def mask_recipient(value: object) -> str:
    """Keep only the last 4 digits of a phone number (``***1234``) or the first letter of an email user."""
    text = str(value)
    if "@" in text:
        user, _, domain = text.partition("@")
        return f"{user[:1]}***@{domain}"
    digits = [c for c in text if c.isdigit()]
    return "***" + "".join(digits[-4:])


def mask_phone_numbers(text: str) -> str:
    """Mask every E.164 number (``+13175551111`` -> ``***1111``) in free text, such as a server's error message."""
    return _E164_RE.sub(lambda m: mask_recipient(m.group(0)), text) if "+" in text else text


def redact(text: str, *secrets: str | None) -> str:
    """Replace every occurrence of each non-empty secret in ``text`` with ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
