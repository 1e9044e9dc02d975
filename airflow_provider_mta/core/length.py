"""MTA's length limits, the one place they are checked: an SMS holds 160 characters, an MMS 1,550.

MTA refuses a longer text with 400 "Character Limit Exceeded" rather than splitting it. Its docs say
"characters" without saying how non-GSM text is counted, so the provider takes the strictest reading
of the two a server could use: a text's length is its GSM-7 septet count when every character is in
the GSM-7 tables (the extension characters ``^ { } \\ [ ~ ] | €`` count 2), else its UTF-16 code
unit count (an emoji outside the Basic Multilingual Plane counts 2). Both are the ``units`` of
:func:`~airflow_provider_mta.core.segments.count_parts`, so the length rule and the parts estimate
can never disagree about a text. The sandbox refuses with this same rule.
"""

from __future__ import annotations

from airflow_provider_mta.core.segments import MMS_CREDITS, MMS_MAX_CHARS, count_parts

SMS_MAX_CHARS = 160
CUT_MARKER = "...(cut)"
"""What :func:`fit_sms` puts at the end of a text it had to shorten (GSM-7, 8 characters)."""

# MTA's error catalog: 400 "Character Limit Exceeded", "SMS messages are limited to 160 characters".
MTA_SMS_LIMIT_MESSAGE = f"Character Limit Exceeded: SMS messages are limited to {SMS_MAX_CHARS} characters"
MTA_MMS_LIMIT_MESSAGE = f"Character Limit Exceeded: MMS messages are limited to {MMS_MAX_CHARS} characters"


def text_length(text: str) -> int:
    """The length MTA's limits are checked against (GSM-7 septets, else UTF-16 code units)."""
    return count_parts(text)[1]


def limit_for(*, is_mms: bool) -> int:
    """160 for an SMS, 1,550 for an MMS."""
    return MMS_MAX_CHARS if is_mms else SMS_MAX_CHARS


def length_problem(text: str, *, is_mms: bool) -> str | None:
    """None when the text fits; else what is wrong and how to fix it (no recipient in it)."""
    problem = units_problem(text_length(text), is_mms=is_mms)
    return None if problem is None else f"{problem}: {length_fix(is_mms=is_mms)}"


def units_problem(length: int, *, is_mms: bool) -> str | None:
    """None when a text of this length fits; else ``"the text is 161 characters; an SMS holds at most 160"``."""
    limit = limit_for(is_mms=is_mms)
    if length <= limit:
        return None
    kind = "an MMS" if is_mms else "an SMS"
    return f"the text is {length:,} characters; {kind} holds at most {limit:,}"


def length_fix(*, is_mms: bool) -> str:
    """How to make a text fit (said once, after the recipients it concerns)."""
    if is_mms:
        return "shorten it"
    return (
        f"MTA refuses a longer SMS; shorten it, or send it as MMS with is_mms=True "
        f"({MMS_CREDITS} credits, up to {MMS_MAX_CHARS:,} characters)"
    )


_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)


def is_blank(text: str) -> bool:
    """True when a text shows nothing: empty, only whitespace, or only zero-width characters."""
    return not text.translate(_INVISIBLE).strip()


def fit_sms(text: str, *, limit: int = SMS_MAX_CHARS, marker: str = CUT_MARKER) -> str:
    """``text`` unchanged when it fits ``limit``; else its longest prefix that fits with ``marker`` after it."""
    if text_length(text) <= limit:
        return text
    low, high = 0, len(text)  # the longest prefix (in code points, never half a surrogate pair) that fits
    while low < high:
        middle = (low + high + 1) // 2
        if text_length(text[:middle].rstrip() + marker) <= limit:
            low = middle
        else:
            high = middle - 1
    return text[:low].rstrip() + marker
