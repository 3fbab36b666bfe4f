"""``hub demo`` part: the simulated 1C:Бухгалтерия on 127.0.0.1:18081 (OData and the CRMExchange web service),
its infobase kept in ``var/demo/onec.db``.

The first demo fills it as a company's 1C would look before the hub is switched on: our organization,
a warehouse, units and contact kinds, counterparties and nomenclature (some of them the same companies and
articles the CRM has: the exchanges must link them, not duplicate them), and the accountant's receipts for
a few CRM invoices (by bank and in cash). Later demos reuse the same infobase, so nothing new is written.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass

from hub.demo import DemoEnv, demo_port
from hub.errors import ConfigError
from sandbox.onec.seed import Accountant, seed_demo
from sandbox.onec.server import OneCSimulator
from sandbox.onec.world import CrmTables

ONEC_PORT = 18081
PAID_BY_BANK = 3  # invoiced CRM deals the accountant sees paid to the bank account
PAID_IN_CASH = 1


@dataclass
class OneCPart:
    name: str = "onec"
    order: int = 20  # after the CRM: the first demo mirrors some CRM companies into 1C

    @contextlib.contextmanager
    def start(self, env: DemoEnv) -> Iterator[None]:
        sim = OneCSimulator(env.home / "onec.db")
        if sim.store.empty:
            seed_demo(sim.store)
            crm_url = json.loads(env.connections["crm"])["extra"]["url"]
            mirror_crm(sim, CrmTables(crm_url))
        try:
            sim.start(port=demo_port(ONEC_PORT))
        except OSError as exc:
            sim.stop()
            raise ConfigError(f"cannot start the 1C simulator on 127.0.0.1:{demo_port(ONEC_PORT)}: {exc.strerror} "
                              "(is another hub demo running?)") from None
        with sim:
            env.connections["onec"] = json.dumps(sim.connection("odata"))
            env.connections["onec_soap"] = json.dumps(sim.connection("soap"))
            login = next(iter(sim.users))
            env.notes.append(f"1C simulator: {sim.url}/odata/standard.odata/ and {sim.url}/ws/CRMExchange.1cws?wsdl "
                             f"(user {login!r}, data in {env.home / 'onec.db'})")
            yield

    def produce(self, env: DemoEnv) -> None:
        return None  # the accountant's documents are typed once, when the infobase is created


def mirror_crm(sim: OneCSimulator, crm: CrmTables) -> None:
    """Counterparties 1C already has for some CRM clients, and their payments of CRM invoices."""
    accountant = Accountant(sim.store, seed=29)
    try:
        invoiced = [d for d in crm.rows("deals", stage="invoiced") if crm.rows("invoices", deal_id=d["id"])]
        for number, deal in enumerate(invoiced[:PAID_BY_BANK + PAID_IN_CASH]):
            client = crm.one("clients", id=deal["client_id"])
            payer = next(sim.store.find("Catalog_Контрагенты", ИНН=client["inn"], КПП=client["kpp"]), None) or \
                accountant.counterparty(Description=client["name"], НаименованиеПолное=client["full_name"],
                                        ИНН=client["inn"], КПП=client["kpp"])
            invoice = crm.rows("invoices", deal_id=deal["id"])[0]
            when = dt.datetime.combine(invoice["issued_on"], dt.time(11, 30)) + dt.timedelta(days=2 + number)
            purpose = f"Оплата по счету № {invoice['number']} от {invoice['issued_on']:%d.%m.%Y}, в т.ч. НДС 20%"
            record = accountant.bank_receipt if number < PAID_BY_BANK else accountant.cash_receipt
            record(payer["Ref_Key"], float(invoice["amount"]), purpose, when)
    finally:
        crm.close()


PART = OneCPart()
