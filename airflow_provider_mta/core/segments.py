"""Message parts and credits: GSM-7 vs UCS-2, per-part limits, SMS vs MMS credits."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

# GSM 03.38 basic character set (one septet each) and extension table (escape + char = two septets).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

SMS_CREDITS = 1
MMS_CREDITS = 3
MMS_MAX_CHARS = 1550
_LIMITS = {"GSM-7": (160, 153), "UCS-2": (70, 67)}

Encoding = Literal["GSM-7", "UCS-2"]


@dataclass(frozen=True)
class MessageCost:
    """Encoding, length in code units, number of parts and credits of one message to one recipient."""

    encoding: Encoding
    units: int
    parts: int
    credits: int
    is_mms: bool


GSM7_ALL = GSM7_BASIC | GSM7_EXTENSION


def encoding_of(text: str) -> Encoding:
    """GSM-7 when every character is in the GSM basic or extension table, else UCS-2."""
    return "GSM-7" if GSM7_ALL.issuperset(text) else "UCS-2"


def _char_units(char: str, encoding: Encoding) -> int:
    if encoding == "GSM-7":
        return 2 if char in GSM7_EXTENSION else 1
    return 2 if ord(char) > 0xFFFF else 1  # UTF-16: astral characters (most emoji) are surrogate pairs


def count_parts(text: str) -> tuple[Encoding, int, int]:
    """Return ``(encoding, units, parts)``; a 2-unit character is never split across two parts."""
    if GSM7_ALL.issuperset(text):
        encoding: Encoding = "GSM-7"
        total = len(text)
        if not GSM7_EXTENSION.isdisjoint(text):
            total += sum(map(text.count, GSM7_EXTENSION))
    else:
        encoding = "UCS-2"
        # UTF-16 code units: astral characters (most emoji) are surrogate pairs.
        total = len(text) if text.isascii() else len(text.encode("utf-16-le", "surrogatepass")) // 2
    single, multi = _LIMITS[encoding]
    if total <= single:
        return encoding, total, 1
    units = [_char_units(c, encoding) for c in text]
    parts, used = 1, 0
    for size in units:
        if used + size > multi:
            parts, used = parts + 1, 0
        used += size
    return encoding, total, parts


@lru_cache(maxsize=1024)
def _cost(encoding: Encoding, units: int, parts: int, is_mms: bool) -> MessageCost:
    """One shared (frozen) :class:`MessageCost` per distinct result; most texts of a batch share a few."""
    if is_mms:
        return MessageCost(encoding, units, 1, MMS_CREDITS, True)
    return MessageCost(encoding, units, parts, parts * SMS_CREDITS, False)


def estimate(text: str, *, is_mms: bool = False) -> MessageCost:
    """Credits for one recipient: 1 per SMS part, or 3 for an MMS (up to 1550 characters)."""
    return _cost(*count_parts(text), bool(is_mms))


def compose(message: str, *, header: str | None = None, footer: str | None = None) -> str:
    """The text a phone receives: header + newline + message + space + footer (MTA's rule)."""
    text = message
    if header:
        text = f"{header}\n{text}"
    if footer:
        text = f"{text} {footer}"
    return text
