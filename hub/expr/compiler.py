"""Compile checked expressions into Python functions, once per mapping.

The emitter walks a tree already checked by :mod:`hub.expr.language` and writes Python source in which
every field read is ``get(...)``/``rec.get(...)``, every operator a helper from :mod:`hub.expr.runtime`,
every call a pre-bound allow-listed function. The source is compiled with empty ``__builtins__``, so the
generated code can reach nothing but what is placed in its globals here.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hub.errors import RecordError
from hub.expr import runtime
from hub.expr.functions import FUNCTIONS, FunctionSpec, reporter
from hub.expr.language import (
    BIN_OPS,
    COMPARE_OPS,
    CONSTANT_NAMES,
    UNARY_OPS,
    Checked,
    literal_value,
    normalize_call,
)


@dataclass
class Scope:
    """Where a name is looked up while emitting code."""

    record: str  # variable holding the current record
    parent: str | None = None  # the enclosing record (inside ``each``)
    index: str | None = None  # 1-based row number (inside ``each``)
    lookups: frozenset[str] = frozenset()  # names that refer to lookup results (top level only)
    parent_scope: Scope | None = None
    reads: set[str] = field(default_factory=set)  # field names read in this scope
    reads_whole_record: bool = False  # ``record`` used as a value: every field may be read


class Module:
    """Collects generated functions and their globals, then compiles them in one go."""

    def __init__(self, settings: dict[str, Any] | None = None):
        self.lines: list[str] = []
        self.globals: dict[str, Any] = {
            "__builtins__": {},
            "_get": runtime.get,
            "_cmp": runtime.compare,
            "_RecordError": RecordError,
            "_field_error": runtime.field_error,
            "_prefixed": _prefixed,
            "_settings": dict(settings or {}),
            "_enumerate": enumerate,
            "_bool": bool,
            "_Exception": Exception,
            "_isinstance": isinstance,
            "_dict": dict,
        }
        for name in ("add", "sub", "mul", "div", "floordiv", "mod", "neg", "pos"):
            self.globals[f"_{name}"] = getattr(runtime, name)
        self._constants = 0
        self.functions_used: set[str] = set()
        self._temps = 0

    def constant(self, value: Any) -> str:
        name = f"_k{self._constants}"
        self._constants += 1
        self.globals[name] = value
        return name

    def temp(self) -> str:
        """A fresh local variable name for generated code (the middle operands of chained comparisons)."""
        self._temps += 1
        return f"_t{self._temps}"

    def function_ref(self, name: str) -> str:
        self.functions_used.add(name)
        self.globals.setdefault(f"_f_{name}", FUNCTIONS[name].impl)
        return f"_f_{name}"

    def reporter_ref(self, name: str) -> str:
        """What reports a lossy function's losses (``_r_phone(ctx, 'field', result, *args)``)."""
        self.globals.setdefault(f"_r_{name}", reporter(FUNCTIONS[name]))
        return f"_r_{name}"

    def emit(self, checked: Checked, scope: Scope, field: str | None = None) -> str:
        """Python code for ``checked``; inside a mapped ``field``, lossy calls report their losses under its name."""
        return _Emitter(self, scope, field).expr(checked.tree)

    def add_function(self, name: str, params: str, body: list[str]) -> None:
        self.lines.append(f"def {name}({params}):")
        self.lines.extend("    " + line for line in body)
        self.lines.append("")

    def build(self) -> dict[str, Callable[..., Any]]:
        source = "\n".join(self.lines)
        code = compile(source, "<mapping>", "exec")
        namespace = dict(self.globals)
        exec(code, namespace)
        self.source = source
        return {k: v for k, v in namespace.items() if callable(v) and k not in self.globals}


def _prefixed(exc: RecordError, field_name: str) -> RecordError:
    """The same kind of record error, with the field it happened in."""
    # the innermost, most precise field name wins: enclosing list fields do not prefix it again
    # ("field 'lines': field 'lines[].qty': ...")
    if getattr(exc, "field", None) is not None:
        return exc
    wrapped = type(exc)(f"field {field_name!r}: {exc}")
    wrapped.field = field_name  # type: ignore[attr-defined]
    return wrapped


class _Emitter:
    def __init__(self, module: Module, scope: Scope, field: str | None = None):
        self.module = module
        self.scope = scope
        self.field = field

    def expr(self, node: ast.expr) -> str:
        translate: Callable[[ast.expr], str] = getattr(self, f"_{type(node).__name__}")
        return translate(node)

    def _Constant(self, node: ast.Constant) -> str:
        value = node.value
        if isinstance(value, float) and not math.isfinite(value):
            return self.module.constant(value)
        return repr(value)

    def _Name(self, node: ast.Name) -> str:
        name = node.id
        if name in CONSTANT_NAMES or name in ("True", "False", "None"):
            return repr(CONSTANT_NAMES.get(name, {"True": True, "False": False, "None": None}.get(name)))
        if name == "record":
            self.scope.reads_whole_record = True
            return self.scope.record
        if name == "parent":
            # ``parent`` as a whole value reads every field of the enclosing record, like ``record`` does
            if self.scope.parent_scope is not None:
                self.scope.parent_scope.reads_whole_record = True
            return self.scope.parent or "None"
        if name == "_index":
            return self.scope.index or "None"
        if name == "settings":
            return "_settings"
        if name in self.scope.lookups:
            return f"lk.get({name!r})"
        self.scope.reads.add(name)
        return f"{self.scope.record}.get({name!r})"

    def _Attribute(self, node: ast.Attribute) -> str:
        return self._step(node.value, node.attr)

    def _Subscript(self, node: ast.Subscript) -> str:
        return self._step(node.value, literal_value(node.slice))

    def _step(self, base: ast.expr, key: str | int) -> str:
        """One field-path step; ``record.x`` and ``parent.x`` count as reads of field ``x``."""
        if isinstance(base, ast.Name) and isinstance(key, str):
            if base.id == "record":
                self.scope.reads.add(key)
                return f"{self.scope.record}.get({key!r})"
            if base.id == "parent" and self.scope.parent_scope is not None:
                self.scope.parent_scope.reads.add(key)
                # ``parent.x`` reads one field, not the whole parent (unlike ``parent`` alone, see _Name)
                return f"_get({self.scope.parent or 'None'}, {key!r})"
        return f"_get({self.expr(base)}, {key!r})"

    def _BinOp(self, node: ast.BinOp) -> str:
        return f"_{BIN_OPS[type(node.op)]}({self.expr(node.left)}, {self.expr(node.right)})"

    def _UnaryOp(self, node: ast.UnaryOp) -> str:
        op = UNARY_OPS[type(node.op)]
        if op == "not":
            return f"(not {self.expr(node.operand)})"
        return f"_{op}({self.expr(node.operand)})"

    def _BoolOp(self, node: ast.BoolOp) -> str:
        joiner = " and " if isinstance(node.op, ast.And) else " or "
        return "(" + joiner.join(self.expr(v) for v in node.values) + ")"

    def _Compare(self, node: ast.Compare) -> str:
        # in a chain ``a < b < c`` each middle operand is computed once into a local (``_tN := ...``): emitting
        # its code twice would grow nested chains as 2**depth (72 MB of Python for 201 characters)
        parts = []
        left = self.expr(node.left)
        last = len(node.ops) - 1
        for position, (op, right_node) in enumerate(zip(node.ops, node.comparators, strict=True)):
            right = self.expr(right_node)
            if position < last:
                temp = self.module.temp()
                parts.append(f"_cmp({left}, {COMPARE_OPS[type(op)]!r}, ({temp} := {right}))")
                left = temp
            else:
                parts.append(f"_cmp({left}, {COMPARE_OPS[type(op)]!r}, {right})")
        return parts[0] if len(parts) == 1 else "(" + " and ".join(parts) + ")"

    def _IfExp(self, node: ast.IfExp) -> str:
        return f"({self.expr(node.body)} if {self.expr(node.test)} else {self.expr(node.orelse)})"

    def _List(self, node: ast.List | ast.Tuple) -> str:
        # the language only has lists: a tuple would make ``text([1, 2])`` '(1, 2)' and ``[1] == items`` false
        return "[" + ", ".join(self.expr(e) for e in node.elts) + "]"

    _Tuple = _List

    def _Call(self, node: ast.Call) -> str:
        spec = FUNCTIONS[node.func.id]  # type: ignore[attr-defined]
        args, kwonly = normalize_call(node, spec)
        rendered = []
        for position, arg in enumerate(args):
            if position in spec.prepare:
                rendered.append(self.module.constant(spec.prepare[position](literal_value(arg))))
            else:
                rendered.append(self.expr(arg))
        if spec.loss is not None and self.field is not None:
            return self._reporting_call(spec, rendered, {name: self.expr(value) for name, value in kwonly.items()})
        rendered.extend(f"{name}={self.expr(value)}" for name, value in kwonly.items())
        if spec.needs_context:
            rendered.insert(0, "ctx")
        return f"{self.module.function_ref(spec.name)}({', '.join(rendered)})"

    def _reporting_call(self, spec: FunctionSpec, positional: list[str], keywords: dict[str, str]) -> str:
        """A lossy call inside a mapped field: the plain call, and only when its result looks like a loss (rare)
        a call that reports it. The arguments go to locals so that both see the same values::

            (_t1 if ((_t1 := _f_phone(ctx, (_t2 := rec.get('phone')))) is not None or _t2 is None)
             else _r_phone(ctx, 'phone', _t1, _t2))
        """
        temps = [self.module.temp() for _ in positional]
        named = {name: self.module.temp() for name in keywords}
        args = [f"({t} := {code})" for t, code in zip(temps, positional, strict=True)]
        args += [f"{name}=({named[name]} := {code})" for name, code in keywords.items()]
        if spec.needs_context:
            args.insert(0, "ctx")
        result = self.module.temp()
        call = f"({result} := {self.module.function_ref(spec.name)}({', '.join(args)}))"
        kept = f"{call} is not None or {temps[0]} is None" if spec.loss_shows == "null" else f"{call} == {temps[0]}"
        report = ["ctx", repr(self.field), result, *temps, *(f"{name}={t}" for name, t in named.items())]
        return f"({result} if ({kept}) else {self.module.reporter_ref(spec.name)}({', '.join(report)}))"


def field_assignment(target: str, key: str, value_code: str, label: str | None = None) -> list[str]:
    """``target[key] = value``; a failure becomes a record error naming the field (``label``)."""
    label = label or key
    return [
        "try:",
        f"    {target}[{key!r}] = {value_code}",
        "except _RecordError as e:",
        f"    raise _prefixed(e, {label!r}) from None",
        "except _Exception as e:",
        f"    raise _field_error({label!r}, e) from None",
    ]
