"""A folder of files, a CRM database (SQLite, then a throwaway PostgreSQL schema) and a hub wired to both with
the recipe's mappings (mappings/examples) plus any a test writes."""

from __future__ import annotations

import json
import shutil
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

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "mappings" / "examples"
SAMPLES = ROOT / "sandbox" / "files"


@dataclass
class FilesWorld:
    folder: Path  # the import folder (connection legacy_files)
    mappings: Path
    crm: CrmTables
    hub: Hub
    env: dict[str, str]  # AIRFLOW_CONN_* of the world, for the `hub` executable

    def run(self, exchange: str) -> RunReport:
        return self.hub.run(exchange, triggered_by="test")

    def plan(self, exchange: str) -> RunReport:
        return self.hub.plan(exchange, triggered_by="test")

    def letters(self, exchange: str) -> dict[str, str]:
        return {letter.source_key: letter.message for letter in
                self.hub.store.dead_letters(exchange, status="open", limit=1000)}

    def mapping(self, text: str) -> None:
        exchange = next(line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("exchange:"))
        (self.mappings / f"{exchange}.yaml").write_text(text, encoding="utf-8")
        self.hub.__dict__.pop("_loaded", None)  # the hub reads its mappings once: read them again


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def crm_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str | None]]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'crm.db'}", None
        return
    with postgres_schema("hub_files") as url:
        yield url, schema_of(url)


@pytest.fixture
def world(crm_database: tuple[str, str | None], tmp_path: Path) -> Iterator[FilesWorld]:
    url, schema = crm_database
    create_schema(url, db_schema=schema)
    folder = tmp_path / "import"
    shutil.copytree(SAMPLES, folder)
    mappings = tmp_path / "mappings"
    shutil.copytree(EXAMPLES, mappings)
    crm = {"conn_type": "hub_crm_db", "extra": {"url": url, **({"db_schema": schema} if schema else {})}}
    env = {"AIRFLOW_CONN_CRM": json.dumps(crm),
           "AIRFLOW_CONN_LEGACY_FILES": json.dumps({"conn_type": "hub_files", "extra": {"path": str(folder)}})}
    settings = HubSettings(home=tmp_path / "hub", database_url=f"sqlite:///{tmp_path / 'hub.db'}",
                           mappings_dir=mappings, batch_size=50,
                           retry=RetryPolicy(attempts=3, initial_wait=0.01, max_wait=0.05))
    hub = Hub(settings, ConnectionResolver(env=env))
    tables = CrmTables(url, schema)
    try:
        yield FilesWorld(folder, mappings, tables, hub, env)
    finally:
        tables.close()
        hub.close()
