"""Exchange 3 end to end: a shipped CRM deal -> a posted 1C sales document with its item lines."""

from __future__ import annotations

from decimal import Decimal

from sandbox.onec.seed import seed_nomenclature
from sandbox.onec.world import EXCHANGES_TO_1C, OneCWorld

DOC = "Document_РеализацияТоваровУслуг"


def prepare(world: OneCWorld) -> tuple[int, int]:
    """A client with one shipped deal of two items; one item 1C already has (same article)."""
    seed_nomenclature(world.sim.store, (("PAP-A4-500", "Бумага А4 (1С)"),))
    crm = world.crm
    crm.product("PAP-A4-500", "Бумага офисная А4, 500 л.", "389.00")
    crm.product("CBL-VVG-325", "Кабель ВВГнг 3x2,5, м", "98.50", unit="м")
    client = crm.client("ООО «Вектор»", "7701234560", "770101001")
    deal = crm.deal(client, "shipped", [("PAP-A4-500", "Бумага", "4", "389.00"),
                                        ("CBL-VVG-325", "Кабель", "12.5", "98.50")])
    return client, deal


def run_all(world: OneCWorld) -> dict[str, object]:
    return {name: world.run(name) for name in EXCHANGES_TO_1C}


def test_a_shipped_deal_becomes_one_posted_document_with_its_lines(world: OneCWorld) -> None:
    _client, deal = prepare(world)

    reports = run_all(world)

    assert reports["realizations_to_1c"].counts.created == 1  # type: ignore[attr-defined]
    [doc] = world.onec(DOC)
    assert doc["Number"] == f"CRM-{deal}" and doc["Posted"] is True and doc["Date"] == "2025-03-03T00:00:00"
    counterparty = world.onec("Catalog_Контрагенты", ИНН="7701234560")[0]
    contract = world.sim.store.get("Catalog_ДоговорыКонтрагентов", doc["ДоговорКонтрагента_Key"])
    assert doc["Контрагент_Key"] == counterparty["Ref_Key"] and contract["Owner_Key"] == counterparty["Ref_Key"]
    articles = {o["Ref_Key"]: o["Артикул"] for o in world.onec("Catalog_Номенклатура")}
    assert sorted(articles.values()) == ["CBL-VVG-325", "PAP-A4-500"], "the existing item is reused, not duplicated"
    lines = [(articles[r["Номенклатура_Key"]], r["Количество"], r["Цена"], r["Сумма"], r["СтавкаНДС"])
             for r in doc["Товары"]]
    assert lines == [("PAP-A4-500", 4, 389, 1556, "НДС20"), ("CBL-VVG-325", 12.5, 98.5, 1231.25, "НДС20")]
    assert doc["СуммаДокумента"] == 2787.25
    assert world.hub.store.key_lookup("realization", str(deal), "crm", "onec") == doc["Ref_Key"]


def test_a_second_run_writes_nothing_to_1c(world: OneCWorld) -> None:
    prepare(world)
    run_all(world)
    writes = world.sim.writes

    reports = run_all(world)

    assert all(r.counts.created == r.counts.updated == 0 for r in reports.values())  # type: ignore[attr-defined]
    assert world.sim.writes == writes


def test_a_deal_whose_counterparty_is_missing_waits_and_is_replayed_automatically(world: OneCWorld) -> None:
    _, deal = prepare(world)
    world.run("nomenclature_to_1c")

    early = world.run("realizations_to_1c")

    letter = world.hub.store.dead_letters("realizations_to_1c")[0]
    assert early.counts.rejected == 1 and letter.error_class == "DependencyMissing"
    assert world.onec(DOC) == []
    world.run("counterparties_to_1c")
    world.run("contracts_to_1c")
    late = world.run("realizations_to_1c")
    assert late.counts.created == 1 and world.hub.store.dead_letters("realizations_to_1c") == []
    assert [d["Number"] for d in world.onec(DOC)] == [f"CRM-{deal}"]


def test_a_posting_refused_by_1c_is_a_dead_letter_and_goes_through_after_the_fix(world: OneCWorld) -> None:
    client, _ = prepare(world)
    bad = world.crm.deal(client, "shipped", [("PAP-A4-500", "Бумага", "0", "389.00")])

    run_all(world)

    [letter] = world.hub.store.dead_letters("realizations_to_1c")
    assert letter.source_key == str(bad) and letter.error_class == "BusinessError"
    assert 'Не заполнена колонка "Количество" в строке 1 списка "Товары"' in letter.message
    [unposted] = world.onec(DOC, Number=f"CRM-{bad}")
    assert unposted["Posted"] is False

    item = world.crm.one("deal_items", deal_id=bad)
    world.crm.update("deal_items", item["id"], quantity=Decimal(3), amount=Decimal("1167.00"))
    world.crm.update("deals", bad, amount=Decimal("1167.00"))
    report = world.run("realizations_to_1c")

    assert report.counts.updated == 1 and world.hub.store.dead_letters("realizations_to_1c") == []
    [fixed] = world.onec(DOC, Number=f"CRM-{bad}")
    assert fixed["Ref_Key"] == unposted["Ref_Key"] and fixed["Posted"] is True
    assert [r["Количество"] for r in fixed["Товары"]] == [3]


def test_an_edit_in_the_crm_updates_the_document_and_reposts_it(world: OneCWorld) -> None:
    _, deal = prepare(world)
    run_all(world)
    line = world.crm.rows("deal_items", deal_id=deal)[0]

    world.crm.update("deal_items", line["id"], quantity=Decimal(5), amount=Decimal("1945.00"))
    report = world.run("realizations_to_1c")

    [doc] = world.onec(DOC)
    assert report.counts.updated == 1 and doc["Posted"] is True
    assert [r["Количество"] for r in doc["Товары"]] == [5, 12.5] and doc["СуммаДокумента"] == 3176.25
    posts = [path for method, path in world.sim.log if method == "POST" and path.split("?")[0].endswith("/Post")]
    assert len(posts) == 2, "created and posted, then changed and posted again"


def test_a_deal_deleted_in_the_crm_marks_its_document_for_deletion(world: OneCWorld) -> None:
    _, deal = prepare(world)
    run_all(world)

    world.crm.delete_deal(deal)
    report = world.run("realizations_to_1c")

    [doc] = world.onec(DOC)
    assert report.counts.deleted == 1
    assert doc["DeletionMark"] is True and doc["Posted"] is False, "a marked document is no longer posted"
