"""A deal's chain from whatever an operator has: the 1C payment's number, the payer's ИНН, the sales document's
number. deal -> realization in 1C -> payment -> invoice paid and deal paid, each step with its Airflow run."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.app import Hub
from hub.testing.tracing import airflow_trigger, trace
from sandbox.onec.world import EXCHANGES_FROM_1C, EXCHANGES_TO_1C, OneCWorld, onec_world

WHEN = dt.datetime(2025, 3, 12, 10, 0)


@pytest.fixture
def paid(tmp_path: Path, state_url: str) -> Iterator[tuple[Hub, OneCWorld, dict[str, str]]]:
    """A deal shipped to 1C, paid there by bank transfer, and marked paid in the CRM, with the hub's state at
    ``state_url``; the runs are triggered the way the DAG tasks trigger them."""
    with onec_world(tmp_path / "world", f"sqlite:///{tmp_path / 'crm.db'}") as world:
        hub = Hub(world.hub.settings.model_copy(update={"database_url": state_url}), world.hub.resolver)
        try:
            crm = world.crm
            crm.product("PAP-A4-500", "Бумага офисная А4")
            client = crm.client("ООО «Вектор»", "7701234560", "770101001")
            deal = crm.deal(client, "invoiced", [("PAP-A4-500", "Бумага", "10", "100.00")])
            crm.invoice(deal, "СЧ-2025-00017", "1000.00")
            for n, name in enumerate(EXCHANGES_TO_1C):
                hub.run(name, airflow_trigger(name, n))
            sale = hub.store.key_lookup("realization", str(deal), "crm", "onec")
            payer = world.onec("Catalog_Контрагенты", ИНН="7701234560")[0]["Ref_Key"]
            receipt = world.accountant.bank_receipt(payer, 1000, "Оплата по счету № СЧ-2025-00017", WHEN,
                                                    settles=sale)
            for n, name in enumerate(EXCHANGES_FROM_1C, 10):
                hub.run(name, airflow_trigger(name, n))
            assert crm.one("deals", id=deal)["stage"] == "paid"
            yield hub, world, {"deal": str(deal), "receipt": receipt["Number"], "sale": f"CRM-{deal}"}
        finally:
            hub.close()


def test_a_1c_payment_number_shows_the_whole_deal_chain_with_airflow_runs(paid) -> None:
    hub, _, known = paid
    result = trace(hub, f" {known['receipt'].lower()} ")  # as typed: spaces, lower case
    assert result.exit_code == 0, result.output
    out = result.output
    assert f"document {known['receipt']}" in out
    for exchange in ("realizations_to_1c", "payments_from_1c", "invoices_paid_from_1c", "deals_paid_from_1c"):
        assert exchange in out, out
        assert f"airflow {exchange} manual__2026-12-02T10:" in out, out
    assert "http://airflow.example:8080/dags/payments_from_1c/runs/manual__2026-12-02T10%3A10%3A00%2B00%3A00_" in out
    # grouped by what each step wrote, in the order the chain happened
    assert out.index("onec/Document_РеализацияТоваровУслуг") < out.index("crm/payments") < out.index("crm/invoices")

    as_json = trace(hub, known["receipt"], "--json")
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.output)
    assert data["ambiguous"] is False and data["chosen"]["labels"] == [f"document {known['receipt']}"]
    runs = {step["exchange"]: step["writes"][0]["run"]["airflow_run_id"] for step in data["steps"]}
    assert runs["payments_from_1c"] == "manual__2026-12-02T10:10:00+00:00_payments_from_1c"


def test_the_payers_inn_and_the_sales_document_number_find_the_same_chain(paid) -> None:
    hub, _, known = paid
    by_inn = trace(hub, "ИНН 7701 234560")
    assert by_inn.exit_code == 0, by_inn.output
    assert by_inn.output.startswith("inn 7701234560:")
    for exchange in ("counterparties_to_1c", "payments_from_1c", "realizations_to_1c", "invoices_paid_from_1c",
                     "deals_paid_from_1c"):
        assert f"airflow {exchange} manual__2026-12-02T10:" in by_inn.output, by_inn.output
    by_sale = hub.find(known["sale"].lower())
    assert by_sale.chosen is not None and by_sale.chosen.labels == (f"document {known['sale']}",)
    assert {s.exchange for s in by_sale.steps} >= {"realizations_to_1c", "payments_from_1c", "deals_paid_from_1c"}
    payment = next(s for s in by_sale.steps if s.exchange == "payments_from_1c")
    assert payment.runs and payment.runs[0].airflow_run_id.startswith("manual__2026-12-02T10:10")


def test_an_id_many_entities_share_is_a_question_not_a_mix(paid) -> None:
    hub, _, known = paid
    asked = trace(hub, known["deal"])
    assert asked.exit_code == 1
    assert "different things; pick one with --entity" in asked.output
    for entity in ("crm/deals:", "crm/clients:", "crm/invoices:"):
        assert entity + known["deal"] in asked.output, asked.output
    answered = trace(hub, known["deal"], "--entity", "deals")
    assert answered.exit_code == 0, answered.output
    assert "realizations_to_1c" in answered.output and "payments_from_1c" in answered.output
    assert "counterparties_to_1c" not in answered.output  # the client with the same id is another thing
    copied = trace(hub, f"crm/deals:{known['deal']}")  # an object as trace prints it
    assert copied.exit_code == 0 and copied.output == answered.output, copied.output
    assert "key map  counterparty" not in answered.output  # the client's link is not the deal's
    assert f"key map  realization: crm {known['deal']} = onec " in answered.output
