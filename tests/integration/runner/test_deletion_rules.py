"""Leaving the scope is not a deletion. Through `hub plan` / `hub run` on a CRM database (SQLite and the real
PostgreSQL): a client whose only shipped deal was lost keeps its partner; a client deleted at the source has
its partner marked only if the hub created it and nothing in the target uses it; anything else waits in dead
letters for a person, and `hub plan` says why each deletion happens."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from connectors.crm_db import CrmDbConnector
from hub.cli import app
from hub.manifest import Manifest
from hub.state.store import StateStore
from hub.testing.databases import firebird_database, mariadb_database, postgres_schema
from hub.testing.memory import DATABASES, database
from hub.testing.plugins import registered

MAPPING = """\
exchange: partners
description: clients with a shipped deal become partners in the books
schedule: "@hourly"
source:
  connector: SOURCE
  connection: crm
  stream: clients
  key: id
  incremental: {strategy: hash, detect_deletes: true}
  options:
    exists: [{table: deals, "on": {client_id: id}, where: {stage: shipped}}]
target:
  connector: TARGET
  connection: books
  entity: partners
  match: [inn]
  mode: upsert
  on_delete: mark
  delete_fields: {archived: true}
fields:
  inn: inn
  name: trim(name)
"""


class BlindCrmDb(CrmDbConnector):
    """A source that cannot tell a deleted record from one that left the scope (as a connector may be)."""

    name: ClassVar[str] = "crm_db_blind"

    def source_keys_present(self, stream: str, key: tuple[str, ...], keys: Sequence[str],
                            options: Any) -> set[str] | None:
        return None


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres),
                        pytest.param("mariadb", marks=pytest.mark.mariadb),
                        pytest.param("firebird", marks=pytest.mark.firebird)])
def crm_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'crm.db'}"
        return
    databases = {"postgres": postgres_schema, "mariadb": mariadb_database, "firebird": firebird_database}
    with databases[request.param]("hub_deletions") as url:
        yield url


@pytest.fixture
def crm(crm_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(crm_url)
    meta = sa.MetaData()
    sa.Table("clients", meta, sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
             sa.Column("name", sa.String(100)), sa.Column("inn", sa.String(12)))
    sa.Table("deals", meta, sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
             sa.Column("client_id", sa.Integer), sa.Column("stage", sa.String(20)))
    sa.Table("partners", meta, sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
             sa.Column("inn", sa.String(12)), sa.Column("name", sa.String(100)),
             sa.Column("archived", sa.Boolean, nullable=False, server_default=sa.false()))
    meta.create_all(engine)
    with engine.begin() as c:
        for n in (1, 2, 3):
            c.execute(sa.text("INSERT INTO clients VALUES (:n, :name, :inn)"), {"n": n, "name": f" Client {n} ",
                                                                                "inn": f"770000000{n}"})
            c.execute(sa.text("INSERT INTO deals VALUES (:n, :n, 'shipped')"), {"n": n})
    yield engine
    engine.dispose()


@pytest.fixture
def hub_env(tmp_path: Path, crm_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("HUB_MAPPINGS_DIR", str(tmp_path))
    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite:///{tmp_path / 'hub.db'}")
    connection = json.dumps({"conn_type": "hub_crm_db", "extra": {"url": crm_url}})
    monkeypatch.setenv("AIRFLOW_CONN_CRM", connection)
    monkeypatch.setenv("AIRFLOW_CONN_BOOKS", connection)
    monkeypatch.setenv("COLUMNS", "250")
    yield tmp_path


def use_mapping(hub_env: Path, source: str = "crm_db", target: str = "crm_db") -> None:
    (hub_env / "partners.yaml").write_text(MAPPING.replace("SOURCE", source).replace("TARGET", target),
                                           encoding="utf-8")


def hub(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout  # the logs went to stderr


def run(exchange: str = "partners") -> dict[str, Any]:
    return json.loads(hub("run", exchange, "--json"))


def execute(engine: sa.Engine, sql: str) -> None:
    with engine.begin() as c:
        c.execute(sa.text(sql))


def partners(engine: sa.Engine) -> dict[str, bool]:
    with engine.connect() as c:
        return {inn: bool(archived) for inn, archived in c.execute(sa.text("SELECT inn, archived FROM partners"))}


def open_letters(hub_env: Path) -> list[tuple[str, str, str]]:
    store = StateStore(f"sqlite:///{hub_env / 'hub.db'}")
    try:
        return [(d.source_key, d.error_class, d.message) for d in store.dead_letters("partners")]
    finally:
        store.close()


def test_a_client_that_left_the_scope_is_kept_and_one_deleted_at_the_source_is_marked(
        crm: sa.Engine, hub_env: Path) -> None:
    use_mapping(hub_env)
    assert run()["created"] == 3
    execute(crm, "UPDATE deals SET stage = 'lost' WHERE client_id = 1")  # its only deal: out of the scope
    execute(crm, "DELETE FROM deals WHERE client_id = 2")
    execute(crm, "DELETE FROM clients WHERE id = 2")  # deleted at the source

    plan = hub("plan", "partners")
    assert "= keep 1" in plan and "no longer in the source's scope but still exists there" in plan
    assert "- delete 2 -> " in plan and "deleted at the source; created by the hub in run 1" in plan
    assert "- delete 1" not in plan

    applied = run()
    assert (applied["deleted"], applied["out_of_scope"], applied["rejected"]) == (1, 1, 0)
    assert partners(crm) == {"7700000001": False, "7700000002": True, "7700000003": False}
    assert run()["deleted"] == 0  # nothing is marked twice; client 1 is still kept
    store = StateStore(f"sqlite:///{hub_env / 'hub.db'}")
    assert [(r.mode, r.deleted, r.out_of_scope) for r in store.runs("partners")][:2] == [("apply", 0, 1),
                                                                                         ("apply", 1, 1)]
    store.close()

    execute(crm, "UPDATE deals SET stage = 'shipped' WHERE client_id = 1")  # back in the scope: still its partner
    execute(crm, "UPDATE clients SET name = 'Client One' WHERE id = 1")
    assert run()["updated"] == 1
    assert partners(crm)["7700000001"] is False and len(partners(crm)) == 3


def test_an_object_the_hub_did_not_create_is_never_marked(crm: sa.Engine, hub_env: Path) -> None:
    execute(crm, "INSERT INTO partners (inn, name, archived) VALUES ('7700000003', 'Entered by hand', false)")
    use_mapping(hub_env)
    assert (run()["created"], len(partners(crm))) == (2, 3)  # client 3 found its partner and took it
    execute(crm, "DELETE FROM clients WHERE id = 3")

    assert run()["rejected"] == 1
    assert partners(crm)["7700000003"] is False
    [(key, error, message)] = open_letters(hub_env)
    assert (key, error) == ("3", "NeedsPerson")
    assert message.startswith("needs a person: deleted at the source, but the hub did not create the target object")
    hub("dead-letters", "replay", "partners")  # a replay goes through the same rules: still not marked
    assert partners(crm)["7700000003"] is False and len(open_letters(hub_env)) == 1


def test_a_source_that_cannot_tell_deleted_from_out_of_scope_deletes_nothing(crm: sa.Engine, hub_env: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    with registered(Manifest(name="crm_db_blind", connectors={"crm_db_blind": BlindCrmDb})):
        use_mapping(hub_env, source="crm_db_blind")
        run()
        execute(crm, "UPDATE deals SET stage = 'lost' WHERE client_id = 1")

        assert (run()["deleted"], partners(crm)["7700000001"]) == (0, False)
        [(key, error, message)] = open_letters(hub_env)
        assert (key, error) == ("1", "NeedsPerson")
        assert "'crm_db_blind' cannot tell whether it was deleted or only left the scope" in message


def test_an_object_the_target_still_uses_is_never_marked(crm: sa.Engine, hub_env: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    books = f"books-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("AIRFLOW_CONN_BOOKS", f"memory://{books}")
    try:
        use_mapping(hub_env, target="memory")
        run()
        [partner] = [row for row in database(books).tables["partners"] if row["inn"] == "7700000002"]
        database(books).in_use["partners"] = {str(partner["id"]): "2 documents refer to it"}
        execute(crm, "DELETE FROM clients WHERE id = 2")

        assert run()["rejected"] == 1 and not partner.get("archived")
        [(_, error, message)] = open_letters(hub_env)
        assert error == "NeedsPerson" and "deleted at the source, but 2 documents refer to it" in message
    finally:
        DATABASES.pop(books, None)
