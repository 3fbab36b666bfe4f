"""Set-based writes to the hub's own tables: a few statements per batch, whatever the number of rows.

On PostgreSQL with psycopg the rows go by binary ``COPY``, which psycopg encodes in C: rows that are only ever
inserted (the record log) straight into their table, upserts into a session's temporary staging table that one
``INSERT ... SELECT ... ON CONFLICT`` then empties into the real one. Against one binary array parameter per
column, unnested server-side (what other drivers get here, and the ``crm_db`` target writer's technique): 100,000
key-map rows in batches of 5,000 upserted in 1.4-1.7 s against 2.3-2.4 s, the record log inserted in 1.55 s
against 2.32 s. SQLite and MariaDB take the rows as an executemany (SQLite runs in process; MariaDB's driver
rewrites an INSERT executemany into multi-row statements).

The staging tables are temporary: each server session has its own, so concurrent runs never see each other's
rows, and nothing is left behind. The hub needs session pooling anyway (its run lock is a session advisory lock).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.exc import IntegrityError

from hub.dbapi import copy_rows, staging_table

#: from how many rows an upsert goes by COPY through a staging table (below: one statement, fewer round trips)
COPY_FROM_ROWS = 100
UNIQUE_VIOLATION = "23505"  # PostgreSQL's SQLSTATE


class Column(list):  # type: ignore[type-arg]
    """One column's values for ``unnest``: psycopg sends this list as a binary array (see hub.state.engine)."""


@dataclass(frozen=True, slots=True)
class Rows:
    """Rows as value tuples in the order of ``names``: what a binary COPY sends as they are. A batch commit makes
    thousands of rows per table; a dict per row, taken apart again for the COPY, was a third of its own time."""

    names: tuple[str, ...]
    values: list[tuple[Any, ...]]

    def __len__(self) -> int:
        return len(self.values)

    def dicts(self) -> list[dict[str, Any]]:
        """For the statements that take rows by name (SQLite, MariaDB, ``unnest``)."""
        return [dict(zip(self.names, row, strict=True)) for row in self.values]


#: what the functions below write: dicts with the same keys, or :class:`Rows`
RowsIn = Sequence[dict[str, Any]] | Rows


def upsert(connection: Connection, table: Table, rows: RowsIn, conflict: Sequence[str],
           update: Sequence[str]) -> None:
    """``INSERT ... ON CONFLICT (conflict) DO UPDATE SET update`` (no ``update``: DO NOTHING) for all rows."""
    if not rows:
        return
    dialect = connection.dialect.name
    if dialect == "postgresql":
        q = connection.dialect.identifier_preparer.quote
        sets = ", ".join(f"{q(c)} = EXCLUDED.{q(c)}" for c in update)
        on_conflict = f"ON CONFLICT ({', '.join(map(q, conflict))}) " + (f"DO UPDATE SET {sets}" if update
                                                                         else "DO NOTHING")
        if _copies(connection, rows):
            _staged_upsert(connection, table, rows, on_conflict)
        else:
            _unnest(connection, "INSERT INTO {table} ({columns}) SELECT * FROM unnest({arrays}) " + on_conflict,
                    table, rows)
        return
    if dialect in ("mysql", "mariadb"):
        on_mysql = mysql.insert(table)
        connection.execute(on_mysql.on_duplicate_key_update({c: on_mysql.inserted[c] for c in update}), _dicts(rows))
        return
    on_sqlite = sqlite.insert(table)
    if update:
        stmt = on_sqlite.on_conflict_do_update(index_elements=list(conflict),
                                               set_={c: on_sqlite.excluded[c] for c in update})
    else:
        stmt = on_sqlite.on_conflict_do_nothing(index_elements=list(conflict))
    connection.execute(stmt, _dicts(rows))


def insert_new(connection: Connection, table: Table, rows: RowsIn, conflict: Sequence[str],
               update: Sequence[str]) -> None:
    """:func:`upsert` for rows that should not exist yet (a record's first crossing). On PostgreSQL with psycopg
    they go straight into the table by ``COPY``, inside a savepoint: no staging table, no conflict handling, and
    a first load's state costs the server half as much. Should one exist after all (another exchange linked the
    same object meanwhile), the savepoint is rolled back and they are all upserted."""
    if not _copies(connection, rows):
        upsert(connection, table, rows, conflict, update)
        return
    try:
        with connection.begin_nested():
            _copy(connection, connection.dialect.identifier_preparer.format_table(table), rows)
    except IntegrityError as exc:
        if getattr(exc.orig, "sqlstate", None) != UNIQUE_VIOLATION:
            raise
        upsert(connection, table, rows, conflict, update)


def insert_rows(connection: Connection, table: Table, rows: RowsIn) -> None:
    """A plain ``INSERT`` of all rows (on PostgreSQL with psycopg, a binary ``COPY``)."""
    if not rows:
        return
    if connection.dialect.name != "postgresql":
        connection.execute(table.insert(), _dicts(rows))
    elif connection.dialect.driver == "psycopg":
        _copy(connection, connection.dialect.identifier_preparer.format_table(table), rows)
    else:
        _unnest(connection, "INSERT INTO {table} ({columns}) SELECT * FROM unnest({arrays})", table, rows)


def _copies(connection: Connection, rows: RowsIn) -> bool:
    """Whether these rows go by COPY: on PostgreSQL with psycopg, from :data:`COPY_FROM_ROWS` rows."""
    return connection.dialect.name == "postgresql" and connection.dialect.driver == "psycopg" \
        and len(rows) >= COPY_FROM_ROWS


def _staged_upsert(connection: Connection, table: Table, rows: RowsIn, on_conflict: str) -> None:
    """COPY the rows into this session's staging table for ``table`` and these columns, then move them into
    ``table`` with ``on_conflict``; the staging table is empty again after the statement (its DELETE feeds the
    INSERT), so two upserts into one table in one transaction never see each other's rows."""
    names, _ = _columns(rows)
    stage = staging_table(connection, table, names)
    _copy(connection, stage, rows)
    columns = ", ".join(map(connection.dialect.identifier_preparer.quote, names))
    connection.exec_driver_sql(f"WITH incoming AS (DELETE FROM {stage} RETURNING {columns}) "
                               f"INSERT INTO {connection.dialect.identifier_preparer.format_table(table)} ({columns}) "
                               f"SELECT {columns} FROM incoming {on_conflict}")


def _copy(connection: Connection, into: str, rows: RowsIn) -> None:
    copy_rows(connection, into, *_columns(rows))


def _columns(rows: RowsIn) -> tuple[list[str], Iterable[Sequence[Any]]]:
    """The rows' column names, and each row's values in that order."""
    if isinstance(rows, Rows):
        return list(rows.names), rows.values
    names = list(rows[0])
    # itemgetter: each row's values as a tuple in one C call (one name: the value itself, so a 1-tuple is made)
    return names, map(itemgetter(*names), rows) if len(names) > 1 else ([row[names[0]]] for row in rows)


def _dicts(rows: RowsIn) -> list[dict[str, Any]]:
    return rows.dicts() if isinstance(rows, Rows) else list(rows)


def _unnest(connection: Connection, template: str, table: Table, rows: RowsIn) -> None:
    """Run ``template`` with {table}, {columns} (the rows' column names) and {arrays} (one typed array each)."""
    names, values = _columns(rows)
    preparer = connection.dialect.identifier_preparer
    arrays = ", ".join(f"%(c{i})s::{table.c[name].type.compile(connection.dialect)}[]" for i, name in enumerate(names))
    params = {f"c{i}": Column(column) for i, column in enumerate(zip(*values, strict=True))}
    sql = template.format(table=preparer.format_table(table), columns=", ".join(map(preparer.quote, names)),
                          arrays=arrays)
    connection.exec_driver_sql(sql, params)
