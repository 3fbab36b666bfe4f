"""``hub demo`` part: the CRM database, a SQLite file with the reference schema and seeded demo data.

Created once (deterministic seed); later demo runs reuse it, so what the exchanges wrote before is there
and a second run finds nothing new to write. ``HUB_DEMO_CRM_URL`` puts the CRM in another (empty or
already seeded) database instead, e.g. a Firebird one: ``firebird://SYSDBA:masterkey@127.0.0.1//path/crm.fdb``.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass

import sqlalchemy as sa

from connectors.crm_db.engine import normalize_url
from hub.demo import DemoEnv
from sandbox.crm import seed

DEMO_CLIENTS = 60


@dataclass
class CrmPart:
    name: str = "crm"
    order: int = 0  # first: the other systems' exchanges read and write the CRM

    @contextlib.contextmanager
    def start(self, env: DemoEnv) -> Iterator[None]:
        given = os.environ.get("HUB_DEMO_CRM_URL")
        if given:
            _seed_once(given)
            env.connections["crm"] = json.dumps({"conn_type": "hub_crm_db", "extra": {"url": given}})
            env.notes.append(f"CRM database: {sa.make_url(given).render_as_string(hide_password=True)}")
            yield
            return
        path = env.home / "crm.db"
        url = f"sqlite:///{path}"
        if not path.exists():
            partial = path.with_name(path.name + ".partial")
            partial.unlink(missing_ok=True)
            seed(f"sqlite:///{partial}", clients=DEMO_CLIENTS)  # creates the schema too
            partial.replace(path)  # a demo killed while seeding leaves no half-filled CRM to reuse
        env.connections["crm"] = json.dumps({"conn_type": "hub_crm_db", "extra": {"url": url}})
        env.notes.append(f"CRM database: {path}")
        yield

    def produce(self, env: DemoEnv) -> None:
        return None


def _seed_once(url: str) -> None:
    """Seed the reference CRM into ``url`` unless an earlier demo run already did."""
    engine = sa.create_engine(normalize_url(url))
    try:
        with engine.connect() as conn:
            if sa.inspect(conn).has_table("clients") and \
                    conn.execute(sa.text("SELECT COUNT(*) FROM clients")).scalar_one():
                return
    finally:
        engine.dispose()
    seed(url, clients=DEMO_CLIENTS)


PART = CrmPart()
