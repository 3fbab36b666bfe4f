"""From a hub :class:`~hub.connections.Connection` to a SQLAlchemy URL: the SQL helper every connector
that talks to a SQL database shares (the CRM database, the PBX's CDR table).

``extra.url`` wins when given (any SQLAlchemy URL); otherwise the URL is built from the connection's
fields: the dialect comes from ``extra.dialect`` or ``conn_type`` (postgres/postgresql, mysql/mariadb,
firebird, sqlite), ``schema`` is the database name (the file path for SQLite, the path or alias for
Firebird). Drivers are fixed to the ones the hub ships (psycopg 3, PyMySQL, firebird-driver), so a bare
``postgresql://`` URL works too.

The URL holds the password: it goes to SQLAlchemy and nowhere else. Messages use
``connection.describe()``.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import URL

from hub.connections import Connection
from hub.errors import ConfigError
from hub.state.engine import database_url, ping_after_idle

__all__ = ["DRIVERS", "engine_url", "normalize_url", "ping_after_idle"]

#: conn_type / extra.dialect spellings -> SQLAlchemy drivername
DRIVERS = {
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mysql+pymysql",
    "sqlite": "sqlite",
    "firebird": "firebird+firebird",
}


def normalize_url(url: str | URL) -> URL:
    """Parse a URL and pin the driver the hub ships (``postgresql://`` -> ``postgresql+psycopg://``)."""
    parsed = sa.make_url(url)
    backend = parsed.get_backend_name()
    if backend in DRIVERS and "+" not in parsed.drivername:
        parsed = parsed.set(drivername=DRIVERS[backend])
    if parsed.get_backend_name() in ("mysql", "mariadb") and "charset" not in parsed.query:
        parsed = parsed.update_query_dict({"charset": "utf8mb4"})  # Cyrillic needs 4-byte-safe UTF-8
    if parsed.get_backend_name() == "firebird" and "charset" not in parsed.query:
        # the connection charset: the server converts to the database's own (UTF8 or WIN1251) and back
        parsed = parsed.update_query_dict({"charset": "UTF8"})
    return parsed


def engine_url(connection: Connection) -> URL:
    """The SQLAlchemy URL for a connection (with its password: never print it)."""
    if connection.extra.get("url"):  # checked first: a bad port or an unencoded '@' is one line, no password
        return normalize_url(database_url(str(connection.extra["url"]), f"connection {connection.describe()}: "
                                                                          "extra.url"))
    return normalize_url(_url_from_fields(connection))


def _url_from_fields(connection: Connection) -> URL:
    dialect = str(connection.extra.get("dialect") or connection.conn_type).lower().replace("-", "_")
    if dialect not in DRIVERS:
        raise ConfigError(
            f"connection {connection.describe()}: set extra.dialect to one of {', '.join(sorted(DRIVERS))} "
            "or give extra.url"
        )
    if dialect == "sqlite":
        return URL.create("sqlite", database=connection.schema_ or ":memory:")
    return URL.create(
        DRIVERS[dialect],
        username=connection.login,
        password=connection.secret or None,
        host=connection.host or "localhost",
        port=connection.port,
        database=connection.schema_,
    )
