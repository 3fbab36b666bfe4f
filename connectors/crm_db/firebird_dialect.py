"""What Firebird (3.0 and later, through firebird-driver and sqlalchemy-firebird) does differently.

* Transactions are READ COMMITTED (record version) with a lock timeout: a row another program holds makes a
  write fail after :data:`LOCK_TIMEOUT_SECONDS` (or ``?lock_timeout=N`` on the URL) as a retriable lock
  conflict, never wait for ever (the driver's default is SNAPSHOT with an endless wait).
* The upsert is ``UPDATE OR INSERT ... MATCHING (...) RETURNING``, one prepared statement executed per row
  (Firebird 3 has no multi-row VALUES and its client API no batch): ``OLD.<key> IS NULL`` in RETURNING tells a
  new row from an updated one, in the same round trip. ``MERGE`` has no RETURNING before Firebird 5 (it
  would need a second query for the ids) and was no faster: the round trip per row dominates both
  (``bench/bench_firebird_upsert.py`` measures both).
* A plain INSERT ... RETURNING of several rows runs as one statement per row (SQLAlchemy's "insertmanyvalues"
  with one row per page), so the ids of new rows come back in order as on PostgreSQL.
* Errors carry ISC status codes (``gds_codes``): classed by them, never by message text; messages name the
  constraint or column and drop the "Problematic key value" lines (they quote the row's values).
"""

from __future__ import annotations

import decimal
import re
from collections.abc import Sequence
from typing import Any

import firebird.driver as fbdriver
import sqlalchemy as sa
from firebird.driver import fbapi
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.dml import Insert

from connectors.crm_db.dialects import DialectStrategy, ErrorClass, register
from connectors.crm_db.queries import RowIn
from hub.dbapi import driver_cursor

#: seconds a write waits for a row another transaction has locked before failing (retriable)
LOCK_TIMEOUT_SECONDS = 10

# ISC status codes (Firebird's include/gen/codes.h), grouped by what the hub does about them
_RETRIABLE: frozenset[int] = frozenset({
    335544336,  # deadlock
    335544345,  # lock_conflict: lock conflict on no wait transaction
    335544451,  # update_conflict: update conflicts with concurrent update
    335544510,  # lock_timeout: lock time-out on wait transaction
    335544878,  # concurrent_transaction: concurrent transaction number is ...
    335544721,  # network_error: unable to complete network request
    335544726,  # net_read_err
    335544727,  # net_write_err
    335544856,  # att_shutdown: connection shutdown
    335544528,  # shutdown: database shut down
})
_AUTH: frozenset[int] = frozenset({335544472})  # login: user name and password are not defined
_CONFIG: frozenset[int] = frozenset({
    335544344,  # io_error: the database file cannot be opened
    335544580,  # dsql_relation_err: table unknown
    335544578,  # dsql_field_err: column unknown
    335544352,  # no_priv: no permission
})
_INTEGRITY: frozenset[int] = frozenset({
    335544665,  # unique_key_violation (PRIMARY or UNIQUE KEY)
    335544466,  # foreign_key
    335544838,  # foreign_key_target_doesnt_exist
    335544839,  # foreign_key_references_present
    335544347,  # not_valid: validation error for column (NOT NULL, domain check)
    335544558,  # check_constraint
})
_DATA: frozenset[int] = frozenset({
    335544321,  # arith_except: numeric overflow or string truncation
    335544914,  # string_truncation
    335544334,  # convert_error
    335544565,  # transliterate_failed: a character the database's charset (WIN1251) has no code for
    335544779,  # exception_integer_overflow
})

#: the RETURNING item the writer asks for to tell inserted rows (rendered by :meth:`execute_upsert`)
_INSERTED = sa.literal_column("hub_inserted", sa.Boolean)


class FirebirdStrategy(DialectStrategy):
    name = "firebird"
    stores_timezone = False  # Firebird 3 has no TIMESTAMP WITH TIME ZONE
    default_fraction_digits = 4  # TIMESTAMP keeps 1/10,000 of a second

    def __init__(self) -> None:
        self._upsert_sql: dict[tuple[Any, ...], str] = {}

    # -- engine
    def configure_engine(self, engine: Engine) -> None:
        dialect = engine.dialect
        # INSERT ... RETURNING for several rows: one row per statement (see the module docstring)
        dialect.use_insertmanyvalues = True
        dialect.insert_executemany_returning = True
        dialect.insert_executemany_returning_sort_by_parameter_order = True
        dialect.insertmanyvalues_page_size = 1
        lock_timeout = LOCK_TIMEOUT_SECONDS

        @sa.event.listens_for(engine, "do_connect")
        def _take_lock_timeout(_dialect: Any, _record: Any, _cargs: Any, cparams: dict[str, Any]) -> None:
            # ``?lock_timeout=N`` on the URL is the hub's, not a firebird-driver argument
            nonlocal lock_timeout
            lock_timeout = int(cparams.pop("lock_timeout", lock_timeout))
            load_client_library()

        @sa.event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            read_committed = fbdriver.tpb(fbdriver.Isolation.READ_COMMITTED_RECORD_VERSION, lock_timeout=lock_timeout)
            dbapi_connection.default_tpb = read_committed
            dbapi_connection.main_transaction.default_tpb = read_committed

    # -- writing
    def insert(self, table: sa.Table) -> Insert:
        return sa.insert(table)

    def inserted_flag(self) -> sa.ColumnElement[bool] | None:
        return _INSERTED

    def execute_upsert(self, conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]],
                       match: Sequence[str], update: Sequence[str],
                       returning: Sequence[sa.ColumnElement[Any]]) -> Sequence[Sequence[Any]]:
        columns = tuple(rows[0])
        sql = self.upsert_sql(conn.dialect, table, columns, tuple(match), tuple(returning))
        params = [tuple(row[c] for c in columns) for row in rows]
        return execute_each(conn, sql, params, bool(returning))

    def upsert_sql(self, dialect: sa.Dialect, table: sa.Table, columns: tuple[str, ...], match: tuple[str, ...],
                   returning: tuple[sa.ColumnElement[Any], ...]) -> str:
        """``UPDATE OR INSERT INTO t (cols) VALUES (?, ...) MATCHING (match) [RETURNING ...]``, cached."""
        key = (table, columns, match, returning)
        sql = self._upsert_sql.get(key)
        if sql is None:
            quote = dialect.identifier_preparer.quote
            names = ", ".join(quote(c) for c in columns)
            marks = ", ".join("?" for _ in columns)
            sql = (f"UPDATE OR INSERT INTO {dialect.identifier_preparer.format_table(table)} ({names}) "
                   f"VALUES ({marks}) MATCHING ({', '.join(quote(c) for c in match)})")
            if returning:
                pk = quote(next(iter(table.primary_key.columns)).name)
                items = [f"OLD.{pk} IS NULL" if item is _INSERTED else f"NEW.{quote(item.name)}"
                         for item in returning]
                sql += " RETURNING " + ", ".join(items)
            self._upsert_sql[key] = sql
        return sql

    # -- errors
    def classify(self, exc: DBAPIError) -> ErrorClass:
        codes = set(getattr(exc.orig, "gds_codes", ()) or ())
        if codes & _RETRIABLE or exc.connection_invalidated:
            return "retriable"
        for group, kind in ((_AUTH, "auth"), (_CONFIG, "config"), (_INTEGRITY, "integrity"), (_DATA, "data")):
            if codes & group:
                return kind  # type: ignore[return-value]
        if not codes and isinstance(exc, sa.exc.InterfaceError | sa.exc.OperationalError):
            return "retriable"  # the client library could not reach the server at all
        return "other"

    def row_error_message(self, exc: DBAPIError) -> str:
        codes = set(getattr(exc.orig, "gds_codes", ()) or ())
        text = str(exc.orig)
        patterns: list[tuple[set[int], str, str]] = [
            ({335544665}, r'KEY constraint "([^"]+)"', "violates unique constraint {}"),
            ({335544466, 335544838, 335544839}, r'FOREIGN KEY constraint "([^"]+)"',
             "violates foreign key constraint {}"),
            ({335544558}, r"CHECK constraint \"?([^\s\"]+)\"?", "violates check constraint {}"),
            ({335544347}, r'validation error for column (?:"[^"]+"\.)?"([^"]+)", value "\*\*\* null \*\*\*"',
             "column {} cannot be null"),
            ({335544914}, r"", "value too long for a column (string right truncation)"),
            ({335544565}, r"", "a character the database's character set cannot store"),
        ]
        for group, pattern, template in patterns:
            found = re.search(pattern, text) if codes & group else None
            if found:
                return template.format(*(_normal_name(name) for name in found.groups()))
        state = getattr(exc.orig, "sqlstate", None) or ""
        return f"refused by the database (Firebird error {min(codes) if codes else '?'}, SQLSTATE {state})"


def load_client_library() -> None:
    """Load fbclient (once) without its side effect: firebird-driver sets the thread's decimal precision to
    34 digits when it loads the library, which would change the hub's own decimal arithmetic (mapping
    expressions such as ``round_money``) for the rest of the process."""
    with decimal.localcontext():
        fbapi.load_api()


def _normal_name(name: str) -> str:
    """An unquoted Firebird name is stored upper-case; show it the way the hub's mappings spell it."""
    return name.lower() if name.isupper() else name


def execute_each(conn: sa.Connection, sql: str, params: Sequence[tuple[Any, ...]],
                 returning: bool) -> list[tuple[Any, ...]]:
    """Execute one statement per parameter set on the driver's cursor (prepared once, reused), inside the
    SQLAlchemy connection's transaction; the RETURNING row of each, in order.

    This is firebird-driver's own ``executemany`` loop, plus the RETURNING row it does not keep; what
    SQLAlchemy would do around it is kept (:mod:`hub.dbapi`).
    """
    rows: list[tuple[Any, ...]] = []
    with driver_cursor(conn, sql, params, fbdriver.Error) as cursor:
        for values in params:
            cursor.execute(sql, values)  # the cursor keeps the statement prepared while its text is the same
            if returning:
                rows.append(cursor.fetchone())
    return rows


@compiles(RowIn, "firebird.firebird")
def _row_in_without_row_values(element: RowIn, compiler: Any, **kw: Any) -> str:
    """Firebird has no ``(a, b) IN (...)``: ``(a = x AND b = y) OR ...`` finds the same rows."""
    rows = [sa.and_(*(column == value for column, value in zip(element.columns, values, strict=True)))
            for values in element.values]
    return compiler.process(sa.or_(*rows), **kw)  # type: ignore[no-any-return]


register("firebird", FirebirdStrategy)
