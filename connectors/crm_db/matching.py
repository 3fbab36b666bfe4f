"""Find rows by the values of some columns (lookups, and the writer's "which rows exist / what is their id").

Rows come back with the values the database stores, which may differ from the values asked for in ways the
database ignores (MySQL's case-insensitive collations, ``100`` vs ``Decimal('100.00')``). :func:`normal_key`
makes both sides comparable so each row is paired with the request that found it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from connectors.crm_db.dialects import DialectStrategy
from connectors.crm_db.queries import chunked, in_values, selectable, to_json
from connectors.crm_db.schema import TableSchema


def normal_key(values: Iterable[Any], strategy: DialectStrategy) -> tuple[Any, ...]:
    # numbers need nothing: Python hashes 100, 100.0 and Decimal('100.00') alike
    if not strategy.folds_text:
        return tuple(values)
    return tuple(strategy.normalize_text(v) if isinstance(v, str) else v for v in values)


def select_matching(conn: Connection, schema: TableSchema, by: Sequence[str], values: Sequence[tuple[Any, ...]],
                    columns: Sequence[str], strategy: DialectStrategy | None = None) -> Iterable[RowMapping]:
    """Rows whose ``by`` columns equal one of ``values`` (one query per chunk), primary key order."""
    table = schema.table
    selected = list(dict.fromkeys([*schema.primary_key, *by, *columns]))
    order = [table.c[name] for name in schema.primary_key]
    for chunk in chunked(list(values)):
        if len(by) == 1 and strategy is not None:
            where = strategy.one_of(table.c[by[0]], [value[0] for value in chunk])
        else:
            where = in_values([table.c[name] for name in by], chunk)
        stmt = sa.select(*(selectable(schema, name) for name in selected)).where(where).order_by(*order)
        yield from conn.execute(stmt).mappings()


def key_value(values: Sequence[Any]) -> Any:
    """Primary key values as the key map stores them: a one-column key's value, else a JSON list (text, so
    it survives the key map and comes back as an action's ``target_key``)."""
    return values[0] if len(values) == 1 else json.dumps([to_json(v) for v in values], ensure_ascii=False)


def target_key(schema: TableSchema, row: RowMapping) -> Any:
    """The row's id as the key map stores it (:func:`key_value`); None for a table without a primary key."""
    return key_value([row[name] for name in schema.primary_key]) if schema.primary_key else None


def keys_by_match(conn: Connection, schema: TableSchema, strategy: DialectStrategy, by: Sequence[str],
                  values: Sequence[tuple[Any, ...]]) -> dict[tuple[Any, ...], Any]:
    """``normal_key(match values) -> target key`` of the existing rows (the first one if several match)."""
    found: dict[tuple[Any, ...], Any] = {}
    for row in select_matching(conn, schema, by, values, (), strategy):
        found.setdefault(normal_key((row[name] for name in by), strategy), target_key(schema, row))
    return found
