"""Engines for the hub database: SQLite (WAL, durable commits, waits on locks) or a server database."""

from __future__ import annotations

from pathlib import Path

from psycopg.types.array import ListBinaryDumper
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from hub.state.upsert import Column


def make_engine(url: str, **kwargs: object) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)  # waits 30 s on a lock
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_engine(url, pool_pre_ping=True, **kwargs)
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
