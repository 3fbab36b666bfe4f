"""The 1C exchanges with the CRM in a real Firebird database (the kind many Russian desktop CRMs keep): a
realization goes to 1C, its payment comes back into the CRM, and a second run changes nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from hub.testing.databases import firebird_database
from sandbox.onec.world import EXCHANGES_FROM_1C, EXCHANGES_TO_1C, MAPPINGS, OneCWorld, onec_world

pytestmark = pytest.mark.firebird


@pytest.fixture(params=["UTF8", "WIN1251"])
def fb_world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OneCWorld]:
    """The CRM in a Firebird database whose own character set is UTF8, or WIN1251 as in older CRMs."""
    with firebird_database("hub_onec", charset=request.param) as url, onec_world(tmp_path, url) as opened:
        yield opened


def test_a_realization_goes_to_1c_and_its_payment_comes_back(fb_world: OneCWorld) -> None:
    world, crm = fb_world, fb_world.crm
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


def test_hub_validate_finds_every_crm_table_and_column_of_the_1c_mappings_in_firebird(fb_world: OneCWorld,
                                                                                      tmp_path: Path) -> None:
    """Firebird stores the unquoted reference tables upper-case; the mappings' lower-case names find them, and
    a column the CRM lacks is reported."""
    mappings = sorted(MAPPINGS.glob("*1c*.yaml"))
    assert [str(f.error) for f in fb_world.hub.validate(mappings) if not f.warning] == []
    text = (MAPPINGS / "payments_from_1c.yaml").read_text(encoding="utf-8")
    broken = tmp_path / "payments_from_1c.yaml"
    broken.write_text(text.replace("paid_on:", "paid_at:", 1), encoding="utf-8")
    errors = [str(f.error) for f in fb_world.hub.validate([broken]) if not f.warning]
    assert any("paid_at" in error for error in errors), errors
