"""A run killed between a target write and its state commit leaves pending ledger entries and no state for
those records. The next runs settle them by looking the objects up, so a record deleted at the source
meanwhile is still deleted in the target: after two runs the target equals the source and nothing in the
ledger is pending. CRM database to CRM database, on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from hub.state.store import StateStore
from hub.testing.databases import postgres_schema

ROOT = Path(__file__).resolve().parents[3]
KILLER = Path(__file__).with_name("kill_after_write.py")
ROWS, BATCH = 30, 10
MAPPING = """\
exchange: replica
description: copy CRM clients into a reporting replica
schedule: "@hourly"
source:
  connector: crm_db
  connection: src
  stream: clients
  key: id
  incremental: {strategy: hash, detect_deletes: true}
target:
  connector: CONNECTOR
  connection: dst
  entity: replica
  match: [source_id]
  mode: upsert
  on_delete: delete
fields:
  source_id: id
  name: trim(name)
"""


@dataclass
class Systems:
    crm_url: str  # source and target tables
    hub_url: str  # the hub's own state
    unique_match: bool = False  # the target has a unique index on the match column (an upsert cannot duplicate)


@pytest.fixture(params=["sqlite", "sqlite-unique-match", pytest.param("postgres", marks=pytest.mark.postgres),
                        pytest.param("postgres-unique-match", marks=pytest.mark.postgres)])
def systems(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Systems]:
    unique_match = request.param.endswith("unique-match")  # the batch's creates share one ledger entry
    if request.param.startswith("sqlite"):
        yield Systems(f"sqlite:///{tmp_path / 'crm.db'}", f"sqlite:///{tmp_path / 'hub.db'}", unique_match)
        return
    with postgres_schema("hub_settle_crm") as crm, postgres_schema("hub_settle_state") as state:
        yield Systems(crm, state, unique_match)


def make_tables(url: str, unique_match: bool) -> None:
    engine = sa.create_engine(url)
    meta = sa.MetaData()
    clients = sa.Table("clients", meta, sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
                       sa.Column("name", sa.String(100)))
    replica = sa.Table("replica", meta, sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                       sa.Column("source_id", sa.Integer, nullable=False), sa.Column("name", sa.String(100)))
    if unique_match:
        sa.Index("ux_replica_source_id", replica.c.source_id, unique=True)
    meta.create_all(engine)
    with engine.begin() as c:
        c.execute(clients.insert(), [{"id": i, "name": f" client {i} "} for i in range(1, ROWS + 1)])
    engine.dispose()


def environment(tmp: Path, systems: Systems, connector: str) -> dict[str, str]:
    mappings = tmp / connector
    mappings.mkdir(exist_ok=True)
    (mappings / "replica.yaml").write_text(MAPPING.replace("CONNECTOR", connector), encoding="utf-8")
    crm = json.dumps({"conn_type": "hub_crm_db", "extra": {"url": systems.crm_url}})
    return {**os.environ, "PYTHONPATH": str(ROOT), "HUB_MAPPINGS_DIR": str(mappings),
            "HUB_DATABASE_URL": systems.hub_url, "HUB_BATCH_SIZE": str(BATCH),
            "AIRFLOW_CONN_SRC": crm, "AIRFLOW_CONN_DST": crm}


def hub(env: dict[str, str], *args: str, script: Path | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(script)] if script else [sys.executable, "-m", "hub.cli"]
    return subprocess.run([*command, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)


def query(url: str, sql: str) -> list[tuple]:
    engine = sa.create_engine(url)
    with engine.begin() as c:
        result = c.execute(sa.text(sql))
        rows = [tuple(r) for r in result] if result.returns_rows else []
    engine.dispose()
    return rows


def unknown_writes(url: str) -> int:
    store = StateStore(url)
    try:
        return store.unknown_effects("replica").get("replica", 0)
    finally:
        store.close()


def test_a_write_whose_state_commit_was_killed_is_settled_and_a_later_deletion_reaches_it(
        tmp_path: Path, systems: Systems) -> None:
    make_tables(systems.crm_url, systems.unique_match)

    # the second batch (clients 11-20) lands in the target, then the run is killed before committing its state
    killed = hub({**environment(tmp_path, systems, "crm_db_killed"), "HUB_TEST_KILL_AFTER_WRITES": "2"},
                 "run", "replica", script=KILLER)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert query(systems.crm_url, "SELECT count(*) FROM replica") == [(2 * BATCH,)]
    assert unknown_writes(systems.hub_url) == BATCH

    # meanwhile at the source: a client of the interrupted batch is deleted, another one renamed
    query(systems.crm_url, "DELETE FROM clients WHERE id = 15")
    query(systems.crm_url, "UPDATE clients SET name = 'renamed' WHERE id = 12")

    env = environment(tmp_path, systems, "crm_db")
    first = hub(env, "run", "replica", "--json")
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert (summary["ledger_settled"], summary["ledger_unknown"]) == (BATCH, 0)
    second = hub(env, "run", "replica", "--json")
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["deleted"] == 1

    source = query(systems.crm_url, "SELECT id, trim(name) FROM clients ORDER BY id")
    target = query(systems.crm_url, "SELECT source_id, name FROM replica ORDER BY source_id, id")
    assert target == source and len(target) == ROWS - 1
    assert unknown_writes(systems.hub_url) == 0
    runs = hub(env, "runs", "replica")
    assert "replica: 0 write(s) with unknown outcome in the effect ledger" in runs.stdout, runs.stdout
