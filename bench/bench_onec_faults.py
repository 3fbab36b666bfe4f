"""1C exchanges under production faults: how many runs each exchange needs to converge, and duplicates.

The fault mix of issue 10, switched on in the 1C simulator (``Faults.production``): 15% of requests fail
(a plain 500 error page, 502, 503, 504, a dropped connection), 5% are answered with an HTML page with
status 200, and 10% of the writes 1C applies lose their response. The scenario: 30 CRM clients with
realizations (a third already in 1C), 8 products (some in 1C), two deals each with invoices; once the
exchanges to 1C are done, an accountant records payments for half of the invoices.

Each exchange is run as the scheduler would, until a run succeeds with no open dead letters (a run that
fails counts too). Target: every exchange within 2 runs, and 0 duplicates in 1C and in the CRM, checked
with faults off; a last pass without faults must write nothing.

Run: ``.venv/bin/python bench/bench_onec_faults.py [--seeds 3]``. Prints the runs per exchange and one
JSON line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from hub.errors import HubError
from hub.settings import RetryPolicy
from sandbox.onec.faults import Faults
from sandbox.onec.seed import seed_nomenclature
from sandbox.onec.world import EXCHANGES_FROM_1C, EXCHANGES_TO_1C, OneCWorld, onec_world

PRODUCTS = [("PAP-A4-500", "Бумага А4"), ("CRT-HP-85A", "Картридж HP 85A"), ("CBL-VVG-325", "Кабель ВВГнг, м"),
            ("LED-36W", "Светильник 36 Вт"), ("CEM-M500", "Цемент М500"), ("GLV-NTR-9", "Перчатки"),
            ("TAPE-48", "Скотч 48 мм"), ("BOX-60-40", "Коробка 60x40")]
CLIENTS = 30
MAX_RUNS = 10


def build(world: OneCWorld) -> list[tuple[int, str]]:
    """Clients with two invoiced deals each (a third of them known to 1C); returns (deal, invoice number)."""
    crm = world.crm
    seed_nomenclature(world.sim.store, tuple(PRODUCTS[:3]))
    for sku, name in PRODUCTS:
        crm.product(sku, name, "150.00")
    deals = []
    for number in range(CLIENTS):
        inn, kpp = f"77{number + 10:02d}{number * 7919 % 1_000_000:06d}", f"77{number + 10:02d}01001"
        client = crm.client(f"ООО «Клиент {number}»", inn, kpp, phone=f"+7 916 000-{number // 100:02d}-{number:02d}",
                            email=f"buh{number}@client.ru")
        if number % 3 == 0:
            world.accountant.counterparty(Description=f"Клиент {number} (1С)", ИНН=inn, КПП=kpp)
        for index in range(2):
            sku, name = PRODUCTS[(number + index) % len(PRODUCTS)]
            deal = crm.deal(client, "invoiced", [(sku, name, str(index + 1), "150.00"), ("CEM-M500", "Цемент", "3",
                                                                                          "150.00")])
            invoice = f"СЧ-2025-{deal:05d}"
            crm.invoice(deal, invoice, crm.one("deals", id=deal)["amount"])
            deals.append((deal, invoice))
    return deals


def pay(world: OneCWorld, deals: list[tuple[int, str]]) -> list[str]:
    """The accountant records a payment for every other invoice: by bank, every fourth in cash."""
    refs = []
    for number, (deal, invoice) in enumerate(deals[::2]):
        row = world.crm.one("deals", id=deal)
        inn = world.crm.one("clients", id=row["client_id"])["inn"]
        payer = world.onec("Catalog_Контрагенты", ИНН=inn)[0]["Ref_Key"]
        record = world.accountant.cash_receipt if number % 4 == 3 else world.accountant.bank_receipt
        refs.append(str(record(payer, float(row["amount"]), f"Оплата по счету № {invoice}",
                               dt.datetime(2025, 3, 12, 10, 0))["Ref_Key"]))
    return refs


def runs_to_converge(world: OneCWorld, exchange: str) -> int:
    """Runs until one succeeds and leaves no open dead letter (a failed run counts)."""
    for run in range(1, MAX_RUNS + 1):
        try:
            world.run(exchange)
        except HubError:
            continue
        if not world.hub.store.dead_letters(exchange):
            return run
    return MAX_RUNS + 1


def duplicates(world: OneCWorld) -> dict[str, int]:
    """Objects that exist more than once where exactly one is right."""
    def extra(values: list[Any]) -> int:
        return sum(count - 1 for count in Counter(values).values() if count > 1)

    return {
        "counterparties": extra([(o["ИНН"], o["КПП"]) for o in world.onec("Catalog_Контрагенты")]),
        "contracts": extra([o["Owner_Key"] for o in world.onec("Catalog_ДоговорыКонтрагентов")]),
        "nomenclature": extra([o["Артикул"] for o in world.onec("Catalog_Номенклатура")]),
        "realizations": extra([o["Number"] for o in world.onec("Document_РеализацияТоваровУслуг")]),
        "payments": extra([p["external_ref"] for p in world.crm.rows("payments")]),
    }


def complete(world: OneCWorld, deals: list[tuple[int, str]], receipts: list[str]) -> bool:
    documents = {o["Number"]: o for o in world.onec("Document_РеализацияТоваровУслуг")}
    paid = {i["deal_id"] for i in world.crm.rows("invoices") if i["status"] == "paid"}
    return (len(world.onec("Catalog_Контрагенты")) == CLIENTS
            and all(documents.get(f"CRM-{deal}", {}).get("Posted") for deal, _ in deals)
            and {p["external_ref"] for p in world.crm.rows("payments")} == set(receipts)
            and paid == {deal for deal, _ in deals[::2]})


def one_seed(seed: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as home, \
            onec_world(Path(home), f"sqlite:///{Path(home) / 'crm.db'}",
                       retry=RetryPolicy(attempts=5, initial_wait=0.01, max_wait=0.05)) as world:
        deals = build(world)
        world.sim.faults = Faults.production(seed)
        runs = {name: runs_to_converge(world, name) for name in EXCHANGES_TO_1C}
        injected = Counter(world.sim.faults.counts)
        world.sim.faults = Faults.none()
        receipts = pay(world, deals)  # typed in 1C by a person: no HTTP, no faults
        world.sim.faults = Faults.production(seed + 1000)
        runs.update({name: runs_to_converge(world, name) for name in EXCHANGES_FROM_1C})
        injected.update(world.sim.faults.counts)
        world.sim.faults = Faults.none()
        writes = world.sim.writes
        again = [world.run(name) for name in (*EXCHANGES_TO_1C, *EXCHANGES_FROM_1C)]
        quiet = world.sim.writes == writes and all(r.counts.created == r.counts.updated == r.counts.deleted == 0
                                                   for r in again)
        return {"seed": seed, "runs": runs, "duplicates": duplicates(world),
                "complete": complete(world, deals, receipts), "quiet_after": quiet, "faults": dict(injected)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3, help="independent fault sequences to try")
    args = parser.parse_args()

    results = [one_seed(seed) for seed in range(1, args.seeds + 1)]
    worst: dict[str, int] = {}
    for result in results:
        print(f"seed {result['seed']}: faults injected {result['faults']}")
        for name, runs in result["runs"].items():
            worst[name] = max(worst.get(name, 0), runs)
            print(f"  {name:24s} converged in {runs} run(s)")
        print(f"  duplicates {result['duplicates']}, complete {result['complete']}, "
              f"a further fault-free pass writes nothing: {result['quiet_after']}")
    total_duplicates = sum(sum(r["duplicates"].values()) for r in results)
    ok = max(worst.values()) <= 2 and total_duplicates == 0 and all(r["complete"] and r["quiet_after"]
                                                                     for r in results)
    print(f"worst runs per exchange: {worst}  (target <= 2)")
    print(f"duplicates: {total_duplicates}  (target 0)")
    print(json.dumps({"bench": "onec_faults", "seeds": args.seeds, "worst_runs": worst,
                      "max_runs": max(worst.values()), "duplicates": total_duplicates, "ok": ok}, ensure_ascii=False))


if __name__ == "__main__":
    main()
