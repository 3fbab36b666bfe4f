"""Fixtures for the CRM database connector: one throwaway database per backend per session.

SQLite is a file in a temporary directory; PostgreSQL is a fresh schema, MariaDB a fresh database and Firebird a
fresh database file on the real local servers (``hub.testing.databases``), dropped at the end. A server that is
down makes its tests fail with the connection error, not skip.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from connectors.crm_db import CrmDbConnector
from hub.testing.databases import firebird_database, mariadb_database, postgres_schema, schema_of

from .support import Backend


@pytest.fixture(scope="session")
def sqlite_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    path: Path = tmp_path_factory.mktemp("crm_db") / "crm.db"
    backend = Backend("sqlite", f"sqlite:///{path}")
    yield backend
    backend.close()


@pytest.fixture(scope="session")
def postgres_backend() -> Iterator[Backend]:
    with postgres_schema("hub_crm") as url:
        schema = schema_of(url)
        backend = Backend("postgres", url, db_schema=schema)
        yield backend
        backend.close()


@pytest.fixture(scope="session")
def mariadb_backend() -> Iterator[Backend]:
    with mariadb_database("hub_crm") as url:
        backend = Backend("mariadb", url)
        yield backend
        backend.close()


@pytest.fixture(scope="session")
def firebird_backend() -> Iterator[Backend]:
    with firebird_database("hub_crm") as url:
        backend = Backend("firebird", url)
        yield backend
        backend.close()


BACKENDS = [
    pytest.param("sqlite"),
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("mariadb", marks=pytest.mark.mariadb),
    pytest.param("firebird", marks=pytest.mark.firebird),
]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each test using it runs on SQLite, the real PostgreSQL, MariaDB and Firebird."""
    return request.getfixturevalue(f"{request.param}_backend")  # type: ignore[no-any-return]


@pytest.fixture
def connector(backend: Backend) -> Iterator[CrmDbConnector]:
    with backend.connector() as opened:
        yield opened  # type: ignore[misc]


@pytest.fixture
def crm(backend: Backend) -> Backend:
    """A backend holding the seeded reference CRM."""
    backend.seeded_crm()
    return backend


@pytest.fixture
def statements() -> Callable[[CrmDbConnector], list[tuple[str, Any]]]:
    """Record what a connector sends: ``sql = statements(connector)``, then inspect ``(statement, parameters)``."""

    def capture(connector: CrmDbConnector) -> list[tuple[str, Any]]:
        captured: list[tuple[str, Any]] = []
        engine, _, _ = connector._connect()
        sa.event.listen(engine, "before_cursor_execute",
                        lambda _conn, _cursor, statement, parameters, *_rest: captured.append((statement, parameters)))
        return captured

    return capture
