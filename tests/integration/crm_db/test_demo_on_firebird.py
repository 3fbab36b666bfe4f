"""``hub demo`` with its CRM in a real Firebird database (``HUB_DEMO_CRM_URL``) whose tables were made by the
committed DDL (config/crm/firebird.sql), as a DBA would: every exchange of the shipped mappings runs against it,
and a second demo run writes nothing new."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from connectors.crm_db.engine import normalize_url
from hub.testing.databases import firebird_database
from sandbox.crm import SCHEMA_FILE, load_schema
from sandbox.demo import run_demo

pytestmark = pytest.mark.firebird


def test_every_exchange_of_the_demo_runs_on_a_firebird_crm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with firebird_database("hub_demo", charset="WIN1251") as url:
        apply_committed_ddl(url)
        monkeypatch.setenv("HUB_DEMO_CRM_URL", url)
        reports, _ = run_demo(tmp_path)
        assert reports and all(r.status == "success" for r in reports), [
            (r.exchange, r.status, r.message) for r in reports if r.status != "success"]
        assert sum(r.counts.created for r in reports) > 0
        again, _ = run_demo(tmp_path)
        assert all(r.status == "success" for r in again)
        assert sum(r.counts.created + r.counts.updated for r in again) == 0


def apply_committed_ddl(url: str) -> None:
    script = (SCHEMA_FILE.parent / "firebird.sql").read_text(encoding="utf-8")
    statements = [s.strip() for s in script.split(";\n\n")]
    engine = sa.create_engine(normalize_url(url))
    try:
        with engine.begin() as conn:
            for statement in statements:
                if statement and statement.rstrip(";") != "COMMIT":
                    conn.exec_driver_sql(statement)
        assert set(load_schema()) <= {name.lower() for name in sa.inspect(engine).get_table_names()}
    finally:
        engine.dispose()
