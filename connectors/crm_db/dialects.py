"""Everything that differs between PostgreSQL, MariaDB/MySQL and SQLite, in one place.

The rest of the connector asks a :class:`DialectStrategy` instead of testing the dialect name: how to write
a native upsert, whether the database stores time zones, how a driver error is classed, and how to name
the constraint or column a refused row broke without repeating the row's values (drivers put values in
their messages; dead letters and logs must not carry them).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Collection, Sequence
from typing import Any, ClassVar, Literal

import sqlalchemy as sa
from psycopg.types.array import ListBinaryDumper
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine import URL, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.dml import Insert

from connectors.crm_db import pipelined

#: what the connector does about a database error
ErrorClass = Literal["auth", "config", "retriable", "integrity", "data", "other"]


class DialectStrategy:
    """Defaults shared by all dialects; subclasses override what their database does differently."""

    name: ClassVar[str] = ""
    #: TIMESTAMP WITH TIME ZONE columns keep the offset (else every datetime is stored naive)
    stores_timezone: ClassVar[bool] = False
    #: fractional-second digits of a DATETIME column whose type does not say
    default_fraction_digits: ClassVar[int] = 6

    # -- engine
    def connect_args(self, url: URL, timezone: str, connect_timeout: int) -> dict[str, Any]:
        return {}

    def configure_engine(self, engine: Engine) -> None:
        """Hook for per-connection setup (event listeners)."""

    # -- writing
    def insert(self, table: sa.Table) -> Insert:
        raise NotImplementedError

    def upsert(self, table: sa.Table, match: Sequence[str], update: Sequence[str]) -> Insert:
        """``INSERT`` that updates ``update`` columns when a row with the same ``match`` values exists."""
        raise NotImplementedError

    def upsert_is_exact(self, unique_keys: Sequence[tuple[str, ...]], match: Sequence[str],
                        columns: Collection[str]) -> bool:
        """Whether the native upsert can only ever touch the row with the same ``match`` values."""
        return True  # ON CONFLICT (match) reacts to that key alone

    def execute_upsert(self, conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]],
                       match: Sequence[str], update: Sequence[str],
                       returning: Sequence[sa.ColumnElement[Any]]) -> Sequence[Sequence[Any]]:
        """Run the upsert for ``rows`` (one statement per page: SQLAlchemy's "insertmanyvalues");
        returns the ``returning`` values of each row written, in no particular order."""
        stmt = self.upsert(table, match, update)
        if returning:
            return conn.execute(stmt.returning(*returning), rows).all()
        conn.execute(stmt, rows)
        return []

    def inserted_flag(self) -> sa.ColumnElement[bool] | None:
        """A RETURNING expression telling a new row from an updated one, if the database has one."""
        return None

    def supports_returning(self, engine: Engine) -> bool:
        # SQLAlchemy knows per server version (MariaDB >= 10.5 yes, MySQL no)
        return bool(engine.dialect.insert_returning)

    # -- reading
    def one_of(self, column: sa.ColumnElement[Any], values: Sequence[Any]) -> sa.ColumnElement[bool]:
        """``column IN (values)``."""
        return column.in_(values)

    def row_fingerprint(self, server: tuple[Any, ...] | None, salt: str,
                        columns: Sequence[sa.Column[Any]]) -> sa.ColumnElement[str] | None:
        """An expression the database computes per row that changes whenever one of ``columns`` does (and with
        ``salt``), if it has one that tells NULL from empty text; else None (the hub hashes the record).
        ``server``: the server's version."""
        return None

    #: whether text compares other than exactly (then :meth:`normalize_text` says how)
    folds_text: ClassVar[bool] = False

    def normalize_text(self, value: str) -> str:
        """How the database compares text in a unique key (to pair returned rows with the rows sent)."""
        return value

    def reflected_kind(self, column_type: sa.types.TypeEngine[Any]) -> str | None:
        """A field kind the generic type mapping would get wrong for this dialect, else None."""
        return None

    def extra_unique_keys(self, conn: sa.Connection, table: sa.Table) -> list[tuple[str, ...]]:
        """Unique keys reflection misses on this dialect (added to those of the reflected table)."""
        return []

    def fraction_digits(self, column_type: sa.types.TypeEngine[Any]) -> int:
        digits = getattr(column_type, "fsp", None) or getattr(column_type, "precision", None)
        return int(digits) if digits is not None else self.default_fraction_digits

    # -- errors
    def classify(self, exc: DBAPIError) -> ErrorClass:
        raise NotImplementedError

    def row_error_message(self, exc: DBAPIError) -> str:
        """What broke, naming the constraint or column and never the values."""
        raise NotImplementedError


class PostgresStrategy(DialectStrategy):
    name = "postgresql"
    stores_timezone = True

    _RETRIABLE_STATES: ClassVar[frozenset[str]] = frozenset(
        {"40001", "40P01", "55P03", "57P01", "57P02", "57P03", "53300", "53400"}
    )
    _CONFIG_STATES: ClassVar[frozenset[str]] = frozenset({"3D000", "3F000", "42P01", "42703", "42501"})

    def __init__(self) -> None:
        self._unnest_sql: dict[tuple[Any, ...], str] = {}  # compiled upserts (one strategy per engine)

    def configure_engine(self, engine: Engine) -> None:
        @sa.event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # psycopg sends lists as text arrays, quoting every element with a regex: 10x slower than binary
            dbapi_connection.adapters.register_dumper(_BinaryList, ListBinaryDumper)

    def connect_args(self, url: URL, timezone: str, connect_timeout: int) -> dict[str, Any]:
        # the session time zone makes timestamptz values read back in the connection's zone, so a value
        # written and read again renders identically (hashes compare like with like); options the URL already
        # has (e.g. -csearch_path=...) are kept, since connect_args replace URL arguments of the same name
        given = url.query.get("options", "")
        options = " ".join(filter(None, [given if isinstance(given, str) else " ".join(given),
                                          f"-c TimeZone={timezone}"]))
        return {"options": options, "connect_timeout": connect_timeout}

    def insert(self, table: sa.Table) -> Insert:
        return postgresql.insert(table)

    def upsert(self, table: sa.Table, match: Sequence[str], update: Sequence[str]) -> Insert:
        return _on_conflict_update(postgresql.insert(table), match, update)

    def execute_upsert(self, conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]],
                       match: Sequence[str], update: Sequence[str],
                       returning: Sequence[sa.ColumnElement[Any]]) -> Sequence[Sequence[Any]]:
        columns = tuple(rows[0])
        if not all(isinstance(table.c[c].type, _ARRAY_FRIENDLY) for c in columns):
            return super().execute_upsert(conn, table, rows, match, update, returning)
        sql = self._unnest_upsert(conn, table, columns, tuple(match), tuple(update), tuple(returning))
        size = pipelined.CHUNK_ROWS
        params = [{f"col{i}": _BinaryList([row[c] for row in rows[start:start + size]]) for i, c in enumerate(columns)}
                  for start in range(0, len(rows), size)]
        return pipelined.execute_many_returning(conn, sql, params, bool(returning))

    def _unnest_upsert(self, conn: sa.Connection, table: sa.Table, columns: tuple[str, ...], match: tuple[str, ...],
                       update: tuple[str, ...], returning: tuple[sa.ColumnElement[Any], ...]) -> str:
        """The upsert's SQL, compiled once per table and column set.

        One array parameter per column, unnested server-side: the statement text is the same for any number of
        rows, so neither SQLAlchemy nor psycopg re-parses a 10,000-placeholder VALUES list.
        """
        key = (table, columns, match, update, returning)
        sql = self._unnest_sql.get(key)
        if sql is None:
            arrays = [sa.cast(sa.bindparam(f"col{i}", type_=_AsIs()), postgresql.ARRAY(table.c[c].type))
                      for i, c in enumerate(columns)]
            source = sa.func.unnest(*arrays).table_valued(*columns).render_derived(name="incoming")
            insert = postgresql.insert(table).from_select(columns, sa.select(*(source.c[c] for c in columns)))
            stmt = _on_conflict_update(insert, match, update)
            if returning:
                stmt = stmt.returning(*returning)
            sql = self._unnest_sql[key] = str(stmt.compile(dialect=conn.dialect))
        return sql

    def inserted_flag(self) -> sa.ColumnElement[bool] | None:
        return _XMAX_IS_ZERO

    def row_fingerprint(self, server: tuple[Any, ...] | None, salt: str,
                        columns: Sequence[sa.Column[Any]]) -> sa.ColumnElement[str] | None:
        if server is not None and server >= (14,) and all(map(_hashes_exactly, columns)):
            # the types' own 64-bit hashes, combined: a fifth of md5's cost (0.7 against 2.8 us a row of 10
            # columns); a numeric's hash ignores its display scale (1.0 = 1.00), so the scale goes in too
            scales = [sa.func.scale(c) for c in columns if isinstance(c.type, sa.Numeric)]
            hashed = sa.func.hash_record_extended(sa.func.row(*columns, *scales), 0)
            return sa.literal(salt, sa.Text) + sa.cast(hashed, sa.Text)
        # md5 of the row's text form, as the session renders it (its time zone, so the salt names the zone);
        # a ROW's text tells NULL (nothing) from '' ("")
        row_text = sa.cast(sa.func.row(*columns), sa.Text)
        return sa.func.md5(sa.literal(salt, sa.Text) + row_text)

    def one_of(self, column: sa.ColumnElement[Any], values: Sequence[Any]) -> sa.ColumnElement[bool]:
        # ``= ANY(one binary array)``: an IN list of 500 values is rendered, sent and parsed value by value
        if not isinstance(column.type, _ARRAY_FRIENDLY):
            return column.in_(values)
        array = sa.cast(sa.bindparam(None, _BinaryList(values), type_=_AsIs()), postgresql.ARRAY(column.type))
        return column == sa.any_(array)

    def classify(self, exc: DBAPIError) -> ErrorClass:
        state = getattr(exc.orig, "sqlstate", None)
        if state is None:  # failed before a session existed: only the message tells why
            return _classify_connect_message(str(exc.orig))
        if state.startswith("08") or state in self._RETRIABLE_STATES:
            return "retriable"
        if state.startswith("28"):
            return "auth"
        if state in self._CONFIG_STATES:
            return "config"
        if state.startswith("23"):
            return "integrity"
        if state.startswith("22"):
            return "data"
        return "other"

    def row_error_message(self, exc: DBAPIError) -> str:
        diag = getattr(exc.orig, "diag", None)
        state = getattr(exc.orig, "sqlstate", None) or ""
        constraint = getattr(diag, "constraint_name", None)
        column = getattr(diag, "column_name", None)
        kind = {"23505": "unique constraint", "23503": "foreign key constraint", "23514": "check constraint",
                "23P01": "exclusion constraint"}.get(state)
        if kind and constraint:
            return f"violates {kind} {constraint}"
        if state == "23502" and column:
            return f"column {column} cannot be null"
        # the primary message of a data exception may quote the value: name the error class instead
        reason = type(exc.orig).__name__
        return f"refused by the database ({reason}, SQLSTATE {state})" + (f" on column {column}" if column else "")


class MySqlStrategy(DialectStrategy):
    name = "mysql"
    stores_timezone = False
    default_fraction_digits = 0  # DATETIME without (n) keeps whole seconds

    _AUTH: ClassVar[frozenset[int]] = frozenset({1044, 1045, 1698})
    _CONFIG: ClassVar[frozenset[int]] = frozenset({1049, 1146, 1054, 1142, 1143})
    _RETRIABLE: ClassVar[frozenset[int]] = frozenset(
        {1040, 1205, 1213, 1927, 2002, 2003, 2005, 2006, 2013, 2055, 4031}
    )
    _INTEGRITY: ClassVar[frozenset[int]] = frozenset({1062, 1451, 1452, 1048, 3819, 4025, 1364, 1169})
    _DATA: ClassVar[frozenset[int]] = frozenset({1406, 1264, 1265, 1366, 1292, 1367, 1411, 1690})

    def connect_args(self, url: URL, timezone: str, connect_timeout: int) -> dict[str, Any]:
        return {"connect_timeout": connect_timeout}

    def insert(self, table: sa.Table) -> Insert:
        return mysql.insert(table)

    def upsert(self, table: sa.Table, match: Sequence[str], update: Sequence[str]) -> Insert:
        # ON DUPLICATE KEY fires on any unique key; the caller only uses it when ``match`` is one
        stmt = mysql.insert(table)
        columns = update or match
        return stmt.on_duplicate_key_update({c: stmt.inserted[c] for c in columns})

    def upsert_is_exact(self, unique_keys: Sequence[tuple[str, ...]], match: Sequence[str],
                        columns: Collection[str]) -> bool:
        # ON DUPLICATE KEY reacts to every unique key: if the row also sets columns of another key (an
        # explicit id), a clash there would silently update some other row
        others = [key for key in unique_keys if set(key) != set(match)]
        return not any(set(key) & set(columns) for key in others)

    folds_text = True

    def normalize_text(self, value: str) -> str:
        # the default collations are case-insensitive and ignore trailing spaces
        return value.casefold().rstrip(" ")

    def reflected_kind(self, column_type: sa.types.TypeEngine[Any]) -> str | None:
        # BOOLEAN is stored as TINYINT(1) and reflects as such
        if isinstance(column_type, mysql.TINYINT) and getattr(column_type, "display_width", None) == 1:
            return "boolean"
        return None

    def classify(self, exc: DBAPIError) -> ErrorClass:
        code = _mysql_code(exc)
        if code in self._RETRIABLE or exc.connection_invalidated:
            return "retriable"
        if code in self._AUTH:
            return "auth"
        if code in self._CONFIG:
            return "config"
        if code in self._INTEGRITY:
            return "integrity"
        if code in self._DATA:
            return "data"
        return "other"

    def row_error_message(self, exc: DBAPIError) -> str:
        code = _mysql_code(exc)
        text = str(exc.orig.args[1]) if exc.orig is not None and len(exc.orig.args) > 1 else ""
        # MySQL messages quote the offending value ("Duplicate entry 'x' for key 'y'"): keep only names
        patterns: list[tuple[set[int], str, str]] = [
            ({1062}, r"for key '([^']+)'", "violates unique key {}"),
            ({1451, 1452}, r"CONSTRAINT `([^`]+)`", "violates foreign key constraint {}"),
            ({3819, 4025}, r"[Cc]onstraint [`']([^`']+)[`']", "violates check constraint {}"),
            ({1048}, r"Column '([^']+)'", "column {} cannot be null"),
            ({1364}, r"Field '([^']+)'", "column {} has no default value"),
            ({1406}, r"column '([^']+)'", "value too long for column {}"),
            ({1264, 1265, 1366, 1292, 1367}, r"column '([^']+)'", "invalid value for column {}"),
        ]
        for codes, pattern, template in patterns:
            found = re.search(pattern, text) if code in codes else None
            if found:
                return template.format(found.group(1).split(".")[-1])
        return f"refused by the database (error {code})"


class SqliteStrategy(DialectStrategy):
    name = "sqlite"
    stores_timezone = False

    def configure_engine(self, engine: Engine) -> None:
        # pysqlite's own transaction handling breaks SAVEPOINT (per-row retries need it) and SQLite
        # ignores foreign keys unless asked: take over BEGIN and switch the checks on
        @sa.event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None
            dbapi_connection.execute("PRAGMA foreign_keys = ON")

        @sa.event.listens_for(engine, "begin")
        def _on_begin(conn: sa.Connection) -> None:
            conn.exec_driver_sql("BEGIN")

    def extra_unique_keys(self, conn: sa.Connection, table: sa.Table) -> list[tuple[str, ...]]:
        # SQLAlchemy parses only table-level UNIQUE (...) clauses; an inline "col TEXT UNIQUE" exists only as
        # an automatic index, which SQLite itself lists
        quote = conn.dialect.identifier_preparer.quote
        prefix = f"{quote(table.schema)}." if table.schema else ""
        keys: list[tuple[str, ...]] = []
        indexes = conn.exec_driver_sql(f"PRAGMA {prefix}index_list({quote(table.name)})").all()
        for _seq, name, unique, _origin, partial in indexes:
            if unique and not partial:
                info = conn.exec_driver_sql(f"PRAGMA {prefix}index_info({quote(str(name))})")
                columns = tuple(row[2] for row in info)
                if all(columns):  # an expression index has no column names
                    keys.append(columns)
        return keys

    def insert(self, table: sa.Table) -> Insert:
        return sqlite.insert(table)

    def upsert(self, table: sa.Table, match: Sequence[str], update: Sequence[str]) -> Insert:
        return _on_conflict_update(sqlite.insert(table), match, update)

    def classify(self, exc: DBAPIError) -> ErrorClass:
        if isinstance(exc, sa.exc.IntegrityError):  # first: a column may be called "locked"
            return "integrity"
        if isinstance(exc, sa.exc.DataError):
            return "data"
        message = str(exc.orig).lower()
        if "database is locked" in message or "database table is locked" in message or "busy" in message:
            return "retriable"
        if "no such table" in message or "no such column" in message or "unable to open" in message:
            return "config"
        return "other"

    def row_error_message(self, exc: DBAPIError) -> str:
        # SQLite names the constraint or columns and never quotes values ("UNIQUE constraint failed: t.a")
        return str(exc.orig)


# a row the statement inserted has no deleting/locking transaction yet; an updated one has (one object, so
# the compiled upsert is cached by it)
_XMAX_IS_ZERO = sa.literal_column("xmax = 0", sa.Boolean).label("hub_inserted")

def _hashes_exactly(column: sa.Column[Any]) -> bool:
    """Whether PostgreSQL's hash of the column's type tells apart every two values the hub reads differently:
    not so for floats (0.0 = -0.0), case-insensitive text (citext, a collation of its own) or JSON."""
    kind = column.type
    if isinstance(kind, sa.String):
        # exact types: citext and enums are subclasses
        return type(kind) in (sa.String, sa.Text, sa.Unicode, sa.UnicodeText, sa.VARCHAR, sa.TEXT, sa.CHAR) \
            and kind.collation is None
    return isinstance(kind, sa.Integer | sa.Boolean | sa.Date | sa.DateTime | sa.Uuid) or \
        (isinstance(kind, sa.Numeric) and not isinstance(kind, sa.Float))


#: column types PostgreSQL arrays carry without surprises (JSON and nested arrays take the generic path)
_ARRAY_FRIENDLY = (sa.String, sa.Integer, sa.Numeric, sa.Boolean, sa.Date, sa.DateTime, sa.Uuid)


class _BinaryList(list):  # type: ignore[type-arg]
    """A column's values for ``unnest``: psycopg sends this list as a binary array (see configure_engine)."""


class _AsIs(sa.types.TypeDecorator[Any]):
    """A bind type without processing, so the :class:`_BinaryList` reaches psycopg as it is."""

    impl = sa.types.NullType
    cache_ok = True


def _on_conflict_update(stmt: Any, match: Sequence[str], update: Sequence[str]) -> Insert:
    """``ON CONFLICT (match) DO UPDATE`` (PostgreSQL, SQLite). DO NOTHING would return no row for an existing
    key: with nothing to update, setting the match columns to themselves keeps RETURNING complete."""
    return stmt.on_conflict_do_update(  # type: ignore[no-any-return]
        index_elements=list(match), set_={c: stmt.excluded[c] for c in update or match})


def _mysql_code(exc: DBAPIError) -> int | None:
    args = getattr(exc.orig, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def _classify_connect_message(message: str) -> ErrorClass:
    text = message.lower()
    if "password authentication failed" in text or ("role" in text and "does not exist" in text) \
            or "pg_hba.conf" in text:
        return "auth"
    if "database" in text and "does not exist" in text:
        return "config"
    return "retriable"  # refused, timed out, DNS: the server may come back


_STRATEGIES: dict[str, type[DialectStrategy]] = {
    "postgresql": PostgresStrategy,
    "mysql": MySqlStrategy,
    "mariadb": MySqlStrategy,
    "sqlite": SqliteStrategy,
}


def register(dialect_name: str, strategy: type[DialectStrategy]) -> None:
    """Add a database kept in its own module (Firebird: ``connectors.crm_db.firebird_dialect``)."""
    _STRATEGIES[dialect_name] = strategy


#: databases whose strategy lives in a module of its own, imported on first use: their drivers are slow to import
#: (firebird-driver: about 0.14 s), a cost every run of every other database would pay at start-up
_STRATEGY_MODULES = {"firebird": "connectors.crm_db.firebird_dialect"}


def strategy_for(dialect_name: str) -> DialectStrategy:
    """The strategy for a SQLAlchemy dialect name (``engine.dialect.name``)."""
    if dialect_name not in _STRATEGIES and dialect_name in _STRATEGY_MODULES:
        importlib.import_module(_STRATEGY_MODULES[dialect_name])  # the module registers its strategy
    try:
        return _STRATEGIES[dialect_name]()
    except KeyError:
        supported = ", ".join(sorted({*_STRATEGIES, *_STRATEGY_MODULES}))
        raise ValueError(f"unsupported database dialect {dialect_name!r} (supported: {supported})") from None
