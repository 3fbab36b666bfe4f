"""A statement on the database driver's own cursor, inside a SQLAlchemy connection's transaction.

Some statements SQLAlchemy cannot run: a binary ``COPY`` (the state store's writes on PostgreSQL:
:func:`copy_rows`, :func:`staging_table`), psycopg's pipelined
``executemany`` with ``RETURNING`` (the CRM writer), firebird-driver's prepared loop. They go to the driver, and
:func:`driver_cursor` keeps what SQLAlchemy does around a statement: its cursor events fire, a driver error is
raised as SQLAlchemy's own :class:`~sqlalchemy.exc.DBAPIError` subclass without parameters (they are the rows'
values: personal data), and a lost connection is invalidated so that the pool does not hand it out again.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
import sqlalchemy as sa


@contextmanager
def driver_cursor(conn: sa.Connection, sql: str, params: Any, driver_error: type[Exception]) -> Iterator[Any]:
    """The driver's cursor for running ``sql`` (with ``params``, as the cursor events report them);
    ``driver_error``: the driver's DBAPI ``Error`` class."""
    driver = conn.connection.driver_connection
    cursor = driver.cursor()  # type: ignore[union-attr]
    conn.dispatch.before_cursor_execute(conn, cursor, sql, params, None, True)
    try:
        yield cursor
    except driver_error as exc:
        lost = conn.dialect.is_disconnect(exc, driver, cursor)  # type: ignore[arg-type]
        if lost:
            conn.invalidate(exc)
        raise sa.exc.DBAPIError.instance(sql, None, exc, driver_error, hide_parameters=True,
                                         connection_invalidated=lost, dialect=conn.dialect) from exc
    finally:
        cursor.close()
    conn.dispatch.after_cursor_execute(conn, cursor, sql, params, None, True)


def copy_rows(conn: sa.Connection, into: str, names: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """``COPY into (names) FROM STDIN (FORMAT BINARY)`` of ``rows`` (value sequences in the order of ``names``),
    inside the connection's transaction (psycopg). psycopg encodes the rows in C: a third of the time of sending
    each column as one array parameter to unnest."""
    preparer = conn.dialect.identifier_preparer
    sql = f"COPY {into} ({', '.join(map(preparer.quote, names))}) FROM STDIN (FORMAT BINARY)"
    types = _column_types(conn, into, names)
    with driver_cursor(conn, sql, None, psycopg.Error) as cursor, cursor.copy(sql) as copy:
        copy.set_types(types)
        for row in rows:
            copy.write_row(row)


def _column_types(conn: sa.Connection, table: str, names: Sequence[str]) -> list[int]:
    """The type oids of the columns of ``table`` (as the server has them: a binary COPY must send each value in
    its column's exact type), asked once per session and table."""
    known: dict[str, dict[str, int]] = conn.connection.info.setdefault("hub_copy_types", {})
    types = known.get(table)
    if types is None:
        rows = conn.exec_driver_sql("SELECT attname, atttypid::int FROM pg_attribute WHERE attrelid = "
                                    "%(table)s::regclass AND attnum > 0 AND NOT attisdropped", {"table": table})
        types = known[table] = {str(row[0]): int(row[1]) for row in rows}
    return [types[name] for name in names]


def staging_table(conn: sa.Connection, table: sa.Table, columns: Sequence[str]) -> str:
    """This session's temporary table with ``columns`` of ``table`` (made on first use; kept for the session),
    for rows on their way into ``table`` (:func:`copy_rows`, then one ``INSERT ... SELECT``). Temporary: each
    server session has its own, so concurrent writers never see each other's rows, and nothing is left behind.
    The statement that empties it into ``table`` should also empty it (``WITH incoming AS (DELETE FROM stage
    RETURNING ...)``), so that a later use in the same transaction starts empty."""
    preparer = conn.dialect.identifier_preparer
    names = ", ".join(map(preparer.quote, columns))
    # one per table and column set (callers write different columns of one table)
    stage = f"pg_temp.hub_stage_{table.name}_{zlib.crc32(names.encode()):08x}"
    conn.exec_driver_sql(f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage} AS "
                         f"SELECT {names} FROM {preparer.format_table(table)} WITH NO DATA")
    return stage
