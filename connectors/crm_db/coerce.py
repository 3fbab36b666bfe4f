"""Convert mapped values to what a column stores, so a value written and read back compares equal.

One converter per column is built once per table and reused for every record. A converter returns the
stored form or raises ``ValueError`` with a reason that never quotes the value (it may be personal data);
:meth:`Coercer.record` turns that into a :class:`~hub.errors.DataError` naming the field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime, time, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from uuid import UUID

from connectors.crm_db.schema import ColumnSpec, TableSchema
from hub.errors import ConfigError, DataError

Converter = Callable[[Any], Any]

_INTEGER = re.compile(r"^[+-]?\d+$")
_TRUE = frozenset({"true", "t", "yes", "y", "1", "on"})
_FALSE = frozenset({"false", "f", "no", "n", "0", "off"})


class Coerced(dict[str, Any]):
    """A record :meth:`CrmDbConnector.prepare` converted to ``schema``'s column types: the writer sends it as it
    is instead of converting every value of it again."""

    __slots__ = ("schema",)

    def __init__(self, values: dict[str, Any], schema: TableSchema):
        super().__init__(values)
        self.schema = schema


class Coercer:
    """Builds and caches the converters of each table for one time zone."""

    def __init__(self, timezone: tzinfo):
        self.timezone = timezone
        self._cache: dict[int, dict[str, Converter]] = {}
        self._rows: dict[tuple[int, tuple[str, ...]], Callable[[Mapping[str, Any]], dict[str, Any]]] = {}

    def converters(self, schema: TableSchema) -> dict[str, Converter]:
        key = id(schema)  # schemas live as long as the connector's cache
        if key not in self._cache:
            self._cache[key] = {name: self.converter(spec) for name, spec in schema.columns.items()}
        return self._cache[key]

    def record(self, schema: TableSchema, record: Mapping[str, Any]) -> dict[str, Any]:
        """The record with every value converted; DataError (bad value) or ConfigError (unknown column)."""
        try:  # the fast path, for every row of every batch
            return self._row_converter(schema, tuple(record))(record)
        except (KeyError, ValueError, TypeError, ArithmeticError):
            return self._record_slowly(schema, self.converters(schema), record)  # find the culprit, name it

    def _row_converter(self, schema: TableSchema,
                       names: tuple[str, ...]) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
        """One function converting a record with exactly these fields (KeyError for an unknown column).

        Generated, because a bulk write converts every value of every row: a function that spells out each
        field (``{k0: c0(r[k0]), k1: c1(r[k1]), ...}``) takes about half the time of a loop over the fields.
        The field names are bound as variables, never written into the source.
        """
        key = (id(schema), names)
        convert = self._rows.get(key)
        if convert is None:
            converters = self.converters(schema)
            scope: dict[str, Any] = {"__builtins__": {}}
            for i, name in enumerate(names):
                scope[f"k{i}"], scope[f"c{i}"] = name, converters[name]
            body = ", ".join(f"k{i}: c{i}(r[k{i}])" for i in range(len(names)))
            exec(f"def convert(r):\n    return {{{body}}}", scope)
            if len(self._rows) >= 4096:  # updates send only changed fields: bound the combinations kept
                self._rows.clear()
            convert = self._rows[key] = scope["convert"]
        return convert

    def _record_slowly(self, schema: TableSchema, converters: dict[str, Converter],
                       record: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in record.items():
            convert = converters.get(name)
            if convert is None:
                raise ConfigError(f"table {schema.name!r} has no column {name!r}")
            try:
                out[name] = convert(value)
            except (ValueError, TypeError, ArithmeticError) as exc:
                raise DataError(f"{schema.name}.{name}: {exc}") from None
        return out

    def converter(self, spec: ColumnSpec) -> Converter:
        build = {
            "string": _string, "integer": _integer, "decimal": _decimal, "float": _float, "boolean": _boolean,
            "date": self._date, "datetime": self._datetime, "uuid": _uuid, "json": _json, "binary": _binary,
        }.get(spec.kind)
        convert = _null_aware(spec, build(spec) if build else _as_is)
        return _with_fast_path(spec, convert)

    def _date(self, spec: ColumnSpec) -> Converter:
        def convert(value: Any) -> date:
            if isinstance(value, datetime):
                return (value.astimezone(self.timezone) if value.tzinfo else value).date()
            if isinstance(value, date):
                return value
            if isinstance(value, str):
                text = value.strip()
                return _parse_date(text) if len(text) == 10 else convert(_parse_datetime(text))
            raise ValueError(f"expected a date, got {type(value).__name__}")

        return convert

    def _datetime(self, spec: ColumnSpec) -> Converter:
        step = 10 ** (6 - min(max(spec.fraction_digits, 0), 6))

        def convert(raw: Any) -> datetime:
            value: datetime
            if isinstance(raw, str):
                value = _parse_datetime(raw.strip())
            elif isinstance(raw, datetime):
                value = raw
            elif isinstance(raw, date):
                value = datetime.combine(raw, time())
            else:
                raise ValueError(f"expected a date and time, got {type(raw).__name__}")
            if spec.timezone:  # naive values are local time of the connection
                value = value.astimezone(self.timezone) if value.tzinfo else value.replace(tzinfo=self.timezone)
            elif value.tzinfo:  # the column keeps local time of the connection
                value = value.astimezone(self.timezone).replace(tzinfo=None)
            # cut what the column would drop (MariaDB truncates, MySQL rounds): read-back compares equal
            extra = value.microsecond % step
            return value.replace(microsecond=value.microsecond - extra) if extra else value

        return convert


def _with_fast_path(spec: ColumnSpec, convert: Converter) -> Converter:
    """Let a value that is already what the column stores through with one type check.

    Converters run for every value of every row written; most values arrive prepared (``prepare`` ran
    first), so this path decides the speed of a bulk write.
    """
    exact: dict[str, type] = {"integer": int, "boolean": bool, "date": date, "float": float, "uuid": UUID,
                              "binary": bytes}
    if spec.kind == "string":
        limit = spec.max_length
        if limit is None:
            return lambda value: value if type(value) is str else convert(value)
        return lambda value: value if type(value) is str and len(value) <= limit else convert(value)
    if spec.kind == "datetime" and not spec.timezone:
        step = 10 ** (6 - min(max(spec.fraction_digits, 0), 6))
        return lambda value: value if type(value) is datetime and value.tzinfo is None \
            and not value.microsecond % step else convert(value)
    if spec.kind in exact:
        wanted = exact[spec.kind]
        return lambda value: value if type(value) is wanted else convert(value)
    return convert


def _null_aware(spec: ColumnSpec, convert: Converter) -> Converter:
    if spec.nullable:
        return lambda value: None if value is None else convert(value)

    def not_null(value: Any) -> Any:
        if value is None:
            raise ValueError("must not be empty (the column is NOT NULL)")
        return convert(value)

    return not_null


def _as_is(value: Any) -> Any:
    return value


def _string(spec: ColumnSpec) -> Converter:
    limit = spec.max_length

    def convert(value: Any) -> str:
        if type(value) is str:  # the usual case first: this runs for every value of every row
            text = value
        elif isinstance(value, str):
            text = str(value)
        elif isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, int | float | Decimal | UUID):
            text = str(value)
        elif isinstance(value, date):
            text = value.isoformat()
        else:
            raise ValueError(f"expected text, got {type(value).__name__}")
        if limit is not None and len(text) > limit:
            raise ValueError(f"text longer than {limit} characters ({len(text)})")
        return text

    return convert


def _integer(spec: ColumnSpec) -> Converter:
    def convert(value: Any) -> int:
        if isinstance(value, int):  # bool too: True is 1
            return int(value)
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
            return int(value)
        if isinstance(value, str) and _INTEGER.match(value.strip()):
            return int(value.strip())
        raise ValueError(f"expected a whole number, got {type(value).__name__}")

    return convert


def _decimal(spec: ColumnSpec) -> Converter:
    quantum = Decimal(1).scaleb(-spec.scale) if spec.scale is not None else None
    max_integer_digits = spec.precision - (spec.scale or 0) if spec.precision is not None else None

    def convert(value: Any) -> Decimal:
        if type(value) is Decimal:
            number = value
        elif isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
            raise ValueError(f"expected a number, got {type(value).__name__}")
        else:
            try:
                number = Decimal(str(value).strip())
            except InvalidOperation:
                raise ValueError("expected a number") from None
        if not number.is_finite():
            raise ValueError("expected a finite number")
        if quantum is not None:  # the column rounds to its scale; do it here so read-back compares equal
            number = number.quantize(quantum, rounding=ROUND_HALF_UP)
        if max_integer_digits is not None and number.adjusted() >= max_integer_digits and number != 0:
            raise ValueError(f"number too large for the column ({spec.precision} digits, {spec.scale or 0} decimals)")
        return number

    return convert


def _float(spec: ColumnSpec) -> Converter:
    def convert(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
            raise ValueError(f"expected a number, got {type(value).__name__}")
        try:
            return float(value)
        except ValueError:
            raise ValueError("expected a number") from None  # float()'s own message quotes the value

    return convert


def _boolean(spec: ColumnSpec) -> Converter:
    def convert(value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise ValueError(f"expected true or false, got {type(value).__name__}")

    return convert


def _uuid(spec: ColumnSpec) -> Converter:
    def convert(value: Any) -> UUID:
        if isinstance(value, UUID):
            return value
        if isinstance(value, str):
            return UUID(value.strip())
        raise ValueError(f"expected a UUID, got {type(value).__name__}")

    return convert


def _json(spec: ColumnSpec) -> Converter:
    def convert(value: Any) -> Any:
        json.dumps(value)  # TypeError for what the column cannot store
        return value

    return convert


def _binary(spec: ColumnSpec) -> Converter:
    def convert(value: Any) -> bytes:
        if isinstance(value, bytes | bytearray | memoryview):
            return bytes(value)
        raise ValueError(f"expected bytes, got {type(value).__name__}")

    return convert


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError("expected an ISO 8601 date (YYYY-MM-DD)") from None  # the parser quotes the value


def _parse_datetime(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("expected an ISO 8601 date and time") from None
