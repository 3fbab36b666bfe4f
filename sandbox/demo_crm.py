"""``hub demo`` part: the CRM database, a SQLite file with the reference schema and seeded demo data.

Created once (deterministic seed); later demo runs reuse it, so what the exchanges wrote before is there
and a second run finds nothing new to write.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass

from sandbox.crm import seed
from sandbox.demo import DemoEnv

DEMO_CLIENTS = 60


@dataclass
class CrmPart:
    name: str = "crm"
    order: int = 0  # first: the other systems' exchanges read and write the CRM

    @contextlib.contextmanager
    def start(self, env: DemoEnv) -> Iterator[None]:
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


PART = CrmPart()
