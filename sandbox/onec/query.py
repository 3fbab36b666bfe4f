"""OData v3 query options as 1C implements them: ``$filter`` (parsed and compiled once per request),
``$orderby`` and the ordering of references.

Faithful quirks (reference §1.5-1.6): a property name 1C does not know makes the filter match nothing
instead of failing; comparing a composite attribute with a bare ``guid'…'`` matches nothing (``cast`` is
needed); v4 functions and the string functions 1C lacks (``tolower``, ``length``, ``contains``, ...) are
rejected with code 21; a syntax error is code 14. String comparison ignores case and trailing spaces, as
1C's query language does.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox.onec.config import TYPES_BY_SET, ObjectType

Obj = dict[str, Any]
Resolver = Callable[[str, str], Obj | None]  # (entity set, ref) -> object


class ODataError(Exception):
    """An error 1C reports in an ``odata.error`` body."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def parse_error(detail: str = "") -> ODataError:
    return ODataError(400, "14", "Ошибка разбора параметра запроса $filter" + (f": {detail}" if detail else ""))


# -- typed values ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Guid:
    value: str


@dataclass(frozen=True)
class CastRef:
    value: str
    type_name: str


@dataclass(frozen=True)
class Composite:
    value: str
    type_name: str


class UnknownProperty(Exception):
    """A property 1C does not have: the whole query returns nothing."""


# -- tokenizer ---------------------------------------------------------------------------------------

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<typed>(?:guid|datetime|datetimeoffset|time|X|binary)'[^']*')
  | (?P<string>'(?:[^']|'')*')
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[mMdDfFlL]?)
  | (?P<name>[^\W\d]\w*)
  | (?P<punct>[(),/:])
""", re.VERBOSE)


def tokenize(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise parse_error(f"unexpected character {text[pos]!r} at {pos + 1}")
        pos = match.end()
        if match.lastgroup != "ws":
            tokens.append((match.lastgroup or "", match.group()))
    return tokens


# -- parser: text -> nested tuples --------------------------------------------------------------------

COMPARISONS = {"eq", "ne", "gt", "ge", "lt", "le"}
UNSUPPORTED = {"tolower", "toupper", "length", "lenght", "indexof", "replace", "trim", "contains", "years", "days",
               "hours", "minutes", "seconds", "floor", "ceiling", "now", "any_of"}
FUNCTIONS = {"substringof": 2, "startswith": 2, "endswith": 2, "concat": 2, "substring": (2, 3), "like": 2,
             "year": 1, "month": 1, "day": 1, "hour": 1, "minute": 1, "second": 1, "cast": 2, "isof": 2,
             "round": 1}


class _Parser:
    def __init__(self, text: str):
        self.tokens = tokenize(text)
        self.pos = 0

    def peek(self, offset: int = 0) -> tuple[str, str]:
        index = self.pos + offset
        return self.tokens[index] if index < len(self.tokens) else ("eof", "")

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if value is not None and token[1] != value:
            raise parse_error(f"expected {value!r}, found {token[1] or 'end of text'!r}")
        self.pos += 1
        return token

    def parse(self) -> Any:
        node = self.or_expr()
        if self.peek()[0] != "eof":
            raise parse_error(f"unexpected {self.peek()[1]!r}")
        return node

    def or_expr(self) -> Any:
        node = self.and_expr()
        while self.peek() == ("name", "or"):
            self.take()
            node = ("or", node, self.and_expr())
        return node

    def and_expr(self) -> Any:
        node = self.not_expr()
        while self.peek() == ("name", "and"):
            self.take()
            node = ("and", node, self.not_expr())
        return node

    def not_expr(self) -> Any:
        if self.peek() == ("name", "not"):
            self.take()
            return ("not", self.not_expr())
        return self.comparison()

    def comparison(self) -> Any:
        node = self.additive()
        if self.peek()[0] == "name" and self.peek()[1] in COMPARISONS:
            op = self.take()[1]
            return ("cmp", op, node, self.additive())
        return node

    def additive(self) -> Any:
        node = self.multiplicative()
        while self.peek()[0] == "name" and self.peek()[1] in ("add", "sub"):
            node = ("arith", self.take()[1], node, self.multiplicative())
        return node

    def multiplicative(self) -> Any:
        node = self.primary()
        while self.peek()[0] == "name" and self.peek()[1] in ("mul", "div", "mod"):
            node = ("arith", self.take()[1], node, self.primary())
        return node

    def primary(self) -> Any:
        kind, value = self.take()
        if value == "(" and kind == "punct":
            node = self.or_expr()
            self.take(")")
            return node
        if kind == "string":
            return ("lit", value[1:-1].replace("''", "'"))
        if kind == "number":
            text = value.rstrip("mMdDfFlL")
            return ("lit", float(text) if any(c in text for c in ".eE") else int(text))
        if kind == "typed":
            prefix, _, rest = value.partition("'")
            return ("lit", _typed_literal(prefix, rest[:-1]))
        if kind == "name":
            if value in ("true", "false"):
                return ("lit", value == "true")
            if value == "null":
                return ("lit", None)
            if self.peek() == ("punct", "("):
                return self.call(value)
            return self.path(value)
        raise parse_error(f"unexpected {value or 'end of text'!r}")

    def call(self, name: str) -> Any:
        if name in UNSUPPORTED:
            raise ODataError(400, "21", f"Функция не реализована: {name}")
        if name not in FUNCTIONS:
            raise parse_error(f"unknown function {name!r}")
        self.take("(")
        args = []
        if self.peek() != ("punct", ")"):
            args.append(self.or_expr())
            while self.peek() == ("punct", ","):
                self.take()
                args.append(self.or_expr())
        self.take(")")
        arity = FUNCTIONS[name]
        low, high = arity if isinstance(arity, tuple) else (arity, arity)
        if not low <= len(args) <= high:
            raise ODataError(400, "21", f"Неверное количество параметров функции {name}")
        return ("call", name, args)

    def path(self, first: str) -> Any:
        segments = [first]
        while self.peek() == ("punct", "/"):
            self.take()
            kind, value = self.take()
            if kind != "name":
                raise parse_error("a path segment must be a name")
            if value in ("any", "all") and self.peek() == ("punct", "("):
                self.take("(")
                var = self.take()[1]
                self.take(":")
                body = self.or_expr()
                self.take(")")
                return ("lambda", value, segments, var, body)
            segments.append(value)
        return ("path", segments)


def _typed_literal(prefix: str, text: str) -> Any:
    if prefix == "guid":
        if not re.fullmatch(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", text):
            raise parse_error(f"invalid guid literal {text!r}")
        return Guid(text.lower())
    if prefix in ("datetime", "datetimeoffset"):
        return normalize_datetime(text)
    raise ODataError(400, "21", f"Тип литерала не поддерживается: {prefix}")


def normalize_datetime(text: str) -> str:
    match = re.fullmatch(r"(\d{4}-\d{2}-\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2}))?)?", text)
    if match is None:
        raise parse_error(f"invalid datetime literal {text!r}")
    day, hour, minute, second = match.groups()
    return f"{day}T{hour or '00'}:{minute or '00'}:{second or '00'}"


# -- compiler: nested tuples -> Python closures ------------------------------------------------------

class FilterCompiler:
    """Compiles a parsed ``$filter`` for one entity type. ``resolve`` follows references."""

    def __init__(self, entity: ObjectType | None, row_props: dict[str, str] | None, resolve: Resolver):
        self.entity = entity
        self.row_props = row_props  # tabular-section sets: their property -> Edm type
        self.resolve = resolve

    def compile(self, text: str) -> Callable[[Obj], bool] | None:
        """A predicate, or None when the filter names an unknown property (1C then returns nothing)."""
        tree = _Parser(text).parse()
        try:
            fn = self._node(tree, {})
        except UnknownProperty:
            return None
        return lambda obj: fn(obj, {}) is True

    def _node(self, node: Any, scope: dict[str, tuple[str, dict[str, str]]]) -> Callable[[Obj, dict[str, Any]], Any]:
        kind = node[0]
        if kind == "lit":
            value = node[1]
            return lambda obj, env: value
        if kind in ("and", "or"):
            left, right = self._node(node[1], scope), self._node(node[2], scope)
            if kind == "and":
                return lambda obj, env: left(obj, env) is True and right(obj, env) is True
            return lambda obj, env: left(obj, env) is True or right(obj, env) is True
        if kind == "not":
            inner = self._node(node[1], scope)
            return lambda obj, env: inner(obj, env) is not True
        if kind == "cmp":
            op, left, right = node[1], self._node(node[2], scope), self._node(node[3], scope)
            return lambda obj, env: compare(op, left(obj, env), right(obj, env))
        if kind == "arith":
            op, left, right = node[1], self._node(node[2], scope), self._node(node[3], scope)
            return lambda obj, env: arithmetic(op, left(obj, env), right(obj, env))
        if kind == "call":
            args = [self._node(a, scope) for a in node[2]]
            fn = FUNCTION_IMPLS[node[1]]
            return lambda obj, env: fn(*(a(obj, env) for a in args))
        if kind == "path":
            return self._path(node[1], scope)
        if kind == "lambda":
            return self._lambda(node, scope)
        raise parse_error()

    def _path(self, segments: list[str], scope: dict[str, tuple[str, dict[str, str]]]) -> Callable[..., Any]:
        if segments[0] in scope:  # a lambda variable: a tabular row
            _, props = scope[segments[0]]
            name = segments[1] if len(segments) == 2 else None
            if name is None or name not in props:
                raise UnknownProperty(".".join(segments))
            edm = props[name]
            return lambda obj, env: typed(env[segments[0]].get(name), edm)
        entity = self.entity
        if entity is None:  # a tabular-section set: flat rows
            if len(segments) != 1 or self.row_props is None or segments[0] not in self.row_props:
                raise UnknownProperty("/".join(segments))
            edm = self.row_props[segments[0]]
            return lambda obj, env: typed(obj.get(segments[0]), edm)
        hops: list[str] = []
        for segment in segments[:-1]:
            target = entity.navigation().get(segment)
            if target is None:
                raise UnknownProperty(segment)
            hops.append(segment)
            entity = TYPES_BY_SET[target]
        name = segments[-1]
        edm = property_types(entity).get(name)
        if edm is None:
            raise UnknownProperty(name)
        first = self.entity
        resolve = self.resolve

        def read(obj: Obj, env: dict[str, Any]) -> Any:
            current, current_type = obj, first
            for hop in hops:
                nav_key = "Owner_Key" if hop == "Owner" else "Parent_Key" if hop == "Parent" else f"{hop}_Key"
                target_set = current_type.navigation()[hop]  # type: ignore[union-attr]
                current = resolve(target_set, current.get(nav_key, ""))  # type: ignore[assignment]
                if current is None:
                    return None
                current_type = TYPES_BY_SET[target_set]
            if edm == "composite":
                return Composite(current.get(name, ""), current.get(f"{name}_Type", ""))
            return typed(current.get(name), edm)

        return read

    def _lambda(self, node: Any, scope: dict[str, tuple[str, dict[str, str]]]) -> Callable[..., Any]:
        _, quantifier, segments, var, body = node
        if self.entity is None or len(segments) != 1 or segments[0] not in self.entity.tables:
            raise UnknownProperty("/".join(segments))
        table = segments[0]
        props = row_property_types(self.entity, table)
        inner = self._node(body, {**scope, var: (table, props)})

        def evaluate(obj: Obj, env: dict[str, Any]) -> bool:
            rows = obj.get(table) or []
            test = (inner(obj, {**env, var: row}) is True for row in rows)
            return any(test) if quantifier == "any" else all(test)

        return evaluate


def property_types(t: ObjectType) -> dict[str, str]:
    """Property -> Edm type (``composite`` for the value half of a composite pair)."""
    types: dict[str, str] = {name: edm for name, edm, _ in t.standard()}
    for attr in t.attrs:
        if attr.kind == "composite":
            types[attr.name] = "composite"
            types[f"{attr.name}_Type"] = "Edm.String"
        else:
            types.update(attr.properties)
    return types


def row_property_types(t: ObjectType, table: str) -> dict[str, str]:
    types = {"Ref_Key": "Edm.Guid", "LineNumber": "Edm.Int64"}
    for attr in t.tables[table]:
        types.update({name: ("composite" if attr.kind == "composite" and name == attr.name else edm)
                      for name, edm in attr.properties})
    return types


def typed(value: Any, edm: str) -> Any:
    if edm == "Edm.Guid" and isinstance(value, str):
        return Guid(value.lower())
    return value


def _text(value: Any) -> str:
    return value.rstrip().casefold() if isinstance(value, str) else value


def compare(op: str, left: Any, right: Any) -> bool:
    if isinstance(left, Composite) or isinstance(right, Composite):
        composite, other = (left, right) if isinstance(left, Composite) else (right, left)
        if isinstance(other, CastRef):
            same = composite.value.lower() == other.value and composite.type_name == other.type_name
        elif isinstance(other, str):
            same = _text(composite.value) == _text(other)
        else:
            return False  # a composite compared with a bare guid matches nothing (reference §1.5)
        return same if op == "eq" else (not same if op == "ne" else False)
    if type(left) is not type(right) and not (_number(left) and _number(right)):
        if left is None or right is None:
            return (left is right) if op == "eq" else (left is not right) if op == "ne" else False
        return op == "ne"
    a, b = _text(left), _text(right)
    if isinstance(a, Guid):
        a, b = guid_order(a.value), guid_order(b.value)  # type: ignore[union-attr]
    try:
        return {"eq": a == b, "ne": a != b, "gt": a > b, "ge": a >= b, "lt": a < b, "le": a <= b}[op]
    except TypeError:
        return False


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def arithmetic(op: str, left: Any, right: Any) -> Any:
    if not (_number(left) and _number(right)):
        return None
    if op == "div":
        return left / right if right else None
    if op == "mod":
        return left % right if right else None
    return {"add": left + right, "sub": left - right, "mul": left * right}[op]


def _like_regex(pattern: str) -> re.Pattern[str]:
    out, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        if char == "%":
            out.append(".*")
        elif char == "_":
            out.append(".")
        elif char == "[":
            end = pattern.find("]", i)
            if end < 0:
                out.append(re.escape(char))
            else:
                body = pattern[i + 1:end]
                out.append("[^" + re.escape(body[1:]) + "]" if body.startswith("^") else "[" + re.escape(body) + "]")
                i = end
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


def _date_part(index: int) -> Callable[[Any], Any]:
    def part(value: Any) -> Any:
        if not isinstance(value, str) or len(value) < 19:
            return None
        return int([value[0:4], value[5:7], value[8:10], value[11:13], value[14:16], value[17:19]][index])
    return part


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


FUNCTION_IMPLS: dict[str, Callable[..., Any]] = {
    "substringof": lambda needle, hay: _str(needle).casefold() in _str(hay).casefold(),
    "startswith": lambda s, prefix: _str(s).casefold().startswith(_str(prefix).casefold()),
    "endswith": lambda s, suffix: _str(s).casefold().endswith(_str(suffix).casefold()),
    "concat": lambda a, b: _str(a) + _str(b),
    "substring": lambda s, i, n=None: _str(s)[i:] if n is None else _str(s)[i:i + n],
    "like": lambda s, pattern: bool(_like_regex(_str(pattern)).fullmatch(_str(s))),
    "year": _date_part(0), "month": _date_part(1), "day": _date_part(2),
    "hour": _date_part(3), "minute": _date_part(4), "second": _date_part(5),
    "cast": lambda value, type_name: CastRef(value.value if isinstance(value, Guid) else str(value),
                                            "StandardODATA." + _str(type_name)),
    "isof": lambda value, type_name: isinstance(value, Composite)
    and value.type_name == "StandardODATA." + _str(type_name),
    "round": lambda value: round(value) if _number(value) else None,
}


# -- ordering ----------------------------------------------------------------------------------------

def guid_order(value: str) -> str:
    """1C stores a reference as 16 bytes with the GUID's groups reordered, and orders by those bytes:
    ``8b9660f6-6332-11ec-ad72-000c29b45b09`` sorts as ``ad72000c29b45b09 11ec 6332 8b9660f6``. A client
    that assumes string order of ``Ref_Key`` pages wrongly; one that only needs a stable order is fine."""
    v = value.lower()
    return v[19:23] + v[24:] + v[14:18] + v[9:13] + v[0:8]


def sort_key(value: Any) -> tuple[int, Any]:
    if value is None or value == "":
        return (0, "")
    if isinstance(value, Guid):
        return (1, guid_order(value.value))
    if isinstance(value, Composite):
        return (1, value.value.lower())
    if isinstance(value, bool):
        return (2, value)
    if _number(value):
        return (3, value)
    return (4, _text(value))
