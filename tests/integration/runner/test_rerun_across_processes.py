"""A second `hub run` in a NEW process, with nothing changed at the source, maps and writes nothing.

Each Python process has its own hash seed, which changes the iteration order of sets (e.g. of the field
names a mapping reads). Record hashes must not depend on it, or every new process sees every record as changed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from hub.testing.databases import mariadb_database, postgres_schema

ROWS = 300
MAPPING = """\
exchange: clients_copy
description: copy CRM clients into a replica
schedule: "@hourly"
source: {connector: crm_db, connection: src, stream: clients, key: id, incremental: {strategy: hash}}
target: {connector: crm_db, connection: dst, entity: replica, match: [source_id], mode: upsert}
fields:
  source_id: id
  name: trim(name)
  inn: inn
  kpp: default(kpp, '')
  email: email(email)
  city: lower(city)
  balance: round_money(balance)
  active: bool(active)
"""


def make_databases(source: str, target: str) -> None:
    meta = sa.MetaData()
    clients = sa.Table("clients", meta, sa.Column("id", sa.Integer, primary_key=True),
                       sa.Column("name", sa.String(100)), sa.Column("inn", sa.String(12)),
                       sa.Column("kpp", sa.String(9)), sa.Column("email", sa.String(100)),
                       sa.Column("city", sa.String(50)), sa.Column("balance", sa.Numeric(12, 2)),
                       sa.Column("active", sa.Integer))
    engine = sa.create_engine(source)
    meta.create_all(engine)
    with engine.begin() as c:
        c.execute(clients.insert(), [
            {"id": i, "name": f" Client {i} ", "inn": f"77{i:08d}", "kpp": "770101001" if i % 3 else None,
             "email": f"client{i}@example.ru", "city": "Москва", "balance": Decimal(i) / 7, "active": i % 2}
            for i in range(1, ROWS + 1)])
    engine.dispose()
    replica = sa.MetaData()
    sa.Table("replica", replica, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("source_id", sa.Integer, nullable=False, unique=True), sa.Column("name", sa.String(100)),
             sa.Column("inn", sa.String(12)), sa.Column("kpp", sa.String(9)), sa.Column("email", sa.String(100)),
             sa.Column("city", sa.String(50)), sa.Column("balance", sa.Numeric(12, 2)),
             sa.Column("active", sa.Boolean))
    engine = sa.create_engine(target)
    replica.create_all(engine)
    engine.dispose()


def hub_run(env: dict[str, str], seed: str) -> dict[str, int]:
    done = subprocess.run([sys.executable, "-m", "hub.cli", "run", "clients_copy", "--json"],
                          env={**env, "PYTHONHASHSEED": seed}, capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()
    return json.loads(done.stdout)


def snapshot(url: str, query: str) -> list[tuple]:
    engine = sa.create_engine(url)
    with engine.connect() as c:
        rows = [tuple(row) for row in c.execute(sa.text(query))]
    engine.dispose()
    return rows


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres),
                        pytest.param("mariadb", marks=pytest.mark.mariadb)])
def hub_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The hub's own database in each supported kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'hub.db'}"
    elif request.param == "postgres":
        with postgres_schema("hub_rerun") as url:
            yield url
    else:
        with mariadb_database("hub_rerun") as url:
            yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def crm(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The source and target CRM databases: SQLite files, or PostgreSQL schemas (whose reader fingerprints rows)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'crm.db'}", f"sqlite:///{tmp_path / 'replica.db'}"
        return
    with postgres_schema("hub_rerun_src") as source, postgres_schema("hub_rerun_dst") as target:
        yield source, target


def test_a_new_process_with_another_hash_seed_sees_nothing_changed(tmp_path: Path, hub_db: str,
                                                                   crm: tuple[str, str]) -> None:
    source, target = crm
    make_databases(source, target)
    (tmp_path / "mappings").mkdir()
    (tmp_path / "mappings" / "clients_copy.yaml").write_text(MAPPING, encoding="utf-8")
    env = {**os.environ, "HUB_MAPPINGS_DIR": str(tmp_path / "mappings"), "HUB_DATABASE_URL": hub_db,
           "HUB_BATCH_SIZE": "100",
           "AIRFLOW_CONN_SRC": json.dumps({"conn_type": "hub_crm_db", "extra": {"url": source}}),
           "AIRFLOW_CONN_DST": json.dumps({"conn_type": "hub_crm_db", "extra": {"url": target}})}
    state_query = "SELECT source_key, content_hash, source_hash, updated_at FROM hub_record_state ORDER BY source_key"

    first = hub_run(env, seed="1")
    assert first["created"] == ROWS, json.dumps(first)
    # the target's upsert on the unique source_id cannot duplicate: each create's ledger intent covered only the
    # write in flight and is gone once committed; the record log says who created each object
    assert snapshot(hub_db, "SELECT count(*) FROM hub_effect_ledger") == [(0,)]
    assert snapshot(hub_db, "SELECT count(*) FROM hub_record_log WHERE action = 'created'") == [(ROWS,)]
    state_after_first = snapshot(hub_db, state_query)
    target_after_first = snapshot(target, "SELECT * FROM replica ORDER BY id")

    second = hub_run(env, seed="2")
    assert (second["read"], second["unchanged"], second["created"], second["updated"]) == (ROWS, ROWS, 0, 0)
    # the records were skipped by their source hash: not mapped, so not one state row was rewritten
    assert snapshot(hub_db, state_query) == state_after_first
    assert snapshot(target, "SELECT * FROM replica ORDER BY id") == target_after_first
    assert snapshot(hub_db, "SELECT count(*) FROM hub_record_log") == [(ROWS,)]

    # one client renamed at the source: exactly that one crosses again
    engine = sa.create_engine(source)
    with engine.begin() as c:
        c.execute(sa.text("UPDATE clients SET name = ' Renamed ' WHERE id = 5"))
    engine.dispose()
    third = hub_run(env, seed="3")
    assert (third["unchanged"], third["updated"], third["created"]) == (ROWS - 1, 1, 0)
    assert snapshot(target, "SELECT name FROM replica WHERE source_id = 5") == [("Renamed",)]
