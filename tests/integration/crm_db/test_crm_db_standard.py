"""The standard connector tests (hub.testing.connector_kit) for crm_db on SQLite, PostgreSQL and MariaDB.

Three streams: a hash sweep over an integer key, a cursor read whose cursor values tie across batch
boundaries, and a hash sweep over a two-column key.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from connectors.crm_db import CrmDbConnector
from hub.connections import Connection
from hub.mapping.model import Incremental
from hub.testing.connector_kit import ChangesKit, ConnectorKit, ErrorKit, StreamCase, StreamChange, TargetCase
from hub.testing.network import free_port

from .support import SETTINGS, Backend

ORDER_ROWS = [
    {
        "id": n,
        "number": f"ЗК-{n:04d}",
        "amount": Decimal(n * 125) / 10,
        "placed_on": date(2025, 1, 1) + timedelta(days=n),
        "updated_at": datetime(2025, 2, 1, 12, 0) + timedelta(hours=n // 4),  # four rows share each value
        "paid": n % 3 == 0,
    }
    for n in range(1, 24)
]
LINE_ROWS = [
    {"region": region, "number": number, "qty": number * 2}
    for region in ("spb", "ekb", "msk")
    for number in (7, 1, 4, 2, 9, 3)
]


def _orders(metadata: sa.MetaData, name: str) -> sa.Table:
    return sa.Table(
        name, metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("number", sa.String(20), nullable=False),
        sa.Column("amount", sa.Numeric(12, 2), nullable=False),
        sa.Column("placed_on", sa.Date),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("paid", sa.Boolean, nullable=False),
    )


def _lines(metadata: sa.MetaData, name: str) -> sa.Table:
    return sa.Table(
        name, metadata,
        sa.Column("region", sa.String(10), primary_key=True),
        sa.Column("number", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("qty", sa.Integer, nullable=False),
    )


def _payments(metadata: sa.MetaData, name: str) -> sa.Table:
    return sa.Table(
        name, metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("external_ref", sa.String(40), nullable=False, unique=True),
        sa.Column("amount", sa.Numeric(12, 2), nullable=False),
        sa.Column("paid_on", sa.Date),
        sa.Column("payer", sa.String(100)),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("received_at", sa.DateTime),
        sa.CheckConstraint("amount >= 0", name=f"ck_{name}_amount"),
    )


_tables: dict[tuple[str, str], str] = {}


def _table_once(backend: Backend, kind: str, build: Callable[[sa.MetaData, str], sa.Table],
                rows: list[dict[str, Any]] | None = None) -> str:
    """Create a kit table once per backend and session (the stream tables are only read)."""
    if (backend.name, kind) not in _tables:
        name = backend.table_name(f"kit_{kind}")
        table = build(sa.MetaData(), name)
        backend.create(table, rows={name: rows or []})
        _tables[(backend.name, kind)] = name
    return _tables[(backend.name, kind)]


class TestCrmDbStandard(ConnectorKit):
    @pytest.fixture
    def connector_factory(self, backend: Backend) -> Callable[[], CrmDbConnector]:
        return backend.connector

    @pytest.fixture(params=["hash", "cursor", "composite_key"])
    def stream_case(self, request: pytest.FixtureRequest, backend: Backend) -> StreamCase:
        if request.param == "composite_key":
            name = _table_once(backend, "lines", _lines, LINE_ROWS)
            return StreamCase(name, key=("region", "number"), rows=LINE_ROWS, batch_size=4)
        name = _table_once(backend, "orders", _orders, ORDER_ROWS)
        if request.param == "cursor":
            return StreamCase(name, key=("id",), rows=ORDER_ROWS, batch_size=5,
                              incremental=Incremental(strategy="cursor", cursor="updated_at"),
                              select=frozenset({"amount", "paid"}))
        return StreamCase(name, key=("id",), rows=ORDER_ROWS, select=frozenset({"number"}))

    @pytest.fixture
    def target_case(self, backend: Backend) -> TargetCase:
        name = _table_once(backend, "payments", _payments)

        def record(n: int) -> dict[str, Any]:
            return {"external_ref": f"1C-{n}", "amount": f"{n % 100000}.5", "paid_on": "2025-03-01",
                    "payer": "ООО «Ромашка»", "status": "new", "received_at": "2025-03-01T10:15:30.123456+03:00"}

        return TargetCase(
            entity=name, match=("external_ref",), make_record=record,
            update_field="status", update_value=lambda n: "paid",
            make_bad_record=lambda n: {**record(n), "amount": "-1"},  # refused by the CHECK constraint
        )


class TestCrmDbChanges(ChangesKit):
    """Rows edited and added between two runs, read by a hash sweep and by a cursor (a fresh table each)."""

    @pytest.fixture
    def connector_factory(self, backend: Backend) -> Callable[[], CrmDbConnector]:
        return backend.connector

    @pytest.fixture
    def orders(self, backend: Backend) -> sa.Table:
        table = _orders(sa.MetaData(), backend.table_name("kit_changes"))
        backend.create(table, rows={table.name: ORDER_ROWS})
        return table

    @pytest.fixture(params=["hash", "cursor"])
    def stream_case(self, request: pytest.FixtureRequest, orders: sa.Table) -> StreamCase:
        incremental = Incremental(strategy="cursor", cursor="updated_at") if request.param == "cursor" else \
            Incremental(strategy="hash")
        return StreamCase(orders.name, key=("id",), rows=ORDER_ROWS, batch_size=5, incremental=incremental)

    @pytest.fixture
    def stream_change(self, backend: Backend, orders: sa.Table) -> StreamChange:
        later = datetime(2025, 3, 1, 9, 0)

        def change() -> list[dict[str, Any]]:
            with backend.engine.begin() as conn:
                conn.execute(orders.update().where(orders.c.id == 7).values(number="ЗК-0007-изм", updated_at=later))
                conn.execute(orders.insert(), [{**ORDER_ROWS[0], "id": 100, "number": "ЗК-0100", "updated_at": later}])
            return [{"id": 7, "number": "ЗК-0007-изм"}, {"id": 100, "number": "ЗК-0100"}]

        return change


@pytest.mark.parametrize("dialect", [pytest.param("postgresql", marks=pytest.mark.postgres),
                                     pytest.param("mariadb", marks=pytest.mark.mariadb)])
class TestCrmDbUnreachable(ErrorKit):
    """A database server that is away (a closed port) is retried, not reported as a mistake in the mapping."""

    @pytest.fixture
    def unreachable_factory(self, dialect: str) -> Callable[[], CrmDbConnector]:
        connection = Connection(conn_id="crm", conn_type="crm_db", host="127.0.0.1", port=free_port(),
                                login="hub", schema="crm", extra={"dialect": dialect, "connect_timeout": 2})
        return lambda: CrmDbConnector(connection, SETTINGS)
