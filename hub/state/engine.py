"""Engines for the hub database: SQLite (WAL, durable commits, waits on locks) or a server database.

The URL is checked before anything connects, so a mistake in it is one clear line, never the password:
a port that is not a number, an ``@`` left unencoded in a password (``user:p@ss@host`` would send the
connection to a host named after the rest of the password), a driver the hub does not ship. A bare
``postgresql://`` or ``mysql://`` gets the driver the hub ships (psycopg 3, PyMySQL).
"""

from __future__ import annotations

from pathlib import Path

from psycopg.types.array import ListBinaryDumper
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

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
        engine = create_engine(parsed, pool_pre_ping=True, **kwargs)
    except ImportError as exc:  # a driver suffix naming a package that is not installed
        raise ConfigError(f"the hub database URL names the driver {parsed.drivername!r}, whose package "
                          f"{exc.name or ''} is not installed; use postgresql:// or mysql://") from None
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() == "psycopg":
        event.listen(engine, "connect", _postgres_binary_arrays)
    return engine


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
