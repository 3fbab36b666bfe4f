"""The allow-list of functions a mapping expression may call.

Each function is declared as data (``FunctionSpec``): arity, which arguments must be literals (so a regex
or a date format is compiled once, when the mapping is), whether it needs the run context (default phone
region, time zone, key map), and its result type for ``hub validate``. Functions are total over ``None``:
an empty input gives an empty output, so ``coalesce``/``default`` compose naturally. Input a function
cannot convert raises ``DataError``, which sends the record to dead letters with the reason.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Literal, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hub.errors import DataError, DependencyMissing

ValueType = Literal["string", "integer", "decimal", "float", "boolean", "date", "datetime", "any", "list"]


class EvalContext(Protocol):
    """What context-dependent functions may ask of the run."""

    default_region: str
    timezone: str

    def lookup(self, entity: str, value: Any, from_system: str, to_system: str) -> Any: ...

    def warn(self, loss: Loss) -> None:
        """A field's value was emptied or cut by a conversion (the record still crosses)."""


@dataclass(frozen=True)
class Loss:
    """What a conversion dropped from a field's value: the run counts it as a warning with the record's key."""

    field: str  # the target field, as the mapping names it ('name', 'lines[].qty')
    problem: str  # without the value, for logs, notes and summaries: "not a phone number"
    detail: str  # with the value as it was typed, for the record's dead letter: "'12' is not a phone number"


#: what a call gave up: (problem, detail) from the result and the call's arguments, or None when nothing was lost
LossCheck = Callable[..., "tuple[str, str] | None"]


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    impl: Callable[..., Any]
    min_args: int
    max_args: int | None
    returns: ValueType = "any"
    needs_context: bool = False
    literal_args: tuple[int, ...] = ()  # positions that must be literals
    keywords: tuple[str, ...] = ()
    #: False when the result depends on more than the arguments (the key map): such a mapping's output can
    #: change while its source record does not, so unchanged source records must still be mapped
    pure: bool = True
    #: argument position -> function that turns that literal into a ready object once, at compile time
    prepare: dict[int, Callable[[Any], Any]] = field(default_factory=dict)
    #: for a function that may empty or cut a value it was given: tells what was lost (see :func:`reporter`)
    loss: LossCheck | None = None
    #: when a call may have lost something: its result is null ("null"), or differs from its first argument
    #: ("change"); otherwise nothing was lost and the compiled code checks no further (the common case is free)
    loss_shows: Literal["null", "change"] = "null"


def reporter(spec: FunctionSpec) -> Callable[..., Any]:
    """``report(ctx, field, result, *args)``: tells ``ctx.warn`` what a call of ``spec`` that may have lost
    something did lose, and returns its result.

    Mapped fields call it after a lossy call whose result looks like a loss (``loss_shows``); ``where`` and
    lookups never do: a value they drop crosses nowhere.
    """
    loss = spec.loss
    assert loss is not None, spec.name

    def report(ctx: Any, field: str, result: Any, *args: Any, **kwargs: Any) -> Any:
        lost = loss(result, *args, **kwargs)
        if lost is not None:
            warn = getattr(ctx, "warn", None)  # a context that does not collect warnings just drops them
            if warn is not None:
                warn(Loss(field, *lost))
        return result

    return report


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


# -- strings -------------------------------------------------------------------------------------------

def trim(value: Any) -> str | None:
    text = _text(value)
    return None if text is None else text.strip()


def lower(value: Any) -> str | None:
    text = _text(value)
    return None if text is None else text.lower()


def upper(value: Any) -> str | None:
    text = _text(value)
    return None if text is None else text.upper()


def concat(*values: Any, sep: str = "") -> str | None:
    sep = "" if sep is None else str(sep)  # ``sep=1`` is a literal like any other
    parts = [_text(v) for v in values if not _empty(v)]
    return sep.join(p for p in parts if p is not None) if parts else None


def coalesce(*values: Any) -> Any:
    for value in values:
        if not _empty(value):
            return value
    return None


def default(value: Any, fallback: Any) -> Any:
    return fallback if _empty(value) else value


def require(value: Any, reason: str = "required value is empty") -> Any:
    if _empty(value):
        raise DataError(reason)
    return value


def truncate(value: Any, length: int) -> str | None:
    text = _text(value)
    return None if text is None else text[:length]


def _truncate_loss(result: Any, value: Any, length: int) -> tuple[str, str] | None:
    text = _text(value)
    if text is None or len(text) <= length:
        return None
    problem = f"cut from {len(text)} to {length} characters"
    return problem, problem


def _prepare_regex(pattern: Any) -> re.Pattern[str]:
    if not isinstance(pattern, str):
        raise ValueError("the pattern must be a text literal")
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"invalid regular expression: {exc}") from None


def regex_replace(value: Any, pattern: re.Pattern[str], replacement: str) -> str | None:
    text = _text(value)
    return None if text is None else pattern.sub(replacement, text)


def regex_match(value: Any, pattern: re.Pattern[str]) -> bool:
    text = _text(value)
    return text is not None and pattern.search(text) is not None


def pick(choices: Any, key: Any) -> Any:
    """One element of ``choices`` chosen by ``key``, the same one every time the key is the same.

    A whole-number key (an inbox id, a sequence) takes ``choices[key % len(choices)]``: round robin over the
    sequence. Any other key takes a stable hash of its text. ``None`` for an empty key or an empty list.
    """
    if _empty(key) or not isinstance(choices, (list, tuple)) or not choices:
        return None
    if isinstance(key, int) and not isinstance(key, bool):
        return choices[key % len(choices)]
    return choices[zlib.crc32(str(key).encode("utf-8")) % len(choices)]


def length(value: Any) -> int:
    return 0 if value is None else len(value) if isinstance(value, (str, list, tuple, dict)) else len(str(value))


# -- lists (child rows: a deal's invoices, an invoice's payments, a 1C tabular section) -------------------

def _items(rows: Any, field: str | None) -> list[Any]:
    """The non-empty values of a list, or of ``field`` in each of its rows."""
    if rows is None:
        return []
    if not isinstance(rows, (list, tuple)):
        raise DataError(f"not a list: {_preview(rows)}")
    values = [row.get(field) if isinstance(row, dict) else None for row in rows] if field is not None else list(rows)
    return [v for v in values if not _empty(v)]


def sum_of(rows: Any, field: str | None = None) -> Decimal:
    """The sum of ``field`` over the rows (of the list's numbers without ``field``); 0 for none."""
    total = Decimal(0)
    for value in _items(rows, field):
        try:
            total += to_decimal(value)  # type: ignore[operator]
        except ArithmeticError:  # decimal.Overflow, e.g. 9e999999 + 9e999999
            raise DataError(f"the sum of {field or 'the list'} is too large") from None
    return total


def max_of(rows: Any, field: str | None = None) -> Any:
    """The largest ``field`` value over the rows (null for none): the latest payment date, the top price."""
    values = _items(rows, field)
    try:
        return max(values) if values else None
    except (TypeError, ArithmeticError):  # mixed kinds, or a Decimal NaN (decimal.InvalidOperation)
        raise DataError(f"cannot compare the values of {field or 'the list'}: {_preview(values)}") from None


def first_of(rows: Any, field: str | None = None) -> Any:
    """The first non-empty ``field`` value over the rows (null for none): the document a settlement row names."""
    values = _items(rows, field)
    return values[0] if values else None


def rows_with(rows: Any, field: str, value: Any) -> list[Any]:
    """The rows whose ``field`` equals ``value`` (the paid invoices: ``rows_with(invoices, 'status', 'paid')``)."""
    if rows is None:
        return []
    if not isinstance(rows, (list, tuple)):
        raise DataError(f"not a list: {_preview(rows)}")
    return [row for row in rows if isinstance(row, dict) and row.get(field) == value]


def compact(values: Any) -> list[Any]:
    """The list without its empty elements (null, blank text): ``[phone(phone), email(email)]`` -> present ones."""
    return _items(values, None)


# -- contacts ------------------------------------------------------------------------------------------

def phone(ctx: EvalContext, value: Any, region: str | None = None) -> str | None:
    """A phone number in E.164 (``+74951234567``), or ``None`` if the input is empty or not a phone."""
    text = _text(value)
    if text is None or _empty(text):
        return None
    return to_e164(text, region or ctx.default_region)


def to_e164(text: str, region: str) -> str | None:
    """:func:`hub.expr.phones.to_e164`, imported on first use: phonenumbers takes 40 ms to import, paid by
    every ``hub run`` whether its mapping calls phone() or not."""
    return _e164()(text, region)


@functools.cache
def _e164() -> Callable[[str, str], str | None]:
    from hub.expr.phones import to_e164 as convert

    return convert


def _phone_loss(result: Any, value: Any, region: str | None = None) -> tuple[str, str] | None:
    if result is not None or _empty(_text(value)):
        return None
    return "not a phone number", f"{_preview(value)} is not a phone number"


_EMAIL = re.compile(r"^[^@\s<>()\[\],;:\"]+@[^@\s<>()\[\],;:\"]+\.[^@\s<>()\[\],;:\"]{2,}$")


def email(value: Any) -> str | None:
    """A trimmed, lower-cased e-mail address, or ``None`` if the input is empty or not an address."""
    text = _text(value)
    if _empty(text):
        return None
    text = text.strip().lower()  # type: ignore[union-attr]
    if text.startswith("mailto:"):
        text = text[7:]
    return text if len(text) <= 254 and _EMAIL.match(text) else None


def _email_loss(result: Any, value: Any) -> tuple[str, str] | None:
    if result is not None or _empty(_text(value)):
        return None
    return "not an e-mail address", f"{_preview(value)} is not an e-mail address"


# -- numbers -------------------------------------------------------------------------------------------

def to_decimal(value: Any) -> Decimal | None:
    if _empty(value):
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise DataError(f"not a number: {value!r}")
    if isinstance(value, float):
        number = Decimal(repr(value))
    else:
        try:
            number = Decimal(str(value).strip().replace(" ", "").replace("\u00a0", "").replace(",", "."))
        except InvalidOperation:
            raise DataError(f"not a number: {_preview(value)}") from None
    # 'NaN', 'Infinity' and 'sNaN' are not numbers: money must not become NaN, and sNaN would make later
    # arithmetic raise decimal.InvalidOperation
    if not number.is_finite():
        raise DataError(f"not a number: {_preview(value)}")
    return number


def round_money(value: Any, places: int = 2) -> Decimal | None:
    number = to_decimal(value)
    if number is None:
        return None
    try:
        return number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    except InvalidOperation:  # more digits than the decimal context holds (>= 1e26)
        raise DataError(f"number too large to round: {_preview(value)}") from None


def to_int(value: Any) -> int | None:
    if _empty(value):
        return None
    if isinstance(value, bool):
        return int(value)
    number = to_decimal(value)
    if number is None or number != number.to_integral_value():
        raise DataError(f"not a whole number: {_preview(value)}")
    # int('1e1000000') takes 25 s and 'e999999999' would never finish (denial of service from one record): a
    # whole number is limited to the digits Python will print (sys.int_info default 4300)
    if number.adjusted() >= _MAX_INT_DIGITS:
        raise DataError(f"whole number too large: {_preview(value)}")
    return int(number)


_MAX_INT_DIGITS = 4300


def to_text(value: Any) -> str | None:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return _text(value)


def to_bool(value: Any) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "y", "on", "да", "истина"):
        return True
    if text in ("0", "false", "no", "n", "off", "нет", "ложь"):
        return False
    raise DataError(f"not a yes/no value: {_preview(value)}")


# -- dates and times -----------------------------------------------------------------------------------

def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise DataError(f"unknown time zone {name!r}") from None


def _check_zone(name: Any) -> Any:
    if name is not None:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise ValueError(f"unknown time zone {name!r}") from None
    return name


def parse_datetime(ctx: EvalContext, value: Any, fmt: str | None = None, tz: str | None = None) -> dt.datetime | None:
    """A timezone-aware datetime. Naive input is taken to be in ``tz`` (default: the hub's time zone)."""
    if _empty(value):
        return None
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, dt.date):
        parsed = dt.datetime.combine(value, dt.time())
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return dt.datetime.fromtimestamp(value, dt.UTC)
        except (OverflowError, OSError, ValueError):  # out-of-range or NaN timestamps
            raise DataError(f"not a timestamp: {_preview(value)}") from None
    else:
        text = str(value).strip()
        try:
            parsed = dt.datetime.strptime(text, fmt) if fmt else dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise DataError(f"not a date-time{' in format ' + fmt if fmt else ''}: {_preview(value)}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_zone(tz or ctx.timezone))
    return parsed


def parse_date(value: Any, fmt: str | None = None) -> dt.date | None:
    if _empty(value):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    try:
        if fmt:
            return dt.datetime.strptime(text, fmt).date()
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        raise DataError(f"not a date{' in format ' + fmt if fmt else ''}: {_preview(value)}") from None


def to_timezone(ctx: EvalContext, value: Any, tz: str | None = None) -> dt.datetime | None:
    parsed = parse_datetime(ctx, value)
    if parsed is None:
        return None
    try:
        return parsed.astimezone(_zone(tz or ctx.timezone))
    except OverflowError:  # e.g. 0001-01-01T00:00+03:00 has no UTC equivalent
        raise DataError(f"date-time out of range: {_preview(value)}") from None


def naive_local(ctx: EvalContext, value: Any, tz: str | None = None) -> dt.datetime | None:
    """Local wall-clock time without an offset, as 1C and many CRM columns store it."""
    local = to_timezone(ctx, value, tz)
    return None if local is None else local.replace(tzinfo=None)


def format_datetime(ctx: EvalContext, value: Any, fmt: str, tz: str | None = None) -> str | None:
    parsed = to_timezone(ctx, value, tz)
    return None if parsed is None else parsed.strftime(fmt)


def format_date(value: Any, fmt: str) -> str | None:
    parsed = parse_date(value)
    return None if parsed is None else parsed.strftime(fmt)


def add_minutes(ctx: EvalContext, value: Any, minutes: Any) -> dt.datetime | None:
    parsed = parse_datetime(ctx, value)
    # null in gives null out, like every other function
    if parsed is None or _empty(minutes):
        return None
    try:
        return parsed + dt.timedelta(minutes=float(minutes))
    except (TypeError, ValueError, OverflowError):
        raise DataError(f"cannot add {_preview(minutes)} minutes to {_preview(value)}") from None


# -- the key map ---------------------------------------------------------------------------------------

def lookup(ctx: EvalContext, entity: str, value: Any, from_system: str, to_system: str, required: bool = True) -> Any:
    """The id in ``to_system`` of the object that has ``value`` as its id in ``from_system``."""
    if _empty(value):
        return None
    found = ctx.lookup(entity, value, from_system, to_system)
    if found is None and required:
        raise DependencyMissing(f"{entity} {value} from {from_system} is not in {to_system} yet")
    return found


# Checks of literal arguments, run when the mapping is validated: a literal of the wrong kind
# (``truncate(x, 'a')``, ``phone(x, 5)``, ``date(x, 5)``) would otherwise fail on every record.

def _check_count(value: Any) -> Any:
    if type(value) is not int or value < 0:
        raise ValueError(f"expected a whole number >= 0, got {value!r}")
    return value


def _check_places(value: Any) -> Any:
    if type(value) is not int or not -20 <= value <= 20:
        raise ValueError(f"expected a whole number of decimal places (-20..20), got {value!r}")
    return value


def _check_region(value: Any) -> Any:
    import phonenumbers  # here, not at the top: see to_e164

    if value is not None and value not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"unknown phone region {value!r} (expected a code such as 'RU' or 'DE')")
    return value


def _check_format(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError(f"the format must be text such as '%d.%m.%Y', got {value!r}")
    return value


def _check_optional_format(value: Any) -> Any:
    return value if value is None else _check_format(value)


def _check_field_name(value: Any) -> Any:
    if value is not None and not isinstance(value, str):
        raise ValueError(f"the field name must be text such as 'amount', got {value!r}")
    return value


def _preview(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _specs() -> dict[str, FunctionSpec]:
    s = FunctionSpec
    specs = [
        s("trim", trim, 1, 1, "string"),
        s("lower", lower, 1, 1, "string"),
        s("upper", upper, 1, 1, "string"),
        s("concat", concat, 1, None, "string", keywords=("sep",)),
        s("coalesce", coalesce, 1, None),
        s("default", default, 2, 2),
        s("require", require, 1, 2, literal_args=(1,)),
        s("truncate", truncate, 2, 2, "string", literal_args=(1,), prepare={1: _check_count}, loss=_truncate_loss,
          loss_shows="change"),
        s("length", length, 1, 1, "integer"),
        s("pick", pick, 2, 2),
        s("sum_of", sum_of, 1, 2, "decimal", literal_args=(1,), prepare={1: _check_field_name}),
        s("max_of", max_of, 1, 2, literal_args=(1,), prepare={1: _check_field_name}),
        s("first_of", first_of, 1, 2, literal_args=(1,), prepare={1: _check_field_name}),
        s("rows_with", rows_with, 3, 3, "list", literal_args=(1,), prepare={1: _check_field_name}),
        s("compact", compact, 1, 1, "list"),
        s("regex_replace", regex_replace, 3, 3, "string", literal_args=(1, 2),
          prepare={1: _prepare_regex}),
        s("regex_match", regex_match, 2, 2, "boolean", literal_args=(1,), prepare={1: _prepare_regex}),
        s("phone", phone, 1, 2, "string", needs_context=True, literal_args=(1,), keywords=("region",),
          prepare={1: _check_region}, loss=_phone_loss),
        s("email", email, 1, 1, "string", loss=_email_loss),
        s("decimal", to_decimal, 1, 1, "decimal"),
        s("round_money", round_money, 1, 2, "decimal", literal_args=(1,), prepare={1: _check_places}),
        s("int", to_int, 1, 1, "integer"),
        s("text", to_text, 1, 1, "string"),
        s("bool", to_bool, 1, 1, "boolean"),
        s("datetime", parse_datetime, 1, 3, "datetime", needs_context=True, literal_args=(1, 2),
          keywords=("fmt", "tz"), prepare={1: _check_optional_format, 2: _check_zone}),
        s("date", parse_date, 1, 2, "date", literal_args=(1,), keywords=("fmt",),
          prepare={1: _check_optional_format}),
        s("to_timezone", to_timezone, 1, 2, "datetime", needs_context=True, literal_args=(1,), keywords=("tz",),
          prepare={1: _check_zone}),
        s("naive_local", naive_local, 1, 2, "datetime", needs_context=True, literal_args=(1,), keywords=("tz",),
          prepare={1: _check_zone}),
        s("format_datetime", format_datetime, 2, 3, "string", needs_context=True, literal_args=(1, 2),
          keywords=("fmt", "tz"), prepare={1: _check_format, 2: _check_zone}),
        s("format_date", format_date, 2, 2, "string", literal_args=(1,), keywords=("fmt",),
          prepare={1: _check_format}),
        s("add_minutes", add_minutes, 2, 2, "datetime", needs_context=True),
        s("lookup", lookup, 4, 5, needs_context=True, literal_args=(0, 2, 3, 4), keywords=("required",), pure=False),
    ]
    return {spec.name: spec for spec in specs}


FUNCTIONS: dict[str, FunctionSpec] = _specs()

