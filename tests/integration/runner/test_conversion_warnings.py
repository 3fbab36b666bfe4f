"""Nothing is dropped silently: through `hub plan` / `hub run` on a CRM database (SQLite and the real
PostgreSQL), a value a conversion empties (a phone that is not one) or cuts (``truncate``) is a warning with the
record's key and the field; where the mapping requires it, or the target cannot take it empty, the record goes
to dead letters saying what was typed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from hub.cli import app
from hub.state.store import StateStore
from hub.testing.databases import firebird_database, mariadb_database, postgres_schema

MAPPING = """\
exchange: contacts_copy
description: CRM contacts copied into a directory
schedule: "@hourly"
source: {connector: crm_db, connection: crm, stream: contacts, key: id}
target: {connector: crm_db, connection: crm, entity: directory, match: [source_id], mode: upsert}
fields:
  source_id: id
  name: truncate(name, 10)
  phone: phone(phone)
  mobile: require(phone(mobile), 'no mobile number')
  fax: phone(fax)
"""
GOOD = "+7 916 123-45-67"
CONTACTS = [
    (1, "Anna", "12", GOOD, GOOD),  # phone: not a phone number, the contact crosses without it
    (2, "Konstantin Konstantinopolsky", GOOD, GOOD, GOOD),  # name cut to 10 characters
    (3, "Boris", GOOD, GOOD, GOOD),
    (4, "Vera", GOOD, "12", GOOD),  # the mapping requires a mobile
    (5, "Gleb", GOOD, GOOD, "abc"),  # the directory's fax column is NOT NULL
]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres),
                        pytest.param("mariadb", marks=pytest.mark.mariadb),
                        pytest.param("firebird", marks=pytest.mark.firebird)])
def crm(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'crm.db'}"
        return
    databases = {"postgres": postgres_schema, "mariadb": mariadb_database, "firebird": firebird_database}
    with databases[request.param]("hub_warnings") as url:
        yield url


@pytest.fixture
def hub_env(tmp_path: Path, crm: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    engine = sa.create_engine(crm)
    meta = sa.MetaData()
    contacts = sa.Table("contacts", meta, sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
                        *(sa.Column(name, sa.String(40)) for name in ("name", "phone", "mobile", "fax")))
    sa.Table("directory", meta, sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
             sa.Column("source_id", sa.Integer), sa.Column("name", sa.String(10)), sa.Column("phone", sa.String(16)),
             sa.Column("mobile", sa.String(16)), sa.Column("fax", sa.String(16), nullable=False))
    meta.create_all(engine)
    with engine.begin() as c:
        c.execute(contacts.insert(), [dict(zip(("id", "name", "phone", "mobile", "fax"), row, strict=True))
                                      for row in CONTACTS])
    engine.dispose()
    (tmp_path / "contacts_copy.yaml").write_text(MAPPING, encoding="utf-8")
    monkeypatch.setenv("HUB_MAPPINGS_DIR", str(tmp_path))
    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite:///{tmp_path / 'hub.db'}")
    monkeypatch.setenv("AIRFLOW_CONN_CRM", json.dumps({"conn_type": "hub_crm_db", "extra": {"url": crm}}))
    monkeypatch.setenv("COLUMNS", "250")
    yield f"sqlite:///{tmp_path / 'hub.db'}"


def hub(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout  # the logs went to stderr


def test_emptied_and_cut_values_are_warnings_with_key_and_field(hub_env: str, crm: str) -> None:
    plan = hub("plan", "contacts_copy")
    assert "? warning 1: field phone: not a phone number" in plan
    assert "? warning 2: field name: cut from 28 to 10 characters" in plan
    assert "; warnings 2 (1.phone: not a phone number, 2.name: cut from 28 to 10 characters)" in plan

    summary: dict[str, Any] = json.loads(hub("run", "contacts_copy", "--json"))
    assert (summary["created"], summary["rejected"], summary["warnings"]) == (3, 2, 2)
    assert summary["warning_samples"] == [
        {"source_key": "1", "field": "phone", "problem": "not a phone number"},
        {"source_key": "2", "field": "name", "problem": "cut from 28 to 10 characters"}]
    engine = sa.create_engine(crm)
    with engine.connect() as c:
        crossed = {row[0]: row[1:] for row in c.execute(sa.text("SELECT source_id, name, phone FROM directory"))}
    engine.dispose()
    assert crossed[1] == ("Anna", None) and crossed[2] == ("Konstantin", "+79161234567")

    store = StateStore(hub_env)
    letters = {letter.source_key: letter.message for letter in store.dead_letters("contacts_copy")}
    [run] = [r for r in store.runs("contacts_copy") if r.mode == "apply"]
    store.close()
    assert run.warnings == 2
    assert letters["4"] == "field 'mobile': '12' is not a phone number (no mobile number)"
    assert letters["5"].startswith("field 'fax': 'abc' is not a phone number; the target refused what was left: ")
