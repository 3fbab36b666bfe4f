"""Business identifiers, normalized one way for the index and for a query: what is stored is what is looked up.

A phone is stored in E.164 (the project's own fast path, :func:`hub.expr.phones.to_e164`), an e-mail trimmed and
in lower case, an ИНН as its digits, a document number trimmed and in upper case, other ids trimmed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, get_args

from hub.expr.functions import email, to_e164
from hub.mapping.model import SearchKind

KINDS: tuple[SearchKind, ...] = get_args(SearchKind)
MAX_VALUE = 255  # the index column's length: a longer value is cut (an id that long is never typed by hand)
_INN_PREFIX = re.compile(r"^\s*(инн|inn)[\s:№#]*", re.IGNORECASE)
_SPACES = re.compile(r"\s+")


def _phone(text: str, region: str) -> str | None:
    if sum(ch.isdigit() for ch in text) < 5 or "@" in text:  # not worth the parser: no phone number is that short
        return None
    return to_e164(text.strip(), region)


def _inn(text: str, region: str) -> str | None:
    if text.isascii() and text.isdigit():  # as a CRM or 1C column holds it: no regex needed
        return text if len(text) in (10, 12) else None
    digits = _SPACES.sub("", _INN_PREFIX.sub("", text))
    return digits if digits.isascii() and digits.isdigit() and len(digits) in (10, 12) else None


def _document(text: str, region: str) -> str | None:
    return _SPACES.sub(" ", text.strip()).upper() or None


def _plain(text: str, region: str) -> str | None:
    return text.strip() or None


def _email(text: str, region: str) -> str | None:
    return email(text)


#: kind -> normalizer(text, region): the normal form, or None if the text is not such a value
NORMALIZERS: dict[SearchKind, Callable[[str, str], str | None]] = {
    "phone": _phone,
    "email": _email,
    "inn": _inn,
    "document": _document,
    "tranid": _plain,
    "call_id": _plain,
    "submission": _plain,
}


def normalize(kind: SearchKind, value: Any, region: str) -> str | None:
    """``value`` as the index keeps it, or ``None`` if it is empty or not a ``kind`` at all."""
    if value is None or isinstance(value, (dict, list)):
        return None
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    normalized = NORMALIZERS[kind](text, region)
    return normalized[:MAX_VALUE] if normalized else None


def readings(query: str, region: str, kinds: tuple[SearchKind, ...] = KINDS) -> list[tuple[SearchKind, str]]:
    """Every way a typed ``query`` can be read: ``8 (495) 123-45-67`` is the phone ``+74951234567`` (and the
    document number ``8 (495) 123-45-67``); only what the index holds decides which one was meant."""
    found = []
    for kind in kinds:
        value = normalize(kind, query, region)
        if value is not None:
            found.append((kind, value))
    return found
