"""The 1C exchanges' world in one object: the simulated 1C on real HTTP, a CRM database with the reference
schema, and a hub wired to both with the shipped mappings. The integration and fault tests, the demo part
and the benchmark build on it, so they all exercise exactly what a deployment runs.

    with onec_world(tmp_path, "sqlite:///crm.db") as world:
        client = world.crm.add("clients", name="ООО «Вектор»", ...)
        world.run("counterparties_to_1c")
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from connectors.crm_db.engine import normalize_url
from hub.app import Hub
from hub.connections import ConnectionResolver
from hub.errors import RetriableError
from hub.runner import RunReport
from hub.settings import HubSettings, RetryPolicy
from sandbox.crm import build_metadata, create_schema
from sandbox.onec.config import BP30, Configuration
from sandbox.onec.faults import Faults
from sandbox.onec.seed import Accountant, seed_reference
from sandbox.onec.server import OneCSimulator

ROOT = Path(__file__).resolve().parents[2]
MAPPINGS = ROOT / "mappings"
#: upstream first: what each exchange needs from the ones before it
EXCHANGES_TO_1C = ("nomenclature_to_1c", "counterparties_to_1c", "contracts_to_1c", "realizations_to_1c")
EXCHANGES_FROM_1C = ("payments_from_1c", "cash_payments_from_1c", "invoices_paid_from_1c", "deals_paid_from_1c")


class CrmTables:
    """Rows of the reference CRM schema, for setting up scenarios and checking outcomes."""

    def __init__(self, url: str, db_schema: str | None = None):
        self.engine = sa.create_engine(normalize_url(url))
        self.metadata = build_metadata(db_schema)
        self.tables = {t.name: t for t in self.metadata.tables.values()}  # by bare name, whatever the schema

    def table(self, name: str) -> sa.Table:
        return self.tables[name]

    def add(self, table: str, **values: Any) -> int:
        with self.engine.begin() as c:
            return int(c.execute(self.table(table).insert().values(**values)).inserted_primary_key[0])

    def update(self, table: str, row_id: int, **values: Any) -> None:
        t = self.table(table)
        with self.engine.begin() as c:
            c.execute(t.update().where(t.c.id == row_id).values(**values))

    def delete(self, table: str, **where: Any) -> None:
        t = self.table(table)
        with self.engine.begin() as c:
            c.execute(t.delete().where(*(t.c[k] == v for k, v in where.items())))

    def rows(self, table: str, **where: Any) -> list[dict[str, Any]]:
        t = self.table(table)
        with self.engine.connect() as c:
            query = sa.select(t).where(*(t.c[k] == v for k, v in where.items())).order_by(t.c.id)
            return [dict(row) for row in c.execute(query).mappings()]

    def one(self, table: str, **where: Any) -> dict[str, Any]:
        found = self.rows(table, **where)
        if len(found) != 1:
            raise AssertionError(f"expected one {table} row with {where}, found {len(found)}")
        return found[0]

    def close(self) -> None:
        self.engine.dispose()

    # -- the business objects of the 1C exchanges

    def client(self, name: str, inn: str, kpp: str = "", legal_form: str = "ООО", phone: str | None = None,
               email: str | None = None, full_name: str | None = None) -> int:
        return self.add("clients", name=name, full_name=full_name or name, legal_form=legal_form, inn=inn, kpp=kpp,
                        phone=phone, email=email)

    def product(self, sku: str, name: str, price: str = "100.00", unit: str = "шт") -> int:
        return self.add("products", sku=sku, name=name, price=Decimal(price), unit=unit)

    def deal(self, client_id: int, stage: str, items: list[tuple[str, str, str, str]],
             shipped_on: dt.date | None = dt.date(2025, 3, 3), title: str = "Поставка") -> int:
        """A deal with item lines ``(sku, name, quantity, price)``; its amount is their total."""
        lines = [(sku, name, Decimal(q), Decimal(p)) for sku, name, q, p in items]
        amount = sum(((q * p).quantize(Decimal("0.01")) for _, _, q, p in lines), Decimal("0.00"))
        deal_id = self.add("deals", client_id=client_id, title=title, stage=stage, amount=amount,
                           shipped_on=shipped_on if stage in ("shipped", "invoiced", "paid") else None)
        for number, (sku, name, quantity, price) in enumerate(lines, 1):
            self.add("deal_items", deal_id=deal_id, line_no=number, sku=sku, name=name, quantity=quantity,
                     price=price, amount=(quantity * price).quantize(Decimal("0.01")))
        return deal_id

    def invoice(self, deal_id: int, number: str, amount: Decimal | str,
                issued_on: dt.date = dt.date(2025, 3, 3)) -> int:
        return self.add("invoices", deal_id=deal_id, number=number, issued_on=issued_on, amount=Decimal(amount))

    def delete_deal(self, deal_id: int) -> None:
        """What the CRM does when a manager deletes a deal: its lines and invoices go, its payments stay
        (unlinked), so the foreign keys a real database enforces hold."""
        for payment in self.rows("payments", deal_id=deal_id):
            self.update("payments", payment["id"], deal_id=None)
        for child in ("deal_items", "invoices"):
            self.delete(child, deal_id=deal_id)
        self.delete("deals", id=deal_id)


@dataclass
class OneCWorld:
    sim: OneCSimulator
    crm: CrmTables
    hub: Hub
    accountant: Accountant

    def run(self, exchange: str) -> RunReport:
        return self.hub.run(exchange, triggered_by="test")

    def run_until_done(self, exchange: str, runs: int = 5) -> RunReport:
        """Run again while a run gives up on a transient fault (what the scheduler does every few minutes)."""
        for attempt in range(runs):
            try:
                return self.run(exchange)
            except RetriableError:
                if attempt == runs - 1:
                    raise
        raise AssertionError("unreachable")

    def onec(self, set_name: str, **equal: Any) -> list[dict[str, Any]]:
        """Objects in the simulated 1C (what an accountant sees), filtered by equal attributes."""
        with self.sim.store.lock:
            return [dict(o) for o in self.sim.store.find(set_name, **equal)]


def connection_values(sim: OneCSimulator, crm_url: str, db_schema: str | None = None) -> dict[str, str]:
    """``AIRFLOW_CONN_*`` values (JSON form) for the CRM and the simulator."""
    crm = {"conn_type": "hub_crm_db", "extra": {"url": crm_url, **({"db_schema": db_schema} if db_schema else {})}}
    return {"AIRFLOW_CONN_CRM": json.dumps(crm), "AIRFLOW_CONN_ONEC": json.dumps(sim.connection("odata")),
            "AIRFLOW_CONN_ONEC_SOAP": json.dumps(sim.connection("soap"))}


@contextlib.contextmanager
def onec_world(home: Path, crm_url: str, db_schema: str | None = None, faults: Faults | None = None,
               retry: RetryPolicy | None = None, batch_size: int = 50, config: Configuration = BP30,
               mappings: Path = MAPPINGS) -> Iterator[OneCWorld]:
    """A fresh simulated 1C (reference data seeded) playing ``config``, the CRM schema at ``crm_url``, and a
    hub using both with the mappings in ``mappings``."""
    home.mkdir(parents=True, exist_ok=True)
    create_schema(crm_url, db_schema=db_schema)
    with contextlib.ExitStack() as opened:  # whatever fails half-way, what was started is stopped
        sim = OneCSimulator(home / "onec.db", config=config)
        opened.callback(sim.stop)
        seed_reference(sim.store)
        sim.start()
        settings = HubSettings(home=home, database_url=f"sqlite:///{home / 'hub.db'}", mappings_dir=mappings,
                               batch_size=batch_size,
                               retry=retry or RetryPolicy(attempts=5, initial_wait=0.01, max_wait=0.05))
        hub = Hub(settings, ConnectionResolver(env=connection_values(sim, crm_url, db_schema)))
        opened.callback(hub.close)
        crm = CrmTables(crm_url, db_schema)
        opened.callback(crm.close)
        sim.faults = faults or Faults.none()
        yield OneCWorld(sim, crm, hub, Accountant(sim.store))
