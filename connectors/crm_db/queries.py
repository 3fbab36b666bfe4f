"""Small SQL building blocks shared by reading, lookups and writing (SQLAlchemy Core, no raw SQL)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement

from connectors.crm_db.coerce import Coercer
from connectors.crm_db.schema import TableSchema
from hub.errors import ConfigError, DataError

T = TypeVar("T")

#: values per IN list: one statement for a usual batch, far below every driver's bind-parameter limit
IN_CHUNK = 1000


def chunked(items: Sequence[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def after(columns: Sequence[sa.ColumnElement[Any]], values: Sequence[Any]) -> ColumnElement[bool]:
    """Rows strictly after ``values`` in ``ORDER BY columns`` (keyset pagination).

    Written as ``a >= x AND (a > x OR (a = x AND b > y))`` rather than a row comparison: every dialect
    supports it and the leading ``a >= x`` lets MySQL use the index range too.
    """
    first, rest = columns[0], columns[1:]
    if not rest:
        beyond: ColumnElement[bool] = first > values[0]
        return beyond
    tail = sa.or_(first > values[0], sa.and_(first == values[0], after(rest, values[1:])))
    return sa.and_(first >= values[0], tail)


def in_values(columns: Sequence[sa.ColumnElement[Any]], values: Sequence[tuple[Any, ...]]) -> ColumnElement[bool]:
    """``col IN (...)`` or ``(a, b) IN ((...), ...)``."""
    if len(columns) == 1:
        return columns[0].in_([value[0] for value in values])
    return RowIn(columns, values)


class RowIn(ColumnElement[bool]):
    """``(a, b) IN ((x, y), ...)``; a dialect without row values renders it its own way (Firebird: ORs of
    ANDs, ``connectors.crm_db.firebird_dialect``)."""

    inherit_cache = False  # the values are part of the element: a statement holding it is never cached
    type = sa.Boolean()

    def __init__(self, columns: Sequence[sa.ColumnElement[Any]], values: Sequence[tuple[Any, ...]]):
        self.columns = list(columns)
        self.values = list(values)


@compiles(RowIn)
def _row_in(element: RowIn, compiler: Any, **kw: Any) -> str:
    return compiler.process(sa.tuple_(*element.columns).in_(element.values), **kw)  # type: ignore[no-any-return]


def selectable(schema: TableSchema, name: str) -> sa.ColumnElement[Any]:
    """A column to SELECT, typed by its field kind (MySQL BOOLEAN reflects as TINYINT: read it as bool)."""
    column = schema.column(name)
    if schema.columns[name].kind == "boolean" and not isinstance(column.type, sa.Boolean):
        return sa.type_coerce(column, sa.Boolean()).label(name)
    return column


def filters(schema: TableSchema, where: Mapping[str, Any], coercer: Coercer, what: str,
            source: sa.FromClause | None = None) -> list[ColumnElement[bool]]:
    """Equality / IN / IS NULL conditions on ``schema``'s columns (of ``source``, an alias, if given).

    Values are converted to the column types first, so ``'2024-05-01'`` filters a DATE column.
    """
    clauses: list[ColumnElement[bool]] = []
    table = schema.table if source is None else source
    for name, wanted in where.items():
        schema.check_columns([name], what)
        column = table.c[name]
        convert = coercer.converters(schema)[name]
        try:
            if isinstance(wanted, list):
                clause = column.in_([convert(v) for v in wanted if v is not None])
                clauses.append(sa.or_(clause, column.is_(None)) if None in wanted else clause)
            elif wanted is None:
                clauses.append(column.is_(None))
            else:
                clauses.append(column == convert(wanted))
        except (ValueError, TypeError, ArithmeticError, DataError) as exc:
            raise ConfigError(f"{what}.{name}: the value does not fit the column ({exc})") from None
    return clauses


def to_json(value: Any) -> Any:
    """A checkpoint value as JSON (read back through the column's converter)."""
    if isinstance(value, date):  # datetime too
        return value.isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return value
