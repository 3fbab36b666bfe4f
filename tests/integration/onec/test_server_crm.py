"""The 1C exchanges with the CRM in a database server: the real PostgreSQL (a throwaway schema) and a real
Firebird database in UTF8 and in WIN1251 (the kind many Russian desktop CRMs keep). Both directions, Cyrillic
exactly, and a second run that changes nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from hub.testing.databases import firebird_database
from sandbox.onec.world import EXCHANGES_FROM_1C, EXCHANGES_TO_1C, OneCWorld, onec_world


@pytest.fixture(params=[pytest.param("postgres", marks=pytest.mark.postgres),
                        pytest.param("UTF8", marks=pytest.mark.firebird, id="firebird-UTF8"),
                        pytest.param("WIN1251", marks=pytest.mark.firebird, id="firebird-WIN1251")])
def server_world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OneCWorld]:
    if request.param == "postgres":
        yield request.getfixturevalue("pg_world")
        return
    with firebird_database("hub_onec", charset=request.param) as url, onec_world(tmp_path, url) as opened:
        yield opened


def test_a_realization_goes_to_1c_and_its_payment_comes_back(server_world: OneCWorld) -> None:
    world, crm = server_world, server_world.crm
    crm.product("CRT-HP-85A", "Картридж HP 85A", "4200.00")
    client = crm.client("ООО «Импульс»", "7706789012", "770601001", phone="8 495 222-33-44")
    deal = crm.deal(client, "invoiced", [("CRT-HP-85A", "Картридж HP 85A", "2", "4200.00")])
    crm.invoice(deal, "СЧ-2025-00077", "8400.00")

    for name in EXCHANGES_TO_1C:
        world.run(name)
    [doc] = world.onec("Document_РеализацияТоваровУслуг")
    assert (doc["Number"], doc["Posted"], doc["СуммаДокумента"]) == (f"CRM-{deal}", True, 8400)
    [counterparty] = [c for c in world.onec("Catalog_Контрагенты") if c["ИНН"] == "7706789012"]
    assert counterparty["Description"] == "ООО «Импульс»"  # Cyrillic and typographic quotes, exactly
    world.accountant.bank_receipt(doc["Контрагент_Key"], 8400, "Оплата по счету № СЧ-2025-00077 от 03.03.2025",
                                  dt.datetime(2025, 3, 10, 9, 15))
    for name in EXCHANGES_FROM_1C:
        world.run(name)

    payment = crm.one("payments", client_id=client)
    assert [payment[f] for f in ("amount", "paid_on", "kind")] == [Decimal("8400.00"), dt.date(2025, 3, 10), "bank"]
    assert crm.one("invoices", deal_id=deal)["status"] == "paid"
    assert crm.one("deals", id=deal)["stage"] == "paid"
    writes = world.sim.writes
    again = [world.run(name) for name in (*EXCHANGES_TO_1C, *EXCHANGES_FROM_1C)]
    assert all(r.counts.created == r.counts.updated == r.counts.deleted == 0 for r in again)
    assert world.sim.writes == writes and len(crm.rows("payments")) == 1
