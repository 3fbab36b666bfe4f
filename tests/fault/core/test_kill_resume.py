"""A run killed with SIGKILL in the middle, then run again, leaves exactly the rows an uninterrupted run
leaves: no duplicates (the target table has no unique constraint to hide them) and no gaps. The target is a
SQLite file, and a database of the real Firebird (the CRM database of many Russian desktop programs)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from connectors.crm_db.engine import normalize_url
from hub.app import Hub
from hub.connections import ConnectionResolver
from hub.settings import HubSettings
from hub.testing.databases import firebird_database, postgres_schema

ROWS = 12_000
MAPPING = """\
exchange: clients_replica
description: copy CRM clients into a reporting replica
schedule: "@hourly"
source:
  connector: crm_db
  connection: src
  stream: clients
  key: id
  incremental: {strategy: cursor, cursor: updated_at}
target:
  connector: crm_db
  connection: dst
  entity: replica
  match: [source_id]
  mode: upsert
fields:
  source_id: id
  name: upper(trim(name))
  inn: inn
  phone: phone(phone)
  balance: round_money(balance)
"""


def make_source(path: Path, rows: int = ROWS) -> None:
    engine = sa.create_engine(f"sqlite:///{path}")
    meta = sa.MetaData()
    clients = sa.Table("clients", meta, sa.Column("id", sa.Integer, primary_key=True),
                       sa.Column("name", sa.String(100)), sa.Column("inn", sa.String(12)),
                       sa.Column("phone", sa.String(32)),
                       sa.Column("balance", sa.Numeric(12, 2)), sa.Column("updated_at", sa.Integer))
    meta.create_all(engine)
    with engine.begin() as c:
        c.execute(clients.insert(), [
            {"id": i, "name": f" client {i} ", "inn": f"77{i:08d}", "phone": f"8 916 {i % 1000:03d}-{i % 100:02d}-00",
             "balance": Decimal(i) / 7, "updated_at": i // 3}
            for i in range(1, rows + 1)])
    engine.dispose()


def make_target(url: str, unique_match: bool = False) -> None:
    engine = sa.create_engine(normalize_url(url))
    meta = sa.MetaData()
    sa.Table("replica", meta, sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
             sa.Column("source_id", sa.Integer, nullable=False, unique=unique_match), sa.Column("name", sa.String(100)),
             sa.Column("inn", sa.String(12)), sa.Column("phone", sa.String(16)),
             sa.Column("balance", sa.Numeric(12, 2)))
    meta.create_all(engine)
    engine.dispose()


def environment(tmp: Path, name: str, source: Path, target: str, unique_match: bool = False,
                hub_url: str | None = None) -> dict[str, str]:
    mappings = tmp / "mappings"
    mappings.mkdir(exist_ok=True)
    (mappings / "clients_replica.yaml").write_text(MAPPING, encoding="utf-8")
    make_target(target, unique_match)
    return {**os.environ, "HUB_MAPPINGS_DIR": str(mappings),
            "HUB_DATABASE_URL": hub_url or f"sqlite:///{tmp / name}-hub.db",
            "HUB_BATCH_SIZE": "150",
            "AIRFLOW_CONN_SRC": json.dumps({"conn_type": "hub_crm_db", "extra": {"url": f"sqlite:///{source}"}}),
            "AIRFLOW_CONN_DST": json.dumps({"conn_type": "hub_crm_db", "extra": {"url": target}})}


def run_uninterrupted(env: dict[str, str]) -> None:
    """The reference: one whole run, in this process (the same code as `hub run`, without its start-up)."""
    with Hub(HubSettings.from_env(env), ConnectionResolver(env=env)) as hub:
        assert hub.run("clients_replica").status == "success"


def hub_run(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "hub.cli", "run", "clients_replica"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def target_rows(env: dict[str, str]) -> list[tuple]:
    url = json.loads(env["AIRFLOW_CONN_DST"])["extra"]["url"]
    engine = sa.create_engine(normalize_url(url))
    with engine.connect() as c:
        rows = c.execute(sa.text("SELECT source_id, name, inn, phone, balance FROM replica ORDER BY source_id, id"))
        result = [tuple(r) for r in rows]
    engine.dispose()
    return result


def kill_when_rows_between(process: subprocess.Popen[bytes], env: dict[str, str], low: int, high: int) -> int:
    url = json.loads(env["AIRFLOW_CONN_DST"])["extra"]["url"]
    engine = sa.create_engine(normalize_url(url))
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            with engine.connect() as c:
                count = c.execute(sa.text("SELECT count(*) FROM replica")).scalar_one()
            if count >= low or process.poll() is not None:
                process.send_signal(signal.SIGKILL)
                process.communicate()  # reaps it and closes its pipes
                assert count < high, f"the run finished before it could be killed ({count} rows)"
                return count
            time.sleep(0.01)
    finally:
        engine.dispose()
    raise AssertionError("the run wrote nothing within 120 s")


@pytest.fixture(params=["sqlite", pytest.param("firebird", marks=pytest.mark.firebird)])
def targets(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The URLs of two empty target databases: the reference run's and the interrupted one's."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'reference.db'}", f"sqlite:///{tmp_path / 'interrupted.db'}"
    else:
        with firebird_database("kill_reference") as reference, firebird_database("kill_interrupted") as interrupted:
            yield reference, interrupted


# without a unique key the ledger's pending intents and the target lookup prevent duplicates; with one, the
# native upsert is idempotent too (an interrupted write is simply repeated; only creates keep a ledger entry)
@pytest.mark.parametrize("unique_match", [False, True], ids=["plain insert", "idempotent upsert"])
def test_sigkill_mid_run_then_rerun_equals_an_uninterrupted_run(tmp_path: Path, targets: tuple[str, str],
                                                                unique_match: bool) -> None:
    kill_three_times_then_resume(tmp_path, targets, unique_match)


# the hub state in PostgreSQL, as in production (its record log goes by COPY inside the batch's transaction)
@pytest.mark.postgres
@pytest.mark.parametrize("unique_match", [False, True], ids=["plain insert", "idempotent upsert"])
def test_sigkill_with_the_state_in_postgresql(tmp_path: Path, unique_match: bool) -> None:
    targets = f"sqlite:///{tmp_path / 'reference.db'}", f"sqlite:///{tmp_path / 'interrupted.db'}"
    with postgres_schema("kill_state") as reference_state, postgres_schema("kill_state") as interrupted_state:
        kill_three_times_then_resume(tmp_path, targets, unique_match, (reference_state, interrupted_state))


def kill_three_times_then_resume(tmp_path: Path, targets: tuple[str, str], unique_match: bool,
                                 hub_urls: tuple[str | None, str | None] = (None, None)) -> None:
    source = tmp_path / "crm.db"
    make_source(source)

    reference = environment(tmp_path, "reference", source, targets[0], hub_url=hub_urls[0])
    run_uninterrupted(reference)
    expected = target_rows(reference)
    assert len(expected) == ROWS

    interrupted = environment(tmp_path, "interrupted", source, targets[1], unique_match, hub_urls[1])
    killed_at = [kill_when_rows_between(hub_run(interrupted), interrupted, low, ROWS)
                 for low in (1, ROWS // 3, (2 * ROWS) // 3)]
    assert killed_at == sorted(killed_at) and killed_at[-1] < ROWS, killed_at
    resumed = hub_run(interrupted)
    _, errors = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, errors.decode()

    assert target_rows(interrupted) == expected
    hub_db = sa.create_engine(interrupted["HUB_DATABASE_URL"])
    with hub_db.connect() as c:  # the resumed run settled every write the kills left unknown
        assert c.execute(sa.text("SELECT count(*) FROM hub_effect_ledger WHERE status = 'pending'")).scalar_one() == 0
    hub_db.dispose()
