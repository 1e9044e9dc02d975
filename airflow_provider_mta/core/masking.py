"""Masking of phone numbers and emails for logs and error messages."""

from __future__ import annotations


def mask_recipient(value: object) -> str:
    """Keep only the last 4 digits of a phone number (``***1234``) or the first letter of an email user."""
    text = str(value)
    if "@" in text:
        user, _, domain = text.partition("@")
        return f"{user[:1]}***@{domain}"
    digits = [c for c in text if c.isdigit()]
    return "***" + "".join(digits[-4:])


def redact(text: str, *secrets: str | None) -> str:
    """Replace every occurrence of each non-empty secret in ``text`` with ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
