"""Engines for the hub database: SQLite (WAL, durable commits, waits on locks) or a server database.

The URL is checked before anything connects, so a mistake in it is one clear line, never the password:
a port that is not a number, an ``@`` left unencoded in a password (``user:p@ss@host`` would send the
connection to a host named after the rest of the password), a driver the hub does not ship. A bare
``postgresql://`` or ``mysql://`` gets the driver the hub ships (psycopg 3, PyMySQL).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from psycopg.types.array import ListBinaryDumper
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError

from hub.errors import ConfigError
from hub.state.upsert import Column

#: backend -> the driver the hub ships (SQLAlchemy's defaults, psycopg2 and mysqlclient, are not installed)
DRIVERS = {"postgresql": "postgresql+psycopg", "postgres": "postgresql+psycopg", "mysql": "mysql+pymysql",
           "mariadb": "mysql+pymysql"}


def database_url(url: str, what: str = "the hub database URL (HUB_DATABASE_URL)") -> URL:
    """Parse a database URL (``what`` names it in errors) and pin the shipped driver; :class:`ConfigError`
    saying what is wrong, never quoting the URL (it holds the password)."""
    authority = url.partition("://")[2].split("/", 1)[0]
    if authority.count("@") > 1:
        raise ConfigError(f"{what} has more than one '@' before the host: an '@' in the user name or password "
                          "must be written as %40")
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"{what} is not a database URL (expected e.g. "
                          "postgresql://user:password@host:5432/database)") from None
    except ValueError:  # SQLAlchemy's int() of the port
        raise ConfigError(f"{what}: the port is not a number") from None
    backend = parsed.drivername.partition("+")[0]
    if backend in DRIVERS and "+" not in parsed.drivername:
        parsed = parsed.set(drivername=DRIVERS[backend])
    return parsed


def make_engine(url: str, **kwargs: object) -> Engine:
    parsed = database_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"timeout": 30}, **kwargs)  # waits 30 s on a lock
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    try:
        engine = create_engine(parsed, **kwargs)
    except ImportError as exc:  # a driver suffix naming a package that is not installed
        raise ConfigError(f"the hub database URL names the driver {parsed.drivername!r}, whose package "
                          f"{exc.name or ''} is not installed; use postgresql:// or mysql://") from None
    ping_after_idle(engine)
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() == "psycopg":
        event.listen(engine, "connect", _postgres_binary_arrays)
    return engine


#: a pooled connection unused for longer than this is pinged before it is handed out
IDLE_BEFORE_PING = 2.0


def ping_after_idle(engine: Engine) -> None:
    """A pooled connection that sat idle is pinged before use, and replaced if the server dropped it.

    SQLAlchemy's ``pool_pre_ping`` pings at every checkout: a round trip before each statement of a run that
    checks a connection out per batch step (a tenth of the time of a re-run that finds nothing changed). A
    connection in steady use was alive a moment ago; one left in the pool overnight, or over a server restart,
    is the one to check. Raising ``DisconnectionError`` in a checkout handler makes the pool discard the
    connection and connect anew (SQLAlchemy's documented pessimistic-disconnect hook).
    """

    @event.listens_for(engine, "connect")
    def _fresh(_dbapi_connection: Any, record: Any) -> None:
        record.info["hub_last_used"] = time.monotonic()

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info["hub_last_used"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get("hub_last_used", 0.0) < IDLE_BEFORE_PING:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # any failure: this connection is gone, the pool makes another
            raise DisconnectionError(f"the pooled connection failed its ping: {type(exc).__name__}") from exc


def _postgres_binary_arrays(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    # psycopg sends lists as text arrays, quoting every element with a regex: the set-based writes
    # (hub.state.upsert) send their columns as binary arrays instead
    dbapi_connection.adapters.register_dumper(Column, ListBinaryDumper)


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    # WAL lets readers (the CLI, Airflow tasks) work while a run writes; FULL makes a commit durable
    # before we acknowledge anything that depends on it.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
