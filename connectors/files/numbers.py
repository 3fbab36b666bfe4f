"""Numbers as people type them in spreadsheets and exports: "1 234,50", "1.234,50", "1,234.50", "-12,5"."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.files.options import DecimalMark

#: thousands separators that are never the decimal mark, besides the white space ``str.split`` drops
_APOSTROPHE = "'"


def parse_number(value: Any, mark: DecimalMark = "auto") -> Decimal | None:
    """A decimal, None for an empty value; ValueError naming the text for anything else."""
    if type(value) is str:  # the usual case first: a file's cell (a million of them in a big price list)
        return _parse_text(value, mark)
    if value is None or isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a number")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    return _parse_text(str(value), mark)


def _parse_text(value: str, mark: DecimalMark) -> Decimal | None:
    # spaces of any kind (no-break, narrow no-break) and apostrophes separate thousands, never decimals
    text = "".join(value.split())
    if _APOSTROPHE in text:
        text = text.replace(_APOSTROPHE, "")
    if not text:
        return None
    decimal = mark if mark != "auto" else _decimal_mark(text)
    thousands = "." if decimal == "," else ","
    if thousands in text:
        text = text.replace(thousands, "")
    if decimal != "." and decimal in text:
        text = text.replace(decimal, ".")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a number") from None
    if not number.is_finite():
        raise ValueError(f"{value!r} is not a number")
    return number


def _decimal_mark(text: str) -> str:
    """The last of ',' and '.' is the decimal mark when both appear; a lone ',' is one (Russian exports), as is
    a lone '.'; a mark repeated ("1,234,567") separates thousands."""
    comma, dot = text.rfind(","), text.rfind(".")
    if comma >= 0 and dot >= 0:
        return "," if comma > dot else "."
    if comma >= 0:
        return "." if text.count(",") > 1 else ","
    return "," if text.count(".") > 1 else "."
