"""The in-memory connector the runner's tests stand on passes the standard connector tests itself, so that what
those tests show about the runner is not an artefact of a lenient test double."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from hub.connections import Connection
from hub.connector import Connector
from hub.mapping.model import Incremental
from hub.settings import HubSettings
from hub.testing.connector_kit import ChangesKit, ConnectorKit, StreamCase, StreamChange, TargetCase
from hub.testing.memory import DATABASES, MemoryConnector, MemoryDatabase, database

ROWS = [{"id": n, "name": f"Клиент {n}", "changed": n // 3} for n in range(1, 12)]
_names = itertools.count()


class TestMemoryConnector(ConnectorKit, ChangesKit):
    @pytest.fixture
    def db(self) -> Iterator[MemoryDatabase]:
        name = f"kit{next(_names)}"
        db = database(name)
        db.tables["clients"] = [dict(row) for row in ROWS]
        db.tables["companies"] = []
        db.faults.reject = lambda record: "no name" if not record.get("name") else None
        self.name = name
        yield db
        DATABASES.pop(name, None)

    @pytest.fixture
    def connector_factory(self, db: MemoryDatabase) -> Callable[[], Connector]:
        return lambda: MemoryConnector(Connection(conn_id="mem", host=self.name), HubSettings())

    @pytest.fixture(params=["hash", "cursor"])
    def stream_case(self, request: pytest.FixtureRequest, db: MemoryDatabase) -> StreamCase:
        incremental = Incremental(strategy="cursor", cursor="changed") if request.param == "cursor" else \
            Incremental(strategy="hash")
        return StreamCase("clients", key=("id",), rows=ROWS, incremental=incremental)

    @pytest.fixture
    def stream_change(self, db: MemoryDatabase) -> StreamChange:
        def change() -> list[dict[str, Any]]:
            db.tables["clients"][4].update(name="Клиент 5 (изм.)", changed=100)
            db.tables["clients"].append({"id": 50, "name": "Клиент 50", "changed": 100})
            return [{"id": 5, "name": "Клиент 5 (изм.)"}, {"id": 50, "name": "Клиент 50"}]

        return change

    @pytest.fixture
    def target_case(self, db: MemoryDatabase) -> TargetCase:
        return TargetCase("companies", match=("inn",), make_record=lambda n: {"name": f"ООО {n}", "inn": str(n)},
                          update_field="name", update_value=lambda n: f"АО {n}",
                          make_bad_record=lambda n: {"name": "", "inn": str(n)})
