"""Shared helpers of the crm_db tests (a module, not conftest, so test modules can import its names)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from connectors.crm_db import CrmDbConnector
from connectors.crm_db.engine import normalize_url
from hub.connections import Connection
from hub.settings import HubSettings
from sandbox.crm import seed

SETTINGS = HubSettings(timezone="Europe/Moscow")
#: the ``statements`` fixture: start recording a connector's SQL as ``(statement, parameters)``
Statements = Callable[[CrmDbConnector], list[tuple[str, Any]]]
SEED_CLIENTS = 40
_tables = itertools.count(1)


@dataclass
class Backend:
    """One database the connector is tested against."""

    name: str  # sqlite | postgres | mariadb | firebird
    url: str  # SQLAlchemy URL (with the session schema / database)
    db_schema: str | None = None  # PostgreSQL: the session schema (also on the URL's search_path)
    _engine: sa.Engine | None = None
    _seeded: dict[str, int] | None = None
    opened: list[CrmDbConnector] = field(default_factory=list)

    @property
    def engine(self) -> sa.Engine:
        """An engine of the test itself, to set up and inspect tables independently of the connector."""
        if self._engine is None:
            self._engine = sa.create_engine(normalize_url(self.url))
        return self._engine

    def connection(self, **extra: Any) -> Connection:
        return Connection(conn_id="crm", conn_type="crm_db", extra={"url": self.url, **extra})

    def connector(self, **extra: Any) -> CrmDbConnector:
        connector = CrmDbConnector(self.connection(**extra), SETTINGS)
        self.opened.append(connector)
        return connector

    def table_name(self, prefix: str) -> str:
        """A table name unused in this session (tests never share a table they write to)."""
        return f"{prefix}_{next(_tables)}"

    def create(self, *tables: sa.Table, rows: dict[str, list[dict[str, Any]]] | None = None) -> None:
        metadata = tables[0].metadata
        with self.engine.begin() as conn:
            metadata.create_all(conn, tables=list(tables))
        with self.engine.begin() as conn:  # Firebird knows a new table only once its DDL is committed
            for table in tables:
                if rows and rows.get(table.name):
                    conn.execute(table.insert(), rows[table.name])

    def seeded_crm(self) -> dict[str, int]:
        """The reference CRM schema with demo data, created once per session and backend."""
        if self._seeded is None:
            self._seeded = seed(self.url, clients=SEED_CLIENTS, seed=42)
        return self._seeded

    def close(self) -> None:
        for connector in self.opened:
            connector.close()
        if self._engine is not None:
            self._engine.dispose()
