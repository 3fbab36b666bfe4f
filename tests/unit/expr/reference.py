"""A reference interpreter for mapping expressions: a plain tree walk over the checked ``ast`` tree.

It implements the documented semantics of the language on its own, so the property tests can check
the compiler against it:

* a field path walks dicts (by key) and lists (by whole-number index, negative from the end) and
  nothing else; a missing step gives ``null``;
* ``null`` in any arithmetic operand gives ``null``; ``+`` joins two texts; otherwise the operands must
  be numbers (not booleans); a Decimal meets a float as a Decimal (``Decimal(repr(f))``); text is never
  repeated and ``%`` is arithmetic only; division by zero and decimal overflow are ``DataError``;
* comparisons: ``==``/``!=`` as in Python (a Decimal meets a float as a Decimal), ``in`` with ``null``
  on the right is false, ordering with ``null`` on either side is false, ordering incomparable values
  is ``DataError``; chains short-circuit and evaluate each operand once;
* ``and``/``or``/``not``/``x if c else y`` use Python truthiness and return operands as Python does;
* a list literal is a list;
* a call evaluates its arguments left to right, hands literal arguments that the function prepares
  (regexes, time zones, ...) through that preparation, and passes the run context first when the
  function needs it.

It shares nothing with :mod:`hub.expr.compiler` or :mod:`hub.expr.runtime`; it reuses only the parser
and its call normalisation (:mod:`hub.expr.language`) and the function implementations.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from hub.errors import DataError
from hub.expr.functions import FUNCTIONS
from hub.expr.language import CONSTANT_NAMES, Checked, literal_value, normalize_call, parse

_ARITHMETIC: dict[type[ast.operator], tuple[str, Callable[[Any, Any], Any]]] = {
    ast.Add: ("+", operator.add),
    ast.Sub: ("-", operator.sub),
    ast.Mult: ("*", operator.mul),
    ast.Div: ("/", operator.truediv),
    ast.FloorDiv: ("//", operator.floordiv),
    ast.Mod: ("%", operator.mod),
}

_ORDERING: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}


class Interpreter:
    """Evaluates one expression against one record.

    ``lookups`` holds the results of the mapping's lookups by name (a declared lookup that found nothing
    is simply absent); ``lookup_names`` are the names the mapping declares, which shadow source fields.
    Inside an ``each`` list, ``parent`` is the enclosing record and ``index`` the 1-based row number.
    """

    def __init__(
        self,
        ctx: Any,
        *,
        lookups: Mapping[str, Any] | None = None,
        lookup_names: frozenset[str] | set[str] = frozenset(),
        settings: Mapping[str, Any] | None = None,
        parent: Any = None,
        index: int | None = None,
    ):
        self.ctx = ctx
        self.lookups = dict(lookups or {})
        self.lookup_names = frozenset(lookup_names)
        self.settings = dict(settings or {})
        self.parent = parent
        self.index = index

    def evaluate(self, expression: str | Checked, record: dict[str, Any]) -> Any:
        checked = parse(expression) if isinstance(expression, str) else expression
        return self._eval(checked.tree, record)

    # -- nodes -----------------------------------------------------------------------------------------

    def _eval(self, node: ast.expr, record: dict[str, Any]) -> Any:
        method = getattr(self, f"_{type(node).__name__}", None)
        if method is None:  # the checker let through a node this interpreter does not know
            raise AssertionError(f"reference interpreter: unexpected node {ast.dump(node)}")
        return method(node, record)

    def _Constant(self, node: ast.Constant, record: dict[str, Any]) -> Any:
        return node.value

    def _Name(self, node: ast.Name, record: dict[str, Any]) -> Any:
        name = node.id
        if name in CONSTANT_NAMES:
            return CONSTANT_NAMES[name]
        if name == "record":
            return record
        if name == "parent":
            return self.parent
        if name == "_index":
            return self.index
        if name == "settings":
            return self.settings
        if name in self.lookup_names:
            return self.lookups.get(name)
        return record.get(name)

    def _Attribute(self, node: ast.Attribute, record: dict[str, Any]) -> Any:
        return step(self._eval(node.value, record), node.attr)

    def _Subscript(self, node: ast.Subscript, record: dict[str, Any]) -> Any:
        return step(self._eval(node.value, record), literal_value(node.slice))

    def _BinOp(self, node: ast.BinOp, record: dict[str, Any]) -> Any:
        left = self._eval(node.left, record)
        right = self._eval(node.right, record)
        symbol, function = _ARITHMETIC[type(node.op)]
        return arithmetic(symbol, function, left, right)

    def _UnaryOp(self, node: ast.UnaryOp, record: dict[str, Any]) -> Any:
        value = self._eval(node.operand, record)
        if isinstance(node.op, ast.Not):
            return not value
        if value is None:
            return None
        if not is_number(value):
            raise DataError(f"cannot apply unary {'-' if isinstance(node.op, ast.USub) else '+'} to {value!r}")
        return -value if isinstance(node.op, ast.USub) else value

    def _BoolOp(self, node: ast.BoolOp, record: dict[str, Any]) -> Any:
        value: Any = None
        for operand in node.values:
            value = self._eval(operand, record)
            if isinstance(node.op, ast.And) and not value:
                return value
            if isinstance(node.op, ast.Or) and value:
                return value
        return value

    def _Compare(self, node: ast.Compare, record: dict[str, Any]) -> bool:
        left = self._eval(node.left, record)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = self._eval(right_node, record)
            if not compare(op, left, right):
                return False
            left = right
        return True

    def _IfExp(self, node: ast.IfExp, record: dict[str, Any]) -> Any:
        return self._eval(node.body if self._eval(node.test, record) else node.orelse, record)

    def _List(self, node: ast.List | ast.Tuple, record: dict[str, Any]) -> list[Any]:
        return [self._eval(element, record) for element in node.elts]

    _Tuple = _List

    def _Call(self, node: ast.Call, record: dict[str, Any]) -> Any:
        assert isinstance(node.func, ast.Name)
        spec = FUNCTIONS[node.func.id]
        args, keyword_only = normalize_call(node, spec)
        values = [
            spec.prepare[position](literal_value(arg)) if position in spec.prepare else self._eval(arg, record)
            for position, arg in enumerate(args)
        ]
        keywords = {name: self._eval(value, record) for name, value in keyword_only.items()}
        if spec.needs_context:
            values.insert(0, self.ctx)
        return spec.impl(*values, **keywords)


# -- semantics ---------------------------------------------------------------------------------------------


def step(container: Any, key: str | int) -> Any:
    """One field-path step: dicts by key, lists by whole-number index; anything else is ``null``."""
    if isinstance(container, dict):
        return container.get(key)
    if isinstance(container, (list, tuple)) and isinstance(key, int) and -len(container) <= key < len(container):
        return container[key]
    return None


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


def as_decimal_if_mixed(a: Any, b: Any) -> tuple[Any, Any]:
    """A Decimal meets a float as a Decimal, through the float's shortest repr (0.1 -> Decimal('0.1'))."""
    if isinstance(a, Decimal) and isinstance(b, float):
        return a, Decimal(repr(b))
    if isinstance(b, Decimal) and isinstance(a, float):
        return Decimal(repr(a)), b
    return a, b


def arithmetic(symbol: str, function: Callable[[Any, Any], Any], left: Any, right: Any) -> Any:
    if left is None or right is None:
        return None
    if symbol == "+" and isinstance(left, str) and isinstance(right, str):
        return left + right
    if not (is_number(left) and is_number(right)):
        raise DataError(f"cannot compute {left!r} {symbol} {right!r}")
    left, right = as_decimal_if_mixed(left, right)
    try:
        return function(left, right)
    except ArithmeticError as exc:  # ZeroDivisionError, decimal signals, OverflowError
        raise DataError(f"{symbol}: {type(exc).__name__}") from None


def compare(op: ast.cmpop, left: Any, right: Any) -> bool:
    left, right = as_decimal_if_mixed(left, right)
    if isinstance(op, ast.Eq):
        return left == right
    if isinstance(op, ast.NotEq):
        return left != right
    if isinstance(op, ast.Is):
        return left is right
    if isinstance(op, ast.IsNot):
        return left is not right
    if isinstance(op, (ast.In, ast.NotIn)):
        if right is None:
            found = False
        else:
            try:
                found = left in right
            except TypeError:
                raise DataError(f"cannot test {left!r} in {right!r}") from None
        return found if isinstance(op, ast.In) else not found
    if left is None or right is None:
        return False
    try:
        return _ORDERING[type(op)](left, right)
    except (TypeError, ArithmeticError):
        raise DataError(f"cannot order {left!r} and {right!r}") from None
