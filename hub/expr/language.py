"""The mapping expression language: a small, safe subset of Python's expression syntax.

Allowed: field paths (``name``, ``client.manager_id``, ``items[0]``, ``record['full name']``), literals,
``+ - * / // %``, comparisons (``== != < <= > >= in not in``, ``is None``), ``and or not``,
``x if cond else y``, list literals, and calls to the functions in :mod:`hub.expr.functions`.
Everything else (attributes of Python objects, imports, lambdas, comprehensions, f-strings, subscripts
with computed keys, starred args, walrus, ...) is rejected when the mapping is validated.

Parsing uses :mod:`ast` only to get a syntax tree; the tree is checked node by node against an
allow-list here, and the code the compiler emits is built from these checked nodes, never from the text.
"""

from __future__ import annotations

import ast
import inspect
from dataclasses import dataclass
from typing import Any

from hub.expr.functions import FUNCTIONS, FunctionSpec

MAX_LENGTH = 4000
MAX_NODES = 400
MAX_DEPTH = 40

#: names with a meaning of their own (never source fields)
RESERVED = {"true", "false", "null", "record", "parent", "settings", "_index"}
CONSTANT_NAMES = {"true": True, "false": False, "null": None}

BIN_OPS: dict[type[ast.operator], str] = {
    ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div", ast.FloorDiv: "floordiv", ast.Mod: "mod",
}
UNARY_OPS: dict[type[ast.unaryop], str] = {ast.Not: "not", ast.USub: "neg", ast.UAdd: "pos"}
COMPARE_OPS: dict[type[ast.cmpop], str] = {
    ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
    ast.In: "in", ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not",
}


class ExpressionError(ValueError):
    """The expression is not valid. ``column`` is 0-based within the expression text, when known."""

    def __init__(self, message: str, column: int | None = None):
        self.message = message
        self.column = column
        super().__init__(message if column is None else f"{message} (at column {column + 1})")


@dataclass(frozen=True)
class Checked:
    """A validated expression tree plus what it refers to."""

    text: str
    tree: ast.expr
    names: frozenset[str]  # top-level names it reads (source fields, lookups)


def parse(text: str) -> Checked:
    if not isinstance(text, str):
        raise ExpressionError("an expression must be text")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"expression is longer than {MAX_LENGTH} characters")
    if not text.strip():
        raise ExpressionError("expression is empty")
    try:
        module = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        column = (exc.offset - 1) if exc.offset else None
        raise ExpressionError(f"syntax error: {exc.msg}", column) from None
    except (ValueError, RecursionError, MemoryError, OverflowError) as exc:
        raise ExpressionError(f"cannot parse expression: {type(exc).__name__}") from None
    checker = _Checker()
    checker.check(module.body, depth=0)
    return Checked(text=text, tree=module.body, names=frozenset(checker.names))


def normalize_call(node: ast.Call, spec: FunctionSpec) -> tuple[list[ast.expr], dict[str, ast.expr]]:
    """Positional arguments in signature order plus keyword-only ones; keywords become positions."""
    params = list(inspect.signature(spec.impl).parameters.values())
    if spec.needs_context:
        params = params[1:]
    positional_names = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    keyword_only = {p.name for p in params if p.kind == p.KEYWORD_ONLY}
    args: list[ast.expr | None] = list(node.args)
    kwonly: dict[str, ast.expr] = {}
    for keyword in node.keywords:
        name = keyword.arg
        assert name is not None  # `**mapping` arguments are refused when the call is checked
        if name in keyword_only:
            kwonly[name] = keyword.value
            continue
        position = positional_names.index(name)  # checked against spec.keywords already
        while len(args) <= position:
            args.append(None)
        if args[position] is not None:
            raise ExpressionError(f"{spec.name}(): argument {name!r} given twice", keyword.value.col_offset)
        args[position] = keyword.value
    # a position skipped by a keyword (``datetime(x, tz='UTC')`` skips ``fmt``) takes the parameter's default;
    # only a skipped *required* position is an error
    for position, arg in enumerate(args):
        if arg is None:
            default = params[position].default  # positional parameters come first in ``params``
            if default is inspect.Parameter.empty:
                raise ExpressionError(f"{spec.name}(): a keyword argument skips a required position",
                                      node.col_offset)
            args[position] = ast.Constant(default)
    return args, kwonly  # type: ignore[return-value]


class _Checker:
    def __init__(self) -> None:
        self.names: set[str] = set()
        self.count = 0

    def check(self, node: ast.AST, depth: int) -> None:
        self.count += 1
        if self.count > MAX_NODES:
            raise ExpressionError(f"expression has more than {MAX_NODES} parts")
        if depth > MAX_DEPTH:
            raise ExpressionError(f"expression is nested deeper than {MAX_DEPTH} levels")
        handler = getattr(self, f"_{type(node).__name__}", None)
        if handler is None:
            raise ExpressionError(f"{_describe(node)} is not allowed in a mapping expression", _col(node))
        handler(node, depth + 1)

    def _Constant(self, node: ast.Constant, depth: int) -> None:
        if not isinstance(node.value, (str, int, float, bool, type(None))):
            raise ExpressionError(f"literal {node.value!r} is not allowed", _col(node))

    def _Name(self, node: ast.Name, depth: int) -> None:
        # Function names and field names live apart: in ``phone(phone)`` the first is the function,
        # the second the field (calls are checked in _Call and never visit their func node).
        if node.id.startswith("__"):
            raise ExpressionError(f"name {node.id!r} is not allowed", _col(node))
        if node.id not in RESERVED and node.id not in ("True", "False", "None"):
            self.names.add(node.id)

    def _Attribute(self, node: ast.Attribute, depth: int) -> None:
        if node.attr.startswith("_"):
            raise ExpressionError(f"field name {node.attr!r} may not start with '_'", _col(node))
        if not isinstance(node.value, (ast.Name, ast.Attribute, ast.Subscript)):
            raise ExpressionError("a field path must start with a name", _col(node))
        self.check(node.value, depth)

    def _Subscript(self, node: ast.Subscript, depth: int) -> None:
        key = node.slice
        text_or_number = isinstance(key, ast.Constant) and type(key.value) in (str, int)
        if not text_or_number:
            if isinstance(key, ast.UnaryOp) and isinstance(key.op, ast.USub) and isinstance(key.operand, ast.Constant) \
                    and type(key.operand.value) is int:
                pass
            else:
                raise ExpressionError("an index must be a literal text or whole number, e.g. items[0]", _col(node))
        if not isinstance(node.value, (ast.Name, ast.Attribute, ast.Subscript)):
            raise ExpressionError("only a field can be indexed", _col(node))
        self.check(node.value, depth)

    def _BinOp(self, node: ast.BinOp, depth: int) -> None:
        if type(node.op) not in BIN_OPS:
            raise ExpressionError(f"operator {type(node.op).__name__} is not allowed", _col(node))
        self.check(node.left, depth)
        self.check(node.right, depth)

    def _UnaryOp(self, node: ast.UnaryOp, depth: int) -> None:
        if type(node.op) not in UNARY_OPS:
            raise ExpressionError(f"operator {type(node.op).__name__} is not allowed", _col(node))
        self.check(node.operand, depth)

    def _BoolOp(self, node: ast.BoolOp, depth: int) -> None:
        for value in node.values:
            self.check(value, depth)

    def _Compare(self, node: ast.Compare, depth: int) -> None:
        self.check(node.left, depth)
        for op, right in zip(node.ops, node.comparators, strict=True):
            if type(op) not in COMPARE_OPS:
                raise ExpressionError(f"comparison {type(op).__name__} is not allowed", _col(node))
            if isinstance(op, (ast.Is, ast.IsNot)) and not (
                    (isinstance(right, ast.Constant) and right.value is None)
                    or (isinstance(right, ast.Name) and right.id == "null")):
                raise ExpressionError("'is' / 'is not' may only compare with null", _col(node))
            self.check(right, depth)

    def _IfExp(self, node: ast.IfExp, depth: int) -> None:
        self.check(node.test, depth)
        self.check(node.body, depth)
        self.check(node.orelse, depth)

    def _List(self, node: ast.List, depth: int) -> None:
        for element in node.elts:
            self.check(element, depth)

    _Tuple = _List

    def _Call(self, node: ast.Call, depth: int) -> None:
        if not isinstance(node.func, ast.Name):
            raise ExpressionError("only the mapping functions can be called, e.g. trim(name)", _col(node))
        spec = FUNCTIONS.get(node.func.id)
        if spec is None:
            raise ExpressionError(f"unknown function {node.func.id!r}", _col(node))
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise ExpressionError("*args is not allowed", _col(arg))
        for keyword in node.keywords:
            if keyword.arg is None:
                raise ExpressionError("**kwargs is not allowed", _col(keyword.value))
            if keyword.arg not in spec.keywords:
                raise ExpressionError(f"{spec.name}() has no argument {keyword.arg!r}", _col(keyword.value))
        args, kwonly = normalize_call(node, spec)
        if len(args) < spec.min_args or (spec.max_args is not None and len(args) > spec.max_args):
            expected = spec.min_args if spec.max_args == spec.min_args else \
                f"{spec.min_args}..{spec.max_args if spec.max_args is not None else 'n'}"
            raise ExpressionError(f"{spec.name}() takes {expected} argument(s), got {len(args)}", _col(node))
        for position, arg in enumerate(args):
            if position in spec.literal_args and not _is_literal(arg):
                raise ExpressionError(f"{spec.name}(): argument {position + 1} must be a literal", _col(arg))
            if position in spec.prepare:
                try:
                    spec.prepare[position](literal_value(arg))
                except ValueError as exc:
                    raise ExpressionError(f"{spec.name}(): {exc}", _col(arg)) from None
            self.check(arg, depth)
        for value in kwonly.values():
            if not _is_literal(value):
                raise ExpressionError(f"{spec.name}(): keyword arguments must be literals", _col(value))
            self.check(value, depth)


def _is_literal(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.Name):
        return node.id in CONSTANT_NAMES
    # only a negative *number* is a literal: ``-'a'`` has no value to compute when the mapping is validated
    return isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant) \
        and type(node.operand.value) in (int, float)


def literal_value(node: ast.expr) -> Any:
    if isinstance(node, ast.Name):
        return CONSTANT_NAMES[node.id]
    if isinstance(node, ast.UnaryOp):
        return -node.operand.value  # type: ignore[attr-defined]  # the parser allows only -<constant>
    return node.value  # type: ignore[attr-defined]


def _col(node: ast.AST) -> int | None:
    return getattr(node, "col_offset", None)


def _describe(node: ast.AST) -> str:
    names = {
        "Lambda": "a lambda", "ListComp": "a comprehension", "SetComp": "a comprehension",
        "DictComp": "a comprehension", "GeneratorExp": "a generator", "JoinedStr": "an f-string",
        "NamedExpr": "':='", "Await": "await", "Yield": "yield", "YieldFrom": "yield", "Starred": "'*'",
        "Dict": "a dict literal", "Set": "a set literal", "Slice": "a slice",
    }
    return names.get(type(node).__name__, type(node).__name__)
