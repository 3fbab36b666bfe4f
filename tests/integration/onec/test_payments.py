"""Exchange 4 end to end: bank receipts (OData, DataVersion sweep) and cash receipts (SOAP web service) from
1C become CRM payments; fully paid invoices and deals are marked paid."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sandbox.onec.world import EXCHANGES_FROM_1C, OneCWorld

BANK = "Document_ПоступлениеНаРасчетныйСчет"


def prepare(world: OneCWorld) -> dict[str, int | str]:
    """A client with two invoiced deals; 1C knows the client as a counterparty (same ИНН/КПП)."""
    crm = world.crm
    client = crm.client("ООО «Вектор»", "7701234560", "770101001")
    first = crm.deal(client, "invoiced", [("PAP-A4-500", "Бумага", "10", "100.00")])
    second = crm.deal(client, "invoiced", [("PAP-A4-500", "Бумага", "20", "100.00")])
    crm.invoice(first, "СЧ-2025-00001", "1000.00")
    crm.invoice(second, "СЧ-2025-00002", "2000.00")
    payer = world.accountant.counterparty(Description="Вектор ООО", НаименованиеПолное="ООО «Вектор»",
                                          ИНН="7701234560", КПП="770101001")
    return {"client": client, "first": first, "second": second, "payer": payer["Ref_Key"]}


def receipt(world: OneCWorld, payer: str, amount: float, invoice: str, day: int = 4) -> str:
    purpose = f"Оплата по счету № {invoice} от 03.03.2025, в т.ч. НДС 20%"
    return str(world.accountant.bank_receipt(payer, amount, purpose, dt.datetime(2025, 3, day, 10, 30))["Ref_Key"])


def run_all(world: OneCWorld) -> dict[str, object]:
    return {name: world.run(name) for name in EXCHANGES_FROM_1C}


def fetched_by_key(world: OneCWorld) -> int:
    """Requests that fetched full receipts by key (the sweep itself reads only Ref_Key + DataVersion)."""
    reads = [path for method, path in world.sim.log if method == "GET" and f"/standard.odata/{BANK}?" in path]
    return sum(1 for path in reads if "Ref_Key eq guid" in path)


def test_bank_receipts_become_payments_and_a_fully_paid_invoice_and_deal_are_marked_paid(world: OneCWorld) -> None:
    ids = prepare(world)
    full = receipt(world, str(ids["payer"]), 1000, "СЧ-2025-00001")
    half = receipt(world, str(ids["payer"]), 500, "СЧ-2025-00002", day=5)
    world.accountant.bank_receipt(str(ids["payer"]), 700, "Оплата по счету № СЧ-2025-00002", dt.datetime(2025, 3, 6),
                                  posted=False)  # a draft the accountant has not posted: not a payment yet

    run_all(world)

    payments = {p["external_ref"]: p for p in world.crm.rows("payments")}
    first, second = world.crm.rows("invoices")
    assert sorted(payments) == sorted([full, half])
    assert [(p["amount"], p["paid_on"], p["kind"], p["invoice_id"]) for p in (payments[full], payments[half])] == \
        [(Decimal("1000.00"), dt.date(2025, 3, 4), "bank", first["id"]),
         (Decimal("500.00"), dt.date(2025, 3, 5), "bank", second["id"])]
    assert all(p["client_id"] == ids["client"] and p["payer_inn"] == "7701234560" for p in payments.values())
    assert (first["status"], first["paid_at"]) == ("paid", dt.datetime(2025, 3, 4, 0, 0))
    assert second["status"] == "issued", "half paid is not paid"
    stages = {d["id"]: d["stage"] for d in world.crm.rows("deals")}
    assert stages == {ids["first"]: "paid", ids["second"]: "invoiced"}


def test_a_second_run_changes_nothing_and_fetches_no_document(world: OneCWorld) -> None:
    ids = prepare(world)
    receipt(world, str(ids["payer"]), 1000, "СЧ-2025-00001")
    run_all(world)
    fetched = fetched_by_key(world)

    second = world.run("payments_from_1c")

    assert (second.counts.read, second.counts.unchanged, second.counts.created, second.counts.updated) == (1, 1, 0, 0)
    assert fetched_by_key(world) == fetched, "an unchanged DataVersion means the document is not read again"


def test_an_edit_in_1c_is_picked_up_by_the_dataversion_sweep(world: OneCWorld) -> None:
    ids = prepare(world)
    first = receipt(world, str(ids["payer"]), 1000, "СЧ-2025-00001")
    second = receipt(world, str(ids["payer"]), 500, "СЧ-2025-00002", day=5)
    run_all(world)
    fetched = fetched_by_key(world)

    world.accountant.edit(BANK, second, СуммаДокумента=2000)  # the accountant corrects the amount
    report = world.run("payments_from_1c")
    world.run("invoices_paid_from_1c")
    world.run("deals_paid_from_1c")

    assert (report.counts.read, report.counts.updated, report.counts.unchanged) == (2, 1, 1)
    assert fetched_by_key(world) == fetched + 1, "only the edited document is fetched"
    assert world.crm.one("payments", external_ref=second)["amount"] == Decimal("2000.00")
    assert world.crm.one("payments", external_ref=first)["amount"] == Decimal("1000.00")
    assert [i["status"] for i in world.crm.rows("invoices")] == ["paid", "paid"]
    assert {d["stage"] for d in world.crm.rows("deals")} == {"paid"}


def test_a_receipt_marked_for_deletion_or_deleted_in_1c_is_deleted_from_the_crm(world: OneCWorld) -> None:
    ids = prepare(world)
    keep = receipt(world, str(ids["payer"]), 1000, "СЧ-2025-00001")
    marked = receipt(world, str(ids["payer"]), 300, "СЧ-2025-00002", day=5)
    deleted = receipt(world, str(ids["payer"]), 200, "СЧ-2025-00002", day=6)
    unposted = receipt(world, str(ids["payer"]), 100, "СЧ-2025-00002", day=7)
    run_all(world)
    assert len(world.crm.rows("payments")) == 4

    world.accountant.edit(BANK, marked, DeletionMark=True)  # in 1C, marking is deleting
    world.sim.store.delete(BANK, deleted)
    world.sim.store.put(BANK, {**world.sim.store.get(BANK, unposted), "Posted": False})  # only left the scope
    report = world.run("payments_from_1c")

    assert (report.counts.deleted, report.counts.out_of_scope) == (2, 1)
    assert {p["external_ref"] for p in world.crm.rows("payments")} == {keep, unposted}


def test_cash_receipts_arrive_through_the_soap_web_service(world: OneCWorld) -> None:
    ids = prepare(world)
    cash = world.accountant.cash_receipt(str(ids["payer"]), 1000, "Оплата по счёту №СЧ-2025-00001",
                                         dt.datetime(2025, 3, 7, 16, 45))

    report = world.run("cash_payments_from_1c")
    world.run("invoices_paid_from_1c")

    assert report.counts.created == 1
    payment = world.crm.one("payments", external_ref=cash["Ref_Key"])
    assert (payment["kind"], payment["amount"], payment["paid_on"], payment["client_id"], payment["payer_inn"]) == \
        ("cash", Decimal("1000.00"), dt.date(2025, 3, 7), ids["client"], "7701234560")
    assert world.crm.rows("invoices")[0]["status"] == "paid"
    soap_calls = [path for method, path in world.sim.log if method == "POST" and "/ws/" in path]
    assert soap_calls, "the receipts came over SOAP"
    assert world.run("cash_payments_from_1c").counts.unchanged == 1

    # a web service cannot say whether a receipt it no longer returns was deleted: a person decides
    world.accountant.edit("Document_ПриходныйКассовыйОрдер", cash["Ref_Key"], DeletionMark=True)
    assert world.run("cash_payments_from_1c").counts.rejected == 1
    assert world.hub.store.dead_letters("cash_payments_from_1c")[0].error_class == "NeedsPerson"
    assert len(world.crm.rows("payments")) == 1
