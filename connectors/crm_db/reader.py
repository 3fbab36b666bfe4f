"""Read a table in batches with keyset pagination (never OFFSET, never the whole table in memory).

Two strategies:

* ``cursor``: rows ordered by ``(cursor, key)``; the checkpoint is the last row's position and a run
  resumes strictly after it, minus ``lookback`` (rows committed late with an older cursor value).
* ``hash``: a full sweep ordered by ``key``; each batch's checkpoint is the last key so a killed run
  resumes where it stopped; the last batch of a sweep carries ``checkpoint=None`` (next run: new sweep).

Each batch is one query on a connection taken from the pool for that query only, so no transaction stays
open while the runner applies a batch. Child rows (``options.children``) cost one more query per batch.

Where the database can (:meth:`DialectStrategy.row_fingerprint`), the query also returns a hash of each row's
selected columns, which the runner's source hash is taken over (:attr:`SourceBatch.fingerprints`): hashing a
record in Python cost more than reading it. Its salt names what else shapes a record: the reading time zone and
:data:`RECORD_FORMAT` (raise it when the reader starts building records differently from the same row).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.sql.elements import ColumnElement

from connectors.crm_db.coerce import Coercer
from connectors.crm_db.dialects import DialectStrategy
from connectors.crm_db.engine import reading
from connectors.crm_db.errors import translated
from connectors.crm_db.options import ChildRows, CrmDbSourceOptions, ExistsFilter
from connectors.crm_db.queries import after, chunked, filters, in_values, selectable, to_json
from connectors.crm_db.schema import SchemaCache, TableSchema
from hub.connector import ReadRequest, Record, SourceBatch
from hub.errors import ConfigError
from hub.logs import get_logger

log = get_logger(__name__)
#: the version of how records are built from rows, part of every fingerprint's salt
RECORD_FORMAT = 1


@dataclass
class ChildPlan:
    name: str  # the list field on the parent record
    schema: TableSchema
    options: ChildRows
    output: list[str]  # child columns in each child record


@dataclass
class ReadPlan:
    schema: TableSchema
    key: list[str]
    cursor: str | None
    output: list[str]  # columns returned in each record
    selected: list[str]  # columns fetched (output plus the parent keys children need)
    conditions: list[ColumnElement[bool]]
    children: list[ChildPlan] = field(default_factory=list)
    fingerprint: ColumnElement[str] | None = None  # per row, by the database (a record with children has none)

    @property
    def order(self) -> list[str]:
        return ([self.cursor] if self.cursor else []) + self.key


class TableReader:
    def __init__(self, engine: Engine, strategy: DialectStrategy, schemas: SchemaCache, coercer: Coercer,
                 where: str):
        self._engine = engine
        self._strategy = strategy
        self._schemas = schemas
        self._coercer = coercer
        self._where = where

    def read(self, request: ReadRequest) -> Iterator[SourceBatch]:
        if request.incremental.strategy not in ("cursor", "hash"):
            raise ConfigError(f"crm_db cannot read with strategy {request.incremental.strategy!r} (use cursor or hash)")
        plan = self._plan(request)
        if request.incremental.strategy == "cursor":
            yield from self._read_by_cursor(plan, request)
        else:
            yield from self._sweep(plan, request)

    # -- planning: validate the request against the reflected schema once, before any row is read
    def _plan(self, request: ReadRequest) -> ReadPlan:
        what = f"stream {request.stream!r}"
        schema = self._schemas.require(request.stream, what)
        options = request.options if isinstance(request.options, CrmDbSourceOptions) else CrmDbSourceOptions()
        key = list(request.key)
        schema.check_columns(key, f"{what} key")
        self._check_key(schema, key, what)
        cursor = request.incremental.cursor if request.incremental.strategy == "cursor" else None
        if cursor:
            schema.check_columns([cursor], f"{what} cursor")
        wanted = request.fields
        children = [self._child_plan(name, child, what) for name, child in options.children.items()
                    if wanted is None or name in wanted]
        # sorted: ``wanted`` is a set, whose order changes with each process's hash seed
        own = list(schema.columns) if wanted is None else sorted(f for f in wanted if f not in options.children)
        schema.check_columns(own, f"{what} fields")
        output = _unique([*key, *([cursor] if cursor else []), *own])
        parent_keys = [c for child in children for c in child.options.parent_key]
        schema.check_columns(parent_keys, f"{what} children parent_key")
        conditions = filters(schema, options.where, self._coercer, f"{what} options.where")
        conditions += [self._exists(schema, rule, what) for rule in options.exists]
        if cursor:
            # a row without a cursor value has no position to resume from: it cannot be read incrementally
            conditions.append(schema.table.c[cursor].is_not(None))
        fingerprint = None if children else self._strategy.row_fingerprint(
            self._engine.dialect.server_version_info, f"crm_db {RECORD_FORMAT} {self._coercer.timezone}",
            [schema.column(name) for name in output])
        return ReadPlan(schema, key, cursor, output, _unique([*output, *parent_keys]), conditions, children,
                        fingerprint)

    def _check_key(self, schema: TableSchema, key: list[str], what: str) -> None:
        nullable = [name for name in key if schema.columns[name].nullable]
        if nullable:
            raise ConfigError(f"{what}: key column(s) {', '.join(nullable)} allow NULL; a key must be NOT NULL")
        if tuple(key) != schema.primary_key and schema.conflict_key(key) is None:
            log.warning("the key is not a primary or unique key; rows sharing a key may be skipped", stream=what,
                        key=list(key))

    def _child_plan(self, name: str, child: ChildRows, what: str) -> ChildPlan:
        where = f"{what} options.children.{name}"
        schema = self._schemas.require(child.table, where)
        schema.check_columns([*child.foreign_key, *child.order_by, *(child.fields or [])], where)
        output = list(schema.columns) if child.fields is None else list(child.fields)
        return ChildPlan(name, schema, child, output)

    def _exists(self, schema: TableSchema, rule: ExistsFilter, what: str,
                outer: sa.FromClause | None = None, depth: int = 0) -> ColumnElement[bool]:
        """``EXISTS`` a row of ``rule.table`` joined to ``outer`` (the stream's table, or the table one level
        up for a nested rule)."""
        where = f"{what} options.exists.{rule.table}"
        other = self._schemas.require(rule.table, where)
        other.check_columns(rule.on, where)
        schema.check_columns(rule.on.values(), where)
        parent = schema.table if outer is None else outer
        # aliased: the semi-join may name the stream's own table (e.g. clients referring to clients)
        alias = other.table.alias(f"exists{depth or ''}_{other.name}")
        joins = [alias.c[theirs] == parent.c[ours] for theirs, ours in rule.on.items()]
        extra = filters(other, rule.where, self._coercer, f"{where}.where", source=alias)
        nested = [self._exists(other, inner, where, alias, depth + 1) for inner in rule.exists]
        correlated = sa.select(sa.literal(1)).select_from(alias).where(*joins, *extra, *nested)
        return sa.exists(correlated)

    # -- strategies
    def _read_by_cursor(self, plan: ReadPlan, request: ReadRequest) -> Iterator[SourceBatch]:
        saved = self._decode_position(plan, request.checkpoint)
        order = plan.order
        columns = [plan.schema.table.c[name] for name in order]
        if saved is None:
            start: ColumnElement[bool] | None = None
        elif request.incremental.lookback:
            window_start = _minus(saved[0], request.incremental.lookback, plan.cursor or "")
            start = columns[0] >= window_start
        else:
            start = after(columns, saved)
        best = saved
        while True:
            rows, fingerprints = self._fetch(plan, start, request.batch_size)
            if not rows:
                return
            last = tuple(rows[-1][name] for name in order)
            if best is None or last > best:
                best = last  # a lookback window re-reads older rows: never move the checkpoint back
            yield SourceBatch(self._records(plan, rows), self._encode_position(best), fingerprints=fingerprints)
            if len(rows) < request.batch_size:
                return
            start = after(columns, last)

    def _sweep(self, plan: ReadPlan, request: ReadRequest) -> Iterator[SourceBatch]:
        columns = [plan.schema.table.c[name] for name in plan.key]
        saved = self._decode_position(plan, request.checkpoint)
        start = after(columns, saved) if saved is not None else None
        while True:
            # one row more than the batch tells whether this batch is the sweep's last
            rows, fingerprints = self._fetch(plan, start, request.batch_size + 1)
            more = len(rows) > request.batch_size
            rows = rows[:request.batch_size]
            last = tuple(rows[-1][name] for name in plan.key) if rows else None
            checkpoint = self._encode_position(last) if more and last is not None else None
            yield SourceBatch(self._records(plan, rows), checkpoint,
                              fingerprints=fingerprints[:request.batch_size] if fingerprints is not None else None)
            if not more or last is None:
                return
            start = after(columns, last)

    # -- queries
    def _fetch(self, plan: ReadPlan, start: ColumnElement[bool] | None,
               limit: int) -> tuple[list[dict[str, Any]], list[str] | None]:
        """The rows, and their fingerprints if the plan has them."""
        table = plan.schema.table
        columns = [selectable(plan.schema, name) for name in plan.selected]
        if plan.fingerprint is not None:
            columns.append(plan.fingerprint.label("hub_fingerprint"))
        stmt = sa.select(*columns).where(*plan.conditions)
        if start is not None:
            stmt = stmt.where(start)
        stmt = stmt.order_by(*(table.c[name] for name in plan.order)).limit(limit)
        with translated(self._strategy, self._where), reading(self._engine) as conn:
            rows = conn.execute(stmt).all()
        # plain dicts built from the tuples: several times cheaper than a RowMapping lookup per field
        if plan.fingerprint is None:
            return [dict(zip(plan.selected, row, strict=True)) for row in rows], None
        return [dict(zip(plan.selected, row[:-1], strict=True)) for row in rows], [row[-1] for row in rows]

    def _records(self, plan: ReadPlan, rows: list[dict[str, Any]]) -> list[Record]:
        # the parent keys fetched for the children only are not part of the record
        records = rows if plan.selected == plan.output else [{name: row[name] for name in plan.output} for row in rows]
        for child in plan.children:
            self._attach_children(child, rows, records)
        return records

    def _attach_children(self, child: ChildPlan, rows: Sequence[dict[str, Any]], records: list[Record]) -> None:
        parents = [tuple(row[name] for name in child.options.parent_key) for row in rows]
        found: dict[tuple[Any, ...], list[Record]] = defaultdict(list)
        foreign = child.options.foreign_key
        selected = _unique([*child.output, *foreign])
        table = child.schema.table
        order = [table.c[name] for name in (*foreign, *child.options.order_by)]
        for chunk in chunked(list(dict.fromkeys(parents))):
            stmt = (sa.select(*(selectable(child.schema, name) for name in selected))
                    .where(in_values([table.c[name] for name in foreign], chunk)).order_by(*order))
            with translated(self._strategy, self._where), self._engine.connect() as conn:
                for row in conn.execute(stmt).mappings():
                    found[tuple(row[name] for name in foreign)].append({name: row[name] for name in child.output})
        for record, parent in zip(records, parents, strict=True):
            record[child.name] = found.get(parent, [])

    # -- checkpoints: JSON lists in ORDER BY order, converted back through the columns' converters
    def _encode_position(self, position: tuple[Any, ...] | None) -> Any:
        return None if position is None else {"position": [to_json(value) for value in position]}

    def _decode_position(self, plan: ReadPlan, checkpoint: Any) -> tuple[Any, ...] | None:
        if checkpoint is None:
            return None
        values = checkpoint.get("position") if isinstance(checkpoint, dict) else None
        if not isinstance(values, list) or len(values) != len(plan.order):
            raise ConfigError(f"stream {plan.schema.name!r}: the saved checkpoint does not fit the key/cursor "
                              "columns (did the mapping's key or cursor change? reset the exchange's state)")
        converters = self._coercer.converters(plan.schema)
        decoded = []
        for name, value in zip(plan.order, values, strict=True):
            if plan.schema.columns[name].kind == "binary" and isinstance(value, str):
                value = bytes.fromhex(value)
            decoded.append(converters[name](value))
        return tuple(decoded)


def _minus(value: Any, lookback: int, cursor: str) -> Any:
    """The cursor value ``lookback`` seconds (datetime) or units (number) before ``value``."""
    if isinstance(value, datetime):
        return value - timedelta(seconds=lookback)
    if isinstance(value, date):
        return value - timedelta(days=math.ceil(lookback / 86400))
    if isinstance(value, int | float | Decimal):
        return value - lookback
    raise ConfigError(f"cursor {cursor!r}: lookback needs a date, datetime or numeric cursor column")


def _unique(names: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(names))
