"""Property-based tests of the expression language.

1. Nothing escapes: any text either fails validation with ``ExpressionError`` or becomes a checked tree
   of allowed nodes, compiled into code that can call nothing but the allow-listed functions and the
   runtime helpers, and that raises nothing but ``RecordError`` on any record.
2. The compiler agrees with the reference interpreter (``reference.py``) on random valid expressions
   and random records: the same value, or the same ``RecordError`` class.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import math
import string
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from hub.errors import RecordError
from hub.expr import functions, runtime
from hub.expr.compiler import _prefixed
from hub.expr.functions import FUNCTIONS
from hub.expr.language import MAX_LENGTH, ExpressionError, parse
from hub.mapping.compiled import CompiledMapping

from .reference import Interpreter
from .support import LOOKUP_NAMES, SETTINGS, FakeContext, compile_expression

BUILTIN_FUNCTIONS = functions._specs()
FAST = settings(deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])
DIFFERENTIAL = settings(deadline=None, max_examples=600, suppress_health_check=[HealthCheck.too_slow])
THOROUGH = settings(deadline=None, max_examples=400, suppress_health_check=[HealthCheck.too_slow])

# -- what generated code may touch ---------------------------------------------------------------------

#: every callable a compiled mapping can reach: the runtime helpers, the allow-listed functions, and the
#: few builtins the code generator itself uses (never reachable from an expression's text)
ALLOWED_CALLABLES = {
    id(obj) for obj in (
        runtime.get, runtime.compare, runtime.add, runtime.sub, runtime.mul, runtime.div, runtime.floordiv,
        runtime.mod, runtime.neg, runtime.pos, runtime.field_error, _prefixed, RecordError, Exception,
        enumerate, bool, isinstance, dict,
        *(spec.impl for spec in FUNCTIONS.values()),
    )
}
#: the only attribute accesses in generated code: dict.get on the record / lookups, list.append on rows
ALLOWED_METHODS = {"get", "append"}
ALLOWED_NODES = (
    ast.Expression, ast.Constant, ast.Name, ast.Load, ast.Attribute, ast.Subscript, ast.BinOp, ast.UnaryOp,
    ast.BoolOp, ast.Compare, ast.IfExp, ast.List, ast.Tuple, ast.Call, ast.keyword,
    ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Not, ast.USub, ast.UAdd, ast.And, ast.Or,
    ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn, ast.Is, ast.IsNot,
)


def assert_tree_is_allowed(tree: ast.AST) -> None:
    """An audit of the checked tree written independently of the checker."""
    for node in ast.walk(tree):
        assert isinstance(node, ALLOWED_NODES), f"node {type(node).__name__} passed the checker"
        if isinstance(node, ast.Call):
            assert isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS, ast.dump(node)
        if isinstance(node, ast.Name):
            assert not node.id.startswith("__"), node.id
        if isinstance(node, ast.Attribute):
            assert not node.attr.startswith("_"), node.attr
        if isinstance(node, ast.Constant):
            assert isinstance(node.value, (str, int, float, bool, type(None))), repr(node.value)


def assert_generated_code_is_confined(compiled: CompiledMapping) -> None:
    """Every call in the generated module goes to an allow-listed callable or to a ``.get``/``.append``."""
    module = ast.parse(compiled.python_source)
    namespace = compiled.map_record.__globals__
    assert namespace["__builtins__"] == {}
    generated = {node.name for node in module.body if isinstance(node, ast.FunctionDef)}
    for function in module.body:
        assert isinstance(function, ast.FunctionDef), ast.dump(function)
        local = {arg.arg for arg in function.args.args}
        local |= {n.id for n in ast.walk(function) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        local |= {h.name for h in ast.walk(function) if isinstance(h, ast.ExceptHandler) and h.name}
        for node in ast.walk(function):
            if isinstance(node, ast.Attribute):
                assert node.attr in ALLOWED_METHODS, f"attribute .{node.attr} in generated code"
                assert isinstance(node.value, ast.Name) and node.value.id in local, ast.unparse(node)
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                assert node.id in local or node.id in namespace, f"undefined name {node.id}"
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                name = node.func.id
                assert name in generated or id(namespace[name]) in ALLOWED_CALLABLES, f"call to {name}"
            if isinstance(node, (ast.Import, ast.ImportFrom, ast.Lambda, ast.Global, ast.Nonlocal)):
                raise AssertionError(f"{type(node).__name__} in generated code")
    for name, obj in namespace.items():
        if callable(obj) and name not in generated:
            assert id(obj) in ALLOWED_CALLABLES, f"global {name} = {obj!r}"


# -- random records ------------------------------------------------------------------------------------

DOMAIN_TEXT = [
    "", "  ", "0", "1", "-1", "12.50", "1 234,56", "1e5", "1e999999999", "NaN", "inf", "sNaN", "abc", "да", "нет",
    "yes", "false", "8 (916) 123-45-67", "+7 916 123 45 67", "+49 30 123456", "garbage",
    " Ivan.Petrov@Example.COM ", "mailto:a@b.ru", "a@b", "2024-03-01", "2024-03-01T10:00:00",
    "2024-03-01T10:00:00+05:00", "2024-03-01T07:00:00Z", "01.03.2024", "01.03.2024 10:30", "0001-01-01T00:00:00+03:00",
    "9999-12-31T23:59:59-05:00", "Иван Петров", "__class__", "{0.__class__}", "%s", "\x00",
]

small_ints = st.integers(-3, 3)
scalars = st.one_of(
    # small values of every numeric type collide often, so equality, ordering and mixing get exercised
    small_ints,
    small_ints.map(float),
    small_ints.map(Decimal),
    st.sampled_from(["", "a", "A ", "1", "2.5", "0.1"]),
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.sampled_from([0, 1, -1, 2**63, 10**30, 1_700_000_000]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-(10**9), max_value=10**9),
    st.sampled_from([Decimal("0"), Decimal("1E+30"), Decimal("-0.005"), Decimal("NaN"), Decimal("1E-30")]),
    st.sampled_from(DOMAIN_TEXT),
    st.text(max_size=12),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["x", "k y", "inner"]), inner,
                                                                max_size=3),
    max_leaves=6,
)
FIELDS = ["a", "b", "c", "n", "s", "d", "items", "obj", "client"]
records = st.fixed_dictionaries({name: values for name in FIELDS[:4]}, optional={name: values for name in FIELDS[4:]})
lookup_results = st.fixed_dictionaries({}, optional={"client": st.none() | st.fixed_dictionaries({"id": values})})


# -- 1. nothing escapes --------------------------------------------------------------------------------

#: known ways out of Python sandboxes, and near misses; each must fail validation
ESCAPES = [
    "__import__('os').system('id')",
    "().__class__.__bases__[0].__subclasses__()",
    "''.__class__.__mro__[1].__subclasses__()",
    "[].__class__.__base__",
    "record.__class__",
    "record.__dict__",
    "record['a'].__class__",
    "settings.__class__.__init__.__globals__",
    "trim.__globals__",
    "lookup.__globals__['__builtins__']",
    "trim(x).__class__",
    "(1).__class__",
    "getattr(record, '__class__')",
    "type(record)",
    "vars(record)",
    "globals()",
    "locals()",
    "dir()",
    "eval('1')",
    "exec('import os')",
    "compile('1', '', 'eval')",
    "open('/etc/passwd').read()",
    "breakpoint()",
    "print(1)",
    "help(trim)",
    "__builtins__",
    "__builtins__['eval']",
    "__loader__",
    "_f_trim(x)",
    "_get(record, 'a')",
    "lk.get('client')",
    "rec.get('a')",
    "ctx.lookup('a', 1, 'b', 'c')",
    "(lambda: 1)()",
    "(lambda: __import__('os'))()",
    "[c for c in ().__class__.__base__.__subclasses__()]",
    "{c: 1 for c in 'ab'}",
    "{c for c in 'ab'}",
    "(c for c in 'ab')",
    "f'{__import__(\"os\").system(\"id\")}'",
    "f'{record!r}'",
    "'{0.__class__}'.format(x)",
    "x.format(y)",
    "(x := __import__('os'))",
    "trim(*record)",
    "trim(**record)",
    "x if true else __import__('os')",
    "coalesce(x, getattr(x, 'y'))",
    "record[0:1]",
    "record[x]",
    "record[-'a']",
    "x ** 999999999",
    "x << 99999999",
    "~x",
    "x @ x",
    "x | y",
    "x & y",
    "x ^ y",
    "b'\\x00'",
    "1j",
    "...",
    "{}",
    "{1}",
    "await x",
    "(yield x)",
    "ｒｅｃｏｒｄ.__ｃｌａｓｓ__",  # fullwidth letters: Python normalises identifiers (NFKC)
    "＿＿import＿＿('os')",
    "regex_replace(x, '(', '')",
    "datetime(x, tz='../../../../etc/passwd')",
    "lookup(x, 1, 'a', 'b')",
    "concat(x, sep=__import__('os'))",
    "concat(x, **{'sep': 1})",
    "a\x00b",
    "trim(x) # comment\n.__class__",
    "x if y else (z := 1)",
    "-'a' if true else trim(-'b', 1)",
]


@pytest.mark.parametrize("payload", ESCAPES)
def test_known_sandbox_escapes_are_refused_at_validation(payload: str) -> None:
    with pytest.raises(ExpressionError):
        parse(payload)


@pytest.mark.parametrize("name", ["rec", "lk", "ctx", "out", "row", "rows", "r0", "i0", "e", "_settings", "_get",
                                  "_k0", "_t1", "_f_trim", "_RecordError", "_each_0", "_map"])
def test_names_used_inside_generated_code_are_plain_record_fields(name: str) -> None:
    compiled = compile_expression(name)
    assert compiled.map_record({name: "from the record"}, FakeContext(), {})["v"] == "from the record"


def test_nested_chained_comparisons_compile_to_code_of_linear_size() -> None:
    # each level used to emit its middle operand twice: 2**depth code (72 MB for 201 characters)
    text = "x"
    for _ in range(30):
        text = f"(a < {text} < b)"
    compiled = compile_expression(text)
    assert len(compiled.python_source) < 50 * len(text)
    assert compiled.map_record({"a": 1, "b": 2, "x": 1}, FakeContext(), {})["v"] is False


TOKENS = [
    "a", "b", "x", "record", "parent", "settings", "_index", "client", "items", "null", "true", "True", "None",
    "__import__", "__class__", "__globals__", "__builtins__", "__subclasses__", "_f_trim", "_get", "rec", "lk",
    "eval", "exec", "open", "getattr", "type", "lambda", "for", "in", "not", "and", "or", "if", "else", "is",
    "yield", "await", "import", "def", ":=", "=", "*", "**", "+", "-", "/", "//", "%", "@", "<<", "~", "|", "<",
    "==", ">=", ".", ",", ":", "(", ")", "[", "]", "{", "}", "'", '"', "f'", "'{x}'", "\\", "#", "\n", "\x00",
    "0", "1", "-1", "1.5", "1e999", "0x10", "'a'", "'__class__'", "b'x'", "1j", "...",
    *FUNCTIONS, "sep=", "tz=", "region=", "required=", "'UTC'", "'%d.%m.%Y'", "'RU'", "'['",
]

token_soup = st.lists(st.sampled_from(TOKENS), min_size=1, max_size=25).flatmap(
    lambda tokens: st.sampled_from([" ".join(tokens), "".join(tokens)]))
nesting = st.builds(
    lambda open_, close, inner, depth: open_ * depth + inner + close * depth,
    st.sampled_from(["(", "[", "-", "not ", "trim(", "a.", "x + ", "coalesce(x, ", "(a < "]),
    st.sampled_from(["", ")", "]", ")]"]),
    st.sampled_from(["x", "a.b", "1", "__import__('os')"]),
    st.integers(1, MAX_LENGTH // 2),
)
long_input = st.builds(lambda unit, n: unit * n, st.sampled_from(["x", "a+", "'a'+", "[x]+", "\x00", "é"]),
                       st.integers(MAX_LENGTH - 5, MAX_LENGTH + 5))
arbitrary_text = st.one_of(
    st.text(max_size=60),
    st.text(alphabet=string.printable, max_size=60),
    token_soup,
    nesting,
    long_input,
)


def run_everywhere(compiled: CompiledMapping, record: dict[str, Any], lookups: dict[str, Any]) -> None:
    ctx = FakeContext(keys={("client", "1", "site", "crm"): "C-1"})
    with contextlib.suppress(RecordError):
        compiled.map_record(record, ctx, lookups)
    if compiled.where is not None:
        with contextlib.suppress(RecordError):
            compiled.where(record, ctx, lookups)


@THOROUGH
@pytest.mark.filterwarnings("ignore::SyntaxWarning", "ignore::DeprecationWarning")  # Python's own, on odd input
@given(text=arbitrary_text, record=records, lookups=lookup_results)
@example(text="trim(x)", record={"x": "a"}, lookups={})
@example(text="record", record={"a": 1}, lookups={})
@example(text="x" * (MAX_LENGTH + 1), record={}, lookups={})
def test_arbitrary_text_is_refused_or_compiles_to_confined_code(text: str, record: dict[str, Any],
                                                                lookups: dict[str, Any]) -> None:
    try:
        checked = parse(text)
    except ExpressionError:
        return
    assert_tree_is_allowed(checked.tree)
    compiled = compile_expression(text, where=text)
    assert_generated_code_is_confined(compiled)
    run_everywhere(compiled, record, lookups)


# -- 2. compiled == reference --------------------------------------------------------------------------

PATHS = [
    "a", "b", "c", "n", "s", "d", "items", "obj", "missing", "obj.x", "obj['k y']", "obj.inner.x", "items[0]",
    "items[-1]", "items[5]", "record.a", "record['b']", "record['k y']", "client", "client.id", "settings.region",
    "settings.manager.id", "settings", "parent", "parent.x", "_index", "record",
]
text_literals = st.sampled_from(DOMAIN_TEXT).map(repr) | st.text(max_size=6).map(repr)
number_literals = st.one_of(
    st.integers(-3, 3).map(str),
    st.sampled_from(["0.0", "1.0", "2.5", "-1.5", "0.1"]),
    st.integers(-(10**6), 10**6).map(str),
    st.sampled_from(["0", "1", "2", "3", "10", "0.1", "0.5", "2.675", "1e999", "100000000000000000000000000000"]),
    st.floats(allow_nan=False, allow_infinity=False, width=32).map(repr),
)
leaves = st.one_of(
    st.sampled_from(PATHS),
    text_literals,
    number_literals,
    st.sampled_from(["true", "false", "null", "True", "None"]),
)
PATTERNS = [(r"r'\d'", "'#'"), (r"r'\s+'", "' '"), ("'^a'", "''"), (r"r'(\w)(\w)'", r"r'\2\1'"), ("'[,.]'", "'.'")]
FORMATS = ["'%d.%m.%Y'", "'%Y-%m-%d %H:%M'", "'%H:%M'", "'%Y'"]
ZONES = ["'UTC'", "'Europe/Moscow'", "'Asia/Yekaterinburg'", "'America/New_York'"]


def calls(e: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    def call(name: str, *parts: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.tuples(*parts).map(lambda args: f"{name}({', '.join(args)})")

    def lit(*options: str) -> st.SearchStrategy[str]:
        return st.sampled_from(options)

    simple = [call(name, e) for name in ("trim", "lower", "upper", "length", "email", "decimal", "int", "text",
                                         "bool", "date", "datetime", "to_timezone", "naive_local", "phone")]
    return st.one_of(
        *simple,
        call("concat", e), call("concat", e, e), call("concat", e, e, lit("sep=' '", "sep='-'", "sep=1")),
        call("coalesce", e, e), call("coalesce", e, e, e), call("default", e, e),
        call("require", e), call("require", e, lit("'needed'")),
        call("truncate", e, lit("0", "2", "5")),
        st.tuples(e, st.sampled_from(PATTERNS)).map(lambda t: f"regex_replace({t[0]}, {t[1][0]}, {t[1][1]})"),
        call("regex_match", e, st.sampled_from([p for p, _ in PATTERNS])),
        call("phone", e, lit("'DE'", "region='US'", "'RU'")),
        call("round_money", e), call("round_money", e, lit("0", "3", "-1")),
        call("datetime", e, st.sampled_from(FORMATS)), call("datetime", e, st.sampled_from(ZONES).map("tz={}".format)),
        call("datetime", e, st.sampled_from(FORMATS), st.sampled_from(ZONES)),
        call("date", e, st.sampled_from(FORMATS)),
        call("to_timezone", e, st.sampled_from(ZONES)), call("naive_local", e, st.sampled_from(ZONES)),
        call("format_datetime", e, st.sampled_from(FORMATS)),
        call("format_datetime", e, st.sampled_from(FORMATS), st.sampled_from(ZONES)),
        call("format_date", e, st.sampled_from(FORMATS)),
        call("add_minutes", e, e),
        call("pick", e, e), call("sum_of", e), call("sum_of", e, lit("'x'")), call("max_of", e),
        call("max_of", e, lit("'x'")), call("rows_with", e, lit("'x'"), e), call("compact", e),
        call("lookup", lit("'client'"), e, lit("'site'"), lit("'crm'")),
        call("lookup", lit("'client'"), e, lit("'site'"), lit("'crm'"), lit("required=false", "false")),
    )


def operators(e: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    arithmetic = st.sampled_from(["+", "-", "*", "/", "//", "%"])
    comparison = st.sampled_from(["==", "!=", "<", "<=", ">", ">=", "in", "not in"])
    return st.one_of(
        st.tuples(e, arithmetic, e).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(st.sampled_from(["-", "+", "not "]), e).map(lambda t: f"({t[0]}{t[1]})"),
        st.tuples(e, st.sampled_from(["and", "or"]), e).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(e, e, e).map(lambda t: f"({t[0]} or {t[1]} and {t[2]})"),
        st.tuples(e, comparison, e).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(e, comparison, e, comparison, e).map(lambda t: f"({' '.join(t)})"),
        st.tuples(e, st.sampled_from(["is null", "is not null", "is None", "is not None"])).map(" ".join)
        .map("({})".format),
        st.tuples(e, e, e).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})"),
        st.lists(e, max_size=3).map(lambda xs: f"[{', '.join(xs)}]"),
        st.tuples(e, e, e).map(lambda t: f"({t[0]} in [{t[1]}, {t[2]}])"),
    )


@functools.cache
def valid_expressions(depth: int = 4) -> st.SearchStrategy[str]:
    """Random valid expressions, fully parenthesised, at most ``depth`` operators or calls deep.

    Operators are drawn twice as often as calls (``.map(str)`` keeps hypothesis from flattening the
    one_of()s into one list of ~60 branches, most of them calls). Each level is built once and wrapped in
    ``deferred`` so its repr stays short: the repr of the nested strategies grows exponentially with depth,
    and hypothesis computes it when it reports a failure.
    """
    if depth == 0:
        return leaves

    def level() -> st.SearchStrategy[str]:
        inner = valid_expressions(depth - 1)
        return st.one_of(leaves, operators(inner).map(str), operators(inner).map(str), calls(inner).map(str))

    return st.deferred(level)


def same(a: Any, b: Any) -> bool:
    """Equal value *and* type, recursively; NaN equals NaN (repr compares both)."""
    return type(a) is type(b) and repr(a) == repr(b)


def reference_outcome(text: str, record: dict[str, Any], lookups: dict[str, Any],
                      ctx: FakeContext) -> tuple[str, Any]:
    interpreter = Interpreter(ctx, lookups=lookups, lookup_names=LOOKUP_NAMES, settings=SETTINGS)
    try:
        return "value", interpreter.evaluate(text, record)
    except RecordError as exc:
        return "error", type(exc)


def compiled_outcome(compiled: CompiledMapping, record: dict[str, Any], lookups: dict[str, Any],
                     ctx: FakeContext) -> tuple[str, Any]:
    try:
        return "value", compiled.map_record(record, ctx, lookups)["v"]
    except RecordError as exc:
        # the field wrapper turns an unexpected Python error into a DataError; that would be a leak
        assert isinstance(exc.__context__, RecordError), f"leaked {exc.__context__!r}"
        return "error", type(exc)


def context() -> FakeContext:
    return FakeContext(keys={("client", "1", "site", "crm"): "C-1", ("client", "abc", "site", "crm"): 7})


@DIFFERENTIAL
@given(text=valid_expressions(), record=records, lookups=lookup_results)
@example(text="a < b < c", record={"a": 1, "b": 2, "c": 3}, lookups={})
@example(text="decimal(a) == 0.1", record={"a": "0.1"}, lookups={})
@example(text="text([a, b])", record={"a": 1, "b": 2}, lookups={})
@example(text="[a] == items", record={"a": 1, "items": [1]}, lookups={})
@example(text="int(a)", record={"a": "1e999999999"}, lookups={})
@example(text="decimal(a) < 1", record={"a": Decimal("NaN")}, lookups={})
@example(text="add_minutes(a, b)", record={"a": "2024-03-01", "b": None}, lookups={})
@example(text="datetime(a, tz='UTC')", record={"a": "2024-03-01 10:00"}, lookups={})
@example(text="client.id", record={"client": {"id": "field"}}, lookups={"client": {"id": "lookup"}})
@example(text="'x' * 3", record={}, lookups={})
@example(text="'%s' % a", record={"a": 1}, lookups={})
def test_compiled_expressions_agree_with_the_reference_interpreter(text: str, record: dict[str, Any],
                                                                   lookups: dict[str, Any]) -> None:
    assume(len(text) <= MAX_LENGTH)
    try:
        checked = parse(text)
    except ExpressionError as exc:  # the generator writes only valid expressions
        raise AssertionError(f"generated an invalid expression {text!r}: {exc}") from None
    compiled = compile_expression(text)
    expected = reference_outcome(text, record, lookups, context())
    actual = compiled_outcome(compiled, record, lookups, context())
    assert expected[0] == actual[0], (text, expected, actual)
    if expected[0] == "error":
        assert expected[1] is actual[1], (text, expected, actual)
    else:
        assert same(expected[1], actual[1]), (text, expected, actual)
    assert_tree_is_allowed(checked.tree)


OPERATOR_EXPRESSIONS = [
    "a + b", "a - b", "a * b", "a / b", "a // b", "a % b", "-a", "+a", "not a", "a and b", "a or b",
    "a == b", "a != b", "a < b", "a <= b", "a > b", "a >= b", "a in b", "a not in b", "a is null", "a is not null",
    "a < b < c", "a == b != c", "a if b else c", "[a, b] == [b, a]", "a in [b, c]",
]
#: few distinct values of every type, so that equal and "almost equal" operands (1, 1.0, Decimal(1), True) meet often
colliding = st.sampled_from([
    None, True, False, 0, 1, 2, -1, 0.0, 1.0, 0.1, 2.5, float("nan"), float("inf"), Decimal("0"), Decimal("1"),
    Decimal("1.00"), Decimal("0.1"), Decimal("2.5"), Decimal("NaN"), "", "a", "ab", "1", [], [1], [1, 2], ["a"],
    {}, {"a": 1},
]) | scalars


@functools.cache
def compiled_operator(text: str) -> CompiledMapping:
    return compile_expression(text)


@DIFFERENTIAL
@given(text=st.sampled_from(OPERATOR_EXPRESSIONS), a=colliding, b=colliding, c=colliding)
def test_operators_agree_with_the_reference_interpreter(text: str, a: Any, b: Any, c: Any) -> None:
    record = {"a": a, "b": b, "c": c}
    expected = reference_outcome(text, record, {}, context())
    actual = compiled_outcome(compiled_operator(text), record, {}, context())
    assert expected[0] == actual[0], (text, expected, actual)
    assert same(expected[1], actual[1]) if expected[0] == "value" else expected[1] is actual[1], (text, expected,
                                                                                                  actual)


@FAST
@given(name=st.sampled_from(sorted(BUILTIN_FUNCTIONS)), args=st.lists(values, min_size=1, max_size=4))
@example(name="max_of", args=[[Decimal("NaN"), Decimal(1)]])
@example(name="sum_of", args=[["9e999999", "9e999999"]])
@example(name="int", args=["1e999999999"])
@example(name="round_money", args=["sNaN"])
@example(name="add_minutes", args=["2024-03-01", None])
@example(name="to_timezone", args=["0001-01-01T00:00:00+03:00"])
@example(name="datetime", args=[10**20])
def test_functions_raise_only_record_errors_on_any_input(name: str, args: list[Any]) -> None:
    """Record data is untrusted: whatever it holds, a function gives a value or a RecordError."""
    spec = FUNCTIONS[name]
    if name == "lookup":  # its entity and systems are literals, only the value comes from the record
        args = ["client", args[0], "site", "crm"]
    upper = spec.max_args if spec.max_args is not None else 4
    args = args[:upper] if len(args) >= spec.min_args else args + [None] * (spec.min_args - len(args))
    for position, prepare in spec.prepare.items():  # literal arguments: replace with a valid literal
        if position < len(args):
            args[position] = prepare(VALID_LITERALS[(name, position)])
    for position in spec.literal_args:
        if position < len(args) and position not in spec.prepare and name != "lookup":
            args[position] = VALID_LITERALS.get((name, position))
    call_args = [context(), *args] if spec.needs_context else args
    with contextlib.suppress(RecordError):
        spec.impl(*call_args)


VALID_LITERALS: dict[tuple[str, int], Any] = {
    ("truncate", 1): 3, ("regex_replace", 1): r"\d", ("regex_replace", 2): "#", ("regex_match", 1): "^a",
    ("phone", 1): "DE", ("round_money", 1): 2, ("datetime", 1): "%d.%m.%Y", ("datetime", 2): "UTC",
    ("date", 1): "%d.%m.%Y", ("to_timezone", 1): "UTC", ("naive_local", 1): "UTC", ("format_datetime", 1): "%Y",
    ("format_datetime", 2): "UTC", ("format_date", 1): "%Y", ("require", 1): "needed",
    ("sum_of", 1): "x", ("max_of", 1): "x", ("rows_with", 1): "x", ("first_of", 1): "x",
}


def test_reference_interpreter_shares_no_code_with_the_compiler() -> None:
    """The differential test is only worth something if the two implementations are separate."""
    from . import reference

    tree = ast.parse(Path(reference.__file__).read_text(encoding="utf-8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert not imported & {"hub.expr.compiler", "hub.expr.runtime", "hub.mapping.compiled"}
    assert "hub.expr.language" in imported  # the parser and its call normalisation are shared on purpose


def test_reference_agrees_on_documented_examples() -> None:
    """A few hand-checked values, so that a shared mistake of both implementations is caught too."""
    ctx = context()
    cases: list[tuple[str, dict[str, Any], Any]] = [
        ("a + b", {"a": 1, "b": None}, None),
        ("a + b", {"a": "x", "b": "y"}, "xy"),
        ("decimal(a) + 0.1", {"a": "0.2"}, Decimal("0.3")),
        ("a < b", {"a": None, "b": 1}, False),
        ("a in b", {"a": 1, "b": None}, False),
        ("a not in b", {"a": 1, "b": None}, True),
        ("[a, b]", {"a": 1}, [1, None]),
        ("obj['k y']", {"obj": {"k y": 5}}, 5),
        ("items[-1]", {"items": [1, 2]}, 2),
        ("items[9]", {"items": [1, 2]}, None),
        ("s.x", {"s": "text"}, None),
        ("a or b", {"a": "", "b": 0}, 0),
        ("7 // 2 + 7 % 2", {}, 4),
    ]
    for text, record, expected in cases:
        compiled = compile_expression(text).map_record(record, ctx, {})["v"]
        interpreted = Interpreter(ctx, lookup_names=LOOKUP_NAMES).evaluate(text, record)
        assert same(compiled, expected), (text, compiled)
        assert same(interpreted, expected), (text, interpreted)


@pytest.mark.parametrize("text", ["'x' * 3", "3 * 'x'", "'%s' % a", "a % 'x'", "'a' - 'b'", "-'a'", "true + 1"])
def test_text_is_never_repeated_or_formatted(text: str) -> None:
    ctx = context()
    with pytest.raises(RecordError):
        compile_expression(text).map_record({"a": 1}, ctx, {})
    with pytest.raises(RecordError):
        Interpreter(ctx).evaluate(text, {"a": 1})


def test_division_by_zero_is_a_data_error_not_a_crash() -> None:
    for text in ("a / 0", "a // 0", "a % 0", "decimal(a) / 0", "a / 0.0"):
        with pytest.raises(RecordError, match="division by zero"):
            compile_expression(text).map_record({"a": 1}, context(), {})


def test_infinite_float_literal_compiles() -> None:
    value = compile_expression("1e999 > a").map_record({"a": 1}, context(), {})["v"]
    assert value is True
    assert math.isinf(Interpreter(context()).evaluate("1e999", {}))
