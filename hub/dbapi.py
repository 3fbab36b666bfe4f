"""A statement on the database driver's own cursor, inside a SQLAlchemy connection's transaction.

Some statements SQLAlchemy cannot run: a binary ``COPY`` (the state store's record log), psycopg's pipelined
``executemany`` with ``RETURNING`` (the CRM writer), firebird-driver's prepared loop. They go to the driver, and
:func:`driver_cursor` keeps what SQLAlchemy does around a statement: its cursor events fire, a driver error is
raised as SQLAlchemy's own :class:`~sqlalchemy.exc.DBAPIError` subclass without parameters (they are the rows'
values: personal data), and a lost connection is invalidated so that the pool does not hand it out again.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

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
