"""Helpers the compiled code calls. Shared with the reference interpreter in the tests, so both agree.

Arithmetic goes through these helpers rather than bare Python operators so that the language has its
own, documented semantics: ``null`` in gives ``null`` out, a Decimal meets a float as a Decimal (money
stays exact), text cannot be repeated (``'x' * 10**9`` would be a denial of service) and ``%`` is
arithmetic only (never string formatting).
"""

from __future__ import annotations

import operator
from decimal import Decimal
from typing import Any

from hub.errors import DataError


def get(container: Any, key: str | int) -> Any:
    """One step of a field path. Only dicts and lists are walked, never Python attributes."""
    if container is None:
        return None
    if isinstance(container, dict):
        return container.get(key)
    if isinstance(container, (list, tuple)) and isinstance(key, int):
        return container[key] if -len(container) <= key < len(container) else None
    return None


def _numbers(a: Any, b: Any, symbol: str) -> tuple[Any, Any]:
    if isinstance(a, bool) or isinstance(b, bool) or not isinstance(a, (int, float, Decimal)) \
            or not isinstance(b, (int, float, Decimal)):
        raise DataError(f"cannot compute {_kind(a)} {symbol} {_kind(b)}")
    return _decimal_meets_float(a, b)


def _decimal_meets_float(a: Any, b: Any) -> tuple[Any, Any]:
    """A float next to a Decimal becomes the Decimal of its shortest repr (10.1, not 10.0999...)."""
    if isinstance(a, Decimal) and isinstance(b, float):
        return a, Decimal(repr(b))
    if isinstance(b, Decimal) and isinstance(a, float):
        return Decimal(repr(a)), b
    return a, b


def add(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    if isinstance(a, str) and isinstance(b, str):
        return a + b
    x, y = _numbers(a, b, "+")
    return x + y


def _arith(fn: Any, symbol: str) -> Any:
    def apply(a: Any, b: Any) -> Any:
        if a is None or b is None:
            return None
        x, y = _numbers(a, b, symbol)
        try:
            return fn(x, y)
        except ZeroDivisionError:
            raise DataError(f"division by zero in {symbol}") from None
        except ArithmeticError as exc:
            raise DataError(f"arithmetic error in {symbol}: {type(exc).__name__}") from None

    apply.__name__ = fn.__name__
    return apply


sub = _arith(operator.sub, "-")
mul = _arith(operator.mul, "*")
div = _arith(operator.truediv, "/")
floordiv = _arith(operator.floordiv, "//")
mod = _arith(operator.mod, "%")


def neg(a: Any) -> Any:
    if a is None:
        return None
    x, _ = _numbers(a, 0, "-")
    return -x


def pos(a: Any) -> Any:
    if a is None:
        return None
    x, _ = _numbers(a, 0, "+")
    return x


def compare(a: Any, op: str, b: Any) -> bool:
    """Ordering comparisons with ``null`` are false (as in SQL), not an error."""
    # as in arithmetic: Python compares Decimal and float exactly, so ``round_money(x) == 10.1`` would be false
    a, b = _decimal_meets_float(a, b)
    if op == "==":
        return bool(a == b)
    if op == "!=":
        return bool(a != b)
    if op in ("in", "not in"):
        try:
            found = b is not None and a in b
        except TypeError:
            raise DataError(f"cannot test {_kind(a)} in {_kind(b)}") from None
        return found if op == "in" else not found
    if op == "is":
        return a is b
    if op == "is not":
        return a is not b
    if a is None or b is None:
        return False
    try:
        if op == "<":
            return bool(a < b)
        if op == "<=":
            return bool(a <= b)
        if op == ">":
            return bool(a > b)
        return bool(a >= b)
    except TypeError:
        raise DataError(f"cannot compare {_kind(a)} {op} {_kind(b)}") from None
    except ArithmeticError:  # ordering a Decimal NaN raises decimal.InvalidOperation
        raise DataError(f"cannot compare {_kind(a)} {op} {_kind(b)}: not a number") from None


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def field_error(field: str, exc: Exception) -> DataError:
    """Wrap an unexpected Python error raised while computing ``field`` as a record-level error."""
    error = DataError(f"field {field!r}: {type(exc).__name__}: {exc}")
    error.field = field  # type: ignore[attr-defined]  # enclosing fields keep this name (compiler._prefixed)
    return error
