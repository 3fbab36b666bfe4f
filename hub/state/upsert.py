"""Set-based writes to the hub's own tables: one statement per batch, whatever the number of rows.

On PostgreSQL each column travels as ONE binary array parameter, unnested server-side (the same technique the
``crm_db`` target writer uses): the statement text does not grow with the batch, nothing is parsed per row,
and a 500-row batch is one round trip. SQLite and MariaDB take the rows as an executemany (SQLite runs in
process; MariaDB's driver rewrites an INSERT executemany into multi-row statements).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import mysql, sqlite


class Column(list):  # type: ignore[type-arg]
    """One column's values for ``unnest``: psycopg sends this list as a binary array (see hub.state.engine)."""


def upsert(connection: Connection, table: Table, rows: Sequence[dict[str, Any]], conflict: Sequence[str],
           update: Sequence[str]) -> None:
    """``INSERT ... ON CONFLICT (conflict) DO UPDATE SET update`` (no ``update``: DO NOTHING) for all rows."""
    if not rows:
        return
    dialect = connection.dialect.name
    if dialect == "postgresql":
        q = connection.dialect.identifier_preparer.quote
        sets = ", ".join(f"{q(c)} = EXCLUDED.{q(c)}" for c in update)
        _unnest(connection, "INSERT INTO {table} ({columns}) SELECT * FROM unnest({arrays}) "
                            f"ON CONFLICT ({', '.join(map(q, conflict))}) "
                            + (f"DO UPDATE SET {sets}" if update else "DO NOTHING"), table, rows)
        return
    if dialect in ("mysql", "mariadb"):
        on_mysql = mysql.insert(table)
        connection.execute(on_mysql.on_duplicate_key_update({c: on_mysql.inserted[c] for c in update}), list(rows))
        return
    on_sqlite = sqlite.insert(table)
    if update:
        stmt = on_sqlite.on_conflict_do_update(index_elements=list(conflict),
                                               set_={c: on_sqlite.excluded[c] for c in update})
    else:
        stmt = on_sqlite.on_conflict_do_nothing(index_elements=list(conflict))
    connection.execute(stmt, list(rows))


def insert_rows(connection: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """A plain ``INSERT`` of all rows."""
    if not rows:
        return
    if connection.dialect.name == "postgresql":
        _unnest(connection, "INSERT INTO {table} ({columns}) SELECT * FROM unnest({arrays})", table, rows)
    else:
        connection.execute(table.insert(), list(rows))


def _unnest(connection: Connection, template: str, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Run ``template`` with {table}, {columns} (the rows' column names) and {arrays} (one typed array each)."""
    names = list(rows[0])
    preparer = connection.dialect.identifier_preparer
    arrays = ", ".join(f"%(c{i})s::{table.c[name].type.compile(connection.dialect)}[]" for i, name in enumerate(names))
    params = {f"c{i}": Column([row[name] for row in rows]) for i, name in enumerate(names)}
    sql = template.format(table=preparer.format_table(table), columns=", ".join(map(preparer.quote, names)),
                          arrays=arrays)
    connection.exec_driver_sql(sql, params)
