"""A fresh simulated 1C (real HTTP on an ephemeral port), a CRM database and a hub with the shipped mappings,
per test. The CRM is SQLite by default; ``pg_world`` puts it in a throwaway schema of the real PostgreSQL;
``any_world`` runs a test on both.
``sim`` is the simulator alone (its reference data seeded), for the connector tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.testing.databases import postgres_schema, schema_of
from sandbox.onec import OneCSimulator, seed_reference
from sandbox.onec.world import OneCWorld, onec_world


@pytest.fixture
def world(tmp_path: Path) -> Iterator[OneCWorld]:
    with onec_world(tmp_path, f"sqlite:///{tmp_path / 'crm.db'}") as opened:
        yield opened


@pytest.fixture
def pg_world(tmp_path: Path) -> Iterator[OneCWorld]:
    with postgres_schema("hub_onec") as url:
        schema = schema_of(url)
        with onec_world(tmp_path, url, db_schema=schema) as opened:
            yield opened


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def crm_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str | None]]:
    """A CRM database URL and schema: a SQLite file, then a throwaway schema of the real PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'crm.db'}", None
        return
    with postgres_schema("hub_onec") as url:
        yield url, schema_of(url)


@pytest.fixture
def any_world(crm_database: tuple[str, str | None], tmp_path: Path) -> Iterator[OneCWorld]:
    """The same world with the CRM in SQLite, then in PostgreSQL: a rule must hold on both."""
    url, schema = crm_database
    with onec_world(tmp_path / "world", url, db_schema=schema) as opened:
        yield opened


@pytest.fixture
def sim() -> Iterator[OneCSimulator]:
    simulator = OneCSimulator()
    seed_reference(simulator.store)
    with simulator.start():
        yield simulator
