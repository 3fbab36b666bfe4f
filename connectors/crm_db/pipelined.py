"""Run one PostgreSQL statement over several parameter sets in psycopg's pipeline mode, with RETURNING.

A bulk upsert spends about as long in the server as in the client (converting and dumping values). Sent as
one statement, each waits for the other. Sent as a few chunks in pipeline mode, the server upserts one chunk
while psycopg dumps the next: a batch of 1,000 rows as four chunks of 250 is 15-25 % faster
(``bench/bench_crm_upsert.py``).

SQLAlchemy cannot do this itself: its executemany refuses RETURNING for an ``INSERT ... SELECT``, and in
pipeline mode its result objects see no rows. So the statement is compiled by SQLAlchemy once and run on the
driver's cursor inside the SQLAlchemy connection's own transaction, keeping what SQLAlchemy would do around
it: the connection's ``before/after_cursor_execute`` events fire (tracing and tests see the statement), a
driver error is raised as the same ``sqlalchemy.exc.DBAPIError`` subclass, and a lost connection is
invalidated so the pool does not hand it out again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
import sqlalchemy as sa

from hub.dbapi import driver_cursor

#: rows per pipelined statement: small enough to overlap, large enough that per-statement costs stay small
CHUNK_ROWS = 250


def execute_many_returning(conn: sa.Connection, sql: str, params: Sequence[dict[str, Any]],
                           returning: bool) -> list[tuple[Any, ...]]:
    """Execute ``sql`` once per parameter set, pipelined; the RETURNING rows of all of them, in order."""
    with driver_cursor(conn, sql, params, psycopg.Error) as cursor:
        cursor.executemany(sql, params, returning=returning)
        return _all_results(cursor) if returning else []


def _all_results(cursor: psycopg.Cursor[Any]) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    while True:
        rows.extend(cursor.fetchall())
        if not cursor.nextset():
            return rows
