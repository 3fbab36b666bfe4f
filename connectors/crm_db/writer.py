"""Apply a batch of write actions to one table in one transaction.

* ``create``: a batched native upsert on the match columns when a primary/unique key is exactly those
  columns (a retry never duplicates), else a batched plain ``INSERT``.
* ``update``: a batched ``UPDATE ... WHERE <primary key>`` of only the given fields; the row is found by
  ``target_key``, or by the match values when the key map has no id yet.
* ``delete``: ``DELETE`` by primary key, or an ``UPDATE`` of ``action.fields`` (``on_delete: mark``).

Consecutive actions of the same kind run together, in order. A group runs inside a savepoint; if the
database refuses it for a row-level reason (constraint, bad value) the group is replayed row by row, each in
its own savepoint, so only the bad rows come back ``rejected`` and the rest are written.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from connectors.crm_db.coerce import Coerced, Coercer
from connectors.crm_db.dialects import DialectStrategy
from connectors.crm_db.errors import row_error, translated
from connectors.crm_db.matching import key_value, keys_by_match, normal_key, target_key
from connectors.crm_db.queries import chunked, in_values
from connectors.crm_db.schema import TableSchema
from hub.connector import ResultStatus, WriteAction, WriteResult
from hub.errors import BusinessError, ConfigError, RecordError

Results = dict[int, WriteResult]


@dataclass(slots=True)
class Pending:
    """An action with its values converted to the column types."""

    index: int  # position in the caller's list
    action: WriteAction
    row: dict[str, Any]  # the values to write
    match_columns: tuple[str, ...]
    match: tuple[Any, ...]  # converted match values, in match_columns order
    key: tuple[Any, ...] | None  # converted primary key values, when the action names the target

    def result(self, status: ResultStatus, key: Any = None, error: RecordError | None = None) -> WriteResult:
        return WriteResult(self.action.source_key, status, target_key=key, error=error)


class TableWriter:
    def __init__(self, engine: Engine, strategy: DialectStrategy, schema: TableSchema, coercer: Coercer,
                 where: str):
        self._engine = engine
        self._strategy = strategy
        self._schema = schema
        self._coercer = coercer
        self._where = where
        self._returning = strategy.supports_returning(engine)

    def write(self, actions: Sequence[WriteAction]) -> list[WriteResult]:
        results: list[WriteResult | None] = [None] * len(actions)
        pending: list[Pending] = []
        for index, action in enumerate(actions):
            try:
                pending.append(self._pending(index, action))
            except RecordError as exc:  # a value the column cannot take: only this record fails
                results[index] = WriteResult(action.source_key, "rejected", error=exc)
        handlers: dict[str, Callable[[Connection, list[Pending]], Results]] = {
            "create": self._create, "update": self._update, "delete": self._delete,
        }
        with translated(self._strategy, self._where), self._engine.begin() as conn:
            for kind, run in itertools.groupby(pending, key=lambda p: p.action.kind):
                for group in _groups(list(run), self._strategy):
                    for index, result in self._apply(conn, handlers[kind], group).items():
                        results[index] = result
        missing = [actions[i].source_key for i, r in enumerate(results) if r is None]
        if missing:  # a bug here must not look like a short, shifted list of results to the runner
            raise RuntimeError(f"crm_db produced no result for {missing[:5]}")
        return results  # type: ignore[return-value]

    # -- conversion
    def _pending(self, index: int, action: WriteAction) -> Pending:
        if action.kind != "create" and not self._schema.primary_key:
            raise ConfigError(f"table {self._schema.name!r} has no primary key: crm_db can only insert into it")
        match_columns = tuple(action.match)
        if action.kind == "create":  # the row carries the match values: convert them once
            fields = action.fields
            if not action.match.keys() <= fields.keys():  # the mapped fields usually hold the match fields
                fields = {**action.match, **fields}
            prepared = isinstance(fields, Coerced) and fields.schema is self._schema  # converted by prepare()
            row = fields if prepared else self._coercer.record(self._schema, fields)
            match = tuple(map(row.__getitem__, match_columns))
        else:
            row = self._coercer.record(self._schema, action.fields)
            match = tuple(self._coercer.record(self._schema, action.match).values()) if action.match else ()
        return Pending(index, action, row, match_columns, match,
                       None if action.target_key is None else self._key(action.target_key))

    def _key(self, value: Any) -> tuple[Any, ...]:
        pk = self._schema.primary_key
        if len(pk) > 1 and isinstance(value, str):
            value = _parse_composite(value)
        values = list(value) if isinstance(value, list | tuple) else [value]
        if len(values) != len(pk):
            raise ConfigError(f"table {self._schema.name!r}: a target key needs {len(pk)} value(s)")
        return tuple(self._coercer.record(self._schema, dict(zip(pk, values, strict=True))).values())

    # -- one group: all at once, else row by row
    def _apply(self, conn: Connection, handler: Callable[[Connection, list[Pending]], Results],
               group: list[Pending]) -> Results:
        try:
            with conn.begin_nested():
                return handler(conn, group)
        except DBAPIError as exc:
            if row_error(self._strategy, exc, self._schema.name) is None:
                raise
        results: Results = {}
        for item in group:
            try:
                with conn.begin_nested():
                    results.update(handler(conn, [item]))
            except DBAPIError as exc:
                error = row_error(self._strategy, exc, self._schema.name)
                if error is None:
                    raise
                results[item.index] = item.result("rejected", error=error)
        return results

    # -- create
    def _create(self, conn: Connection, items: list[Pending]) -> Results:
        schema, match_columns = self._schema, items[0].match_columns
        if not match_columns or schema.conflict_key(match_columns) is None:
            return self._insert(conn, items)
        keys = [schema.primary_key, *schema.unique_keys]
        if self._strategy.upsert_is_exact(keys, match_columns, items[0].row.keys()):
            return self._upsert(conn, items, match_columns)
        return self._insert_or_update(conn, items, match_columns)

    def _insert_or_update(self, conn: Connection, items: list[Pending], match_columns: tuple[str, ...]) -> Results:
        """Without a native upsert that targets only the match key: find the existing rows, update them, and
        insert the rest (a row created meanwhile makes the INSERT fail on the unique key: rejected, retried)."""
        schema = self._schema
        existing = keys_by_match(conn, schema, self._strategy, match_columns, [item.match for item in items])
        found = {item.index: existing.get(normal_key(item.match, self._strategy)) for item in items}
        new = [item for item in items if found[item.index] is None]
        known = [item for item in items if found[item.index] is not None]
        results = self._insert(conn, new) if new else {}
        keys = {item.index: self._key(found[item.index]) for item in known}
        skip = set(match_columns) | set(schema.primary_key)
        self._update_rows(conn, [replace(item, row={c: v for c, v in item.row.items() if c not in skip})
                                 for item in known], keys)
        for item in known:
            results[item.index] = item.result("updated", found[item.index])
        return results

    def _upsert(self, conn: Connection, items: list[Pending], match_columns: tuple[str, ...]) -> Results:
        schema, table, strategy = self._schema, self._schema.table, self._strategy
        rows = [item.row for item in items]
        matches = [item.match for item in items]
        update = [c for c in rows[0] if c not in match_columns and c not in schema.primary_key]
        flag = strategy.inserted_flag() if self._returning and schema.primary_key else None
        # created or updated? the database says so in RETURNING where it can; else look before writing
        existing = keys_by_match(conn, schema, strategy, match_columns, matches) if flag is None else {}
        inserted: dict[tuple[Any, ...], bool] = {}
        if self._returning and schema.primary_key:
            # RETURNING pk..., match..., [inserted]: positions, not names (this loop runs for every row)
            returning = [*table.primary_key.columns, *(table.c[c] for c in match_columns)]
            returned = strategy.execute_upsert(conn, table, rows, match_columns, update,
                                               [*returning, *([flag] if flag is not None else [])])
            size, end = len(schema.primary_key), len(schema.primary_key) + len(match_columns)
            keys = {}
            for row in returned:
                match = normal_key(row[size:end], strategy)
                keys[match] = row[0] if size == 1 else key_value(row[:size])
                if flag is not None:
                    inserted[match] = bool(row[end])
        else:
            strategy.execute_upsert(conn, table, rows, match_columns, update, [])
            keys = keys_by_match(conn, schema, strategy, match_columns, matches)
        results: Results = {}
        for item in items:
            match = normal_key(item.match, strategy)
            key = keys[match] if match in keys else self._find_one(conn, item)
            created = inserted.get(match, False) if flag is not None else match not in existing
            results[item.index] = item.result("created" if created else "updated", key)
        return results

    def _find_one(self, conn: Connection, item: Pending) -> Any:
        """The id of the row equal to ``item``'s match values, asking the database to compare (collations)."""
        table = self._schema.table
        where = [table.c[c] == v for c, v in zip(item.match_columns, item.match, strict=True)]
        row = conn.execute(sa.select(*table.primary_key.columns).where(*where).limit(1)).mappings().first()
        return target_key(self._schema, row) if row is not None else None

    def _insert(self, conn: Connection, items: list[Pending]) -> Results:
        table, schema = self._schema.table, self._schema
        stmt = self._strategy.insert(table)
        if not schema.primary_key:
            conn.execute(stmt, [item.row for item in items])
            return {item.index: item.result("created") for item in items}
        if self._returning:
            returned = conn.execute(stmt.returning(*table.primary_key.columns, sort_by_parameter_order=True),
                                    [item.row for item in items]).mappings().all()
            return {item.index: item.result("created", target_key(schema, row))
                    for item, row in zip(items, returned, strict=True)}
        results: Results = {}
        for item in items:  # no RETURNING (MySQL): the driver reports each new id
            inserted = conn.execute(stmt, item.row).inserted_primary_key
            assert inserted is not None  # a single-row INSERT always has one (empty without a primary key)
            results[item.index] = item.result("created", key_value(inserted))
        return results

    # -- update and delete: both find the rows by primary key first
    def _update(self, conn: Connection, items: list[Pending]) -> Results:
        keys, results = self._resolve(conn, items, missing_status="rejected")
        changing = [item for item in items if item.index not in results and item.row]
        for item in items:
            if item.index not in results and not item.row:
                results[item.index] = item.result("unchanged", key_value(keys[item.index]))
        self._update_rows(conn, changing, keys)
        for item in changing:
            results[item.index] = item.result("updated", key_value(keys[item.index]))
        return results

    def _delete(self, conn: Connection, items: list[Pending]) -> Results:
        # a row already gone is the state a delete asks for: "deleted", so a retried delete reports the same
        keys, results = self._resolve(conn, items, missing_status="deleted")
        present = [item for item in items if item.index not in results]
        marks = [item for item in present if item.row]
        self._update_rows(conn, marks, keys)
        removing = [keys[item.index] for item in present if not item.row]
        pk_columns = list(self._schema.table.primary_key.columns)
        for chunk in chunked(removing):
            conn.execute(sa.delete(self._schema.table).where(in_values(pk_columns, chunk)))
        for item in present:
            results[item.index] = item.result("deleted", key_value(keys[item.index]))
        return results

    def _resolve(self, conn: Connection, items: list[Pending],
                 missing_status: ResultStatus) -> tuple[dict[int, tuple[Any, ...]], Results]:
        """Primary key of each item's row (by target key, else by match values); a result for the missing."""
        schema = self._schema
        pk = schema.primary_key
        keys: dict[int, tuple[Any, ...]] = {}
        results: Results = {}
        by_key = [item for item in items if item.key is not None]
        existing = keys_by_match(conn, schema, self._strategy, pk, [item.key for item in by_key if item.key])
        for item in by_key:
            if normal_key(item.key or (), self._strategy) in existing:
                keys[item.index] = item.key  # type: ignore[assignment]
        by_match = [item for item in items if item.key is None and item.match_columns]
        for columns, group in itertools.groupby(by_match, key=lambda p: p.match_columns):
            group_items = list(group)
            found = keys_by_match(conn, schema, self._strategy, columns, [item.match for item in group_items])
            for item in group_items:
                key = found.get(normal_key(item.match, self._strategy))
                if key is not None:
                    keys[item.index] = self._key(key)
        for item in items:
            if item.index not in keys:
                error = BusinessError(f"{schema.name}: no row with this {'key' if item.key else 'match'} "
                                      "(deleted in the CRM?)") if missing_status == "rejected" else None
                results[item.index] = item.result(missing_status, key_value(item.key) if item.key else None, error)
        return keys, results

    def _update_rows(self, conn: Connection, items: list[Pending], keys: dict[int, tuple[Any, ...]]) -> None:
        """``UPDATE ... SET <fields> WHERE <pk>`` as one executemany per set of fields."""
        table = self._schema.table
        pk = list(table.primary_key.columns)
        for _columns, group in itertools.groupby(items, key=lambda p: frozenset(p.row)):
            group_items = list(group)
            if not group_items[0].row:
                continue  # nothing to set
            names = list(group_items[0].row)
            # bind names must not equal column names in an UPDATE: number them
            stmt = (sa.update(table)
                    .where(*(col == sa.bindparam(f"k{i}") for i, col in enumerate(pk)))
                    .values({name: sa.bindparam(f"v{i}") for i, name in enumerate(names)}))
            params = [{**{f"k{i}": v for i, v in enumerate(keys[item.index])},
                       **{f"v{i}": item.row[name] for i, name in enumerate(names)}} for item in group_items]
            conn.execute(stmt, params)


def _parse_composite(text: str) -> list[Any]:
    try:
        values = json.loads(text)
    except json.JSONDecodeError:
        values = None
    if not isinstance(values, list):
        raise ConfigError("a target key of a table with a composite primary key must be a JSON list")
    return values


def _groups(items: list[Pending], strategy: DialectStrategy) -> list[list[Pending]]:
    """Split a run of same-kind actions into groups one statement can take, keeping their order.

    A group has one set of columns (executemany needs the same parameters in every row) and each match key
    once (an upsert cannot touch the same row twice in one statement).
    """
    groups: list[list[Pending]] = []
    seen: set[tuple[Any, ...]] = set()
    for item in items:
        ident = normal_key(item.match, strategy) + ((item.key,) if item.key else ())
        current = groups[-1] if groups else None
        if current is None or current[0].row.keys() != item.row.keys() or (ident and ident in seen):
            groups.append([])
            seen = set()
        groups[-1].append(item)
        if ident:
            seen.add(ident)
    return groups
