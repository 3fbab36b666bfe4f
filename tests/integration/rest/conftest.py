"""The sandbox API on a free port, a CRM database (SQLite, then PostgreSQL) and a hub wired to both."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hub.app import Hub
from hub.connections import ConnectionResolver
from hub.runner import RunReport
from hub.settings import HubSettings, RetryPolicy
from hub.testing.databases import postgres_schema, schema_of
from sandbox.crm import create_schema
from sandbox.onec.world import CrmTables
from sandbox.rest_api import RestApi


@dataclass
class RestWorld:
    api: RestApi
    url: str
    crm: CrmTables
    hub: Hub
    mappings: Path

    def mapping(self, exchange: str, text: str) -> None:
        (self.mappings / f"{exchange}.yaml").write_text(text, encoding="utf-8")
        self.hub.__dict__.pop("_loaded", None)

    def run(self, exchange: str) -> RunReport:
        return self.hub.run(exchange, triggered_by="test")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def crm_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str | None]]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'crm.db'}", None
        return
    with postgres_schema("hub_rest") as url:
        yield url, schema_of(url)


@pytest.fixture
def api(request: pytest.FixtureRequest) -> RestApi:
    """The sandbox API; a test sets its auth style or token life with indirect parametrization."""
    return RestApi(**getattr(request, "param", {}))


@pytest.fixture
def world(api: RestApi, crm_database: tuple[str, str | None], tmp_path: Path) -> Iterator[RestWorld]:
    url, schema = crm_database
    create_schema(url, db_schema=schema)
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    with api.serve() as base_url:
        crm = {"conn_type": "hub_crm_db", "extra": {"url": url, **({"db_schema": schema} if schema else {})}}
        env = {"AIRFLOW_CONN_CRM": json.dumps(crm), "AIRFLOW_CONN_SHOP": json.dumps(api.connection(base_url))}
        settings = HubSettings(home=tmp_path / "hub", database_url=f"sqlite:///{tmp_path / 'hub.db'}",
                               mappings_dir=mappings, batch_size=50,
                               retry=RetryPolicy(attempts=4, initial_wait=0.01, max_wait=0.05))
        hub = Hub(settings, ConnectionResolver(env=env))
        tables = CrmTables(url, schema)
        try:
            yield RestWorld(api, base_url, tables, hub, mappings)
        finally:
            tables.close()
            hub.close()
