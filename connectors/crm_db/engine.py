"""From a hub :class:`~hub.connections.Connection` to a SQLAlchemy engine with its dialect strategy.

The URL comes from :func:`hub.sql.engine_url` (shared with other connectors that read a SQL database);
``normalize_url`` and ``engine_url`` are re-exported here for the code that imported them from this module.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from connectors.crm_db.dialects import DialectStrategy, strategy_for
from hub.connections import Connection
from hub.errors import ConfigError
from hub.sql import engine_url, normalize_url, ping_after_idle

__all__ = ["create_engine", "engine_url", "normalize_url"]


def create_engine(connection: Connection, timezone: str) -> tuple[Engine, DialectStrategy]:
    """A pooled engine for the connection and the strategy of its dialect."""
    url = engine_url(connection)
    try:
        strategy = strategy_for(url.get_backend_name())
    except ValueError as exc:
        raise ConfigError(f"connection {connection.describe()}: {exc}") from None
    connect_timeout = int(connection.extra.get("connect_timeout", 10))
    kwargs: dict[str, Any] = {
        "hide_parameters": True,  # SQLAlchemy's error text must not carry row values into logs
        "connect_args": strategy.connect_args(url, timezone, connect_timeout),
    }
    engine = sa.create_engine(url, **kwargs)
    ping_after_idle(engine)  # a connection the server dropped overnight is replaced, not failed on
    strategy.configure_engine(engine)
    return engine, strategy


def reading(engine: Engine) -> sa.Connection:
    """A connection for one read statement. On PostgreSQL in autocommit (psycopg switches it on the client):
    no BEGIN and ROLLBACK round trips around every batch the reader fetches and every target lookup."""
    connection = engine.connect()
    if engine.dialect.name == "postgresql":
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
    return connection
