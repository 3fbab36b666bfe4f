"""Exchange 4: a receipt is linked to what it pays by 1C's structured links first (ДокументОснование, the
settlement row's ДокументРасчетовСКонтрагентом and Сделка, pointing at a sales document the hub created),
and only then by the invoice number in the payment purpose; cash receipts the same way through the web service."""

from __future__ import annotations

import datetime as dt

from sandbox.onec.world import EXCHANGES_FROM_1C, EXCHANGES_TO_1C, OneCWorld

SALE = "Document_РеализацияТоваровУслуг"
WHEN = dt.datetime(2025, 3, 12, 10, 0)


def test_receipts_link_to_deal_and_invoice_by_1c_links_first_then_by_text(any_world: OneCWorld) -> None:
    world, crm = any_world, any_world.crm
    crm.product("PAP-A4-500", "Бумага офисная А4")
    client = crm.client("ООО «Вектор»", "7701234560", "770101001")
    deals = [crm.deal(client, "invoiced", [("PAP-A4-500", "Бумага", str(10 * n), "100.00")]) for n in range(1, 6)]
    invoices = [crm.invoice(deal, f"СЧ-2025-0000{n}", f"{1000 * n}.00") for n, deal in enumerate(deals, 1)]
    for name in EXCHANGES_TO_1C:
        world.run(name)
    sale = {deal: world.hub.store.key_lookup("realization", str(deal), "crm", "onec") for deal in deals}
    payer = world.onec("Catalog_Контрагенты", ИНН="7701234560")[0]["Ref_Key"]
    accountant = world.accountant

    based = accountant.receipt_based_on(sale[deals[0]], WHEN)  # "Создать на основании" of the sale: no invoice no.
    settled = accountant.bank_receipt(payer, 2000, "Оплата по счету № СЧ-2025-00003", WHEN,  # the text is wrong,
                                      settles=sale[deals[1]])  # the row she filled is right
    by_deal = accountant.bank_receipt(payer, 3000, "Оплата по договору", WHEN, deal=sale[deals[2]])
    by_text = accountant.bank_receipt(payer, 4000, "Оплата по счету № СЧ-2025-00004 от 03.03.2025", WHEN)
    her_own = accountant.bank_receipt(payer, 500, "Оплата по счету № СЧ-2025-00004", WHEN,  # a receipt based on a
                                      based_on=by_text["Ref_Key"])  # document the hub did not create: the text
    cash = accountant.cash_receipt(payer, 5000, "Оплата наличными", WHEN, based_on=sale[deals[4]])  # via SOAP
    assert "СЧ-" not in based["НазначениеПлатежа"] and based["ДокументОснование"] == sale[deals[0]]

    for name in EXCHANGES_FROM_1C:
        world.run(name)

    paid = {p["external_ref"]: (p["deal_id"], p["invoice_id"]) for p in crm.rows("payments")}
    assert paid == {based["Ref_Key"]: (deals[0], invoices[0]), settled["Ref_Key"]: (deals[1], invoices[1]),
                    by_deal["Ref_Key"]: (deals[2], invoices[2]), by_text["Ref_Key"]: (deals[3], invoices[3]),
                    her_own["Ref_Key"]: (deals[3], invoices[3]), cash["Ref_Key"]: (deals[4], invoices[4])}
    assert [i["status"] for i in crm.rows("invoices")] == ["paid"] * 5
    assert {d["stage"] for d in crm.rows("deals")} == {"paid"}
    assert world.run("payments_from_1c").counts.updated == 0
