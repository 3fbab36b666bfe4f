"""Exchange 3's nomenclature: only sold items go to 1C (a line of a deal at a sold stage), never the price list."""

from __future__ import annotations

from sandbox.onec.world import OneCWorld

ITEMS = "Catalog_Номенклатура"


def articles(world: OneCWorld) -> list[str]:
    return sorted(o["Артикул"] for o in world.onec(ITEMS))


def test_only_sold_items_are_created_and_an_item_crosses_once_it_is_sold(any_world: OneCWorld) -> None:
    world, crm = any_world, any_world.crm
    for sku, name in (("BLT-M8-100", "Болт М8х100"), ("NUT-M8", "Гайка М8"), ("PIPE-32", "Труба ПНД 32 мм"),
                      ("TAPE-48", "Скотч 48 мм"), ("GLV-NTR-9", "Перчатки нитриловые")):
        crm.product(sku, name)
    client = crm.client("ООО «Вектор»", "7701234560", "770101001")
    crm.deal(client, "shipped", [("BLT-M8-100", "Болт", "100", "12.00")])
    crm.deal(client, "paid", [("NUT-M8", "Гайка", "100", "3.00")])
    offer = crm.deal(client, "in_progress", [("PIPE-32", "Труба", "10", "80.00")])  # not sold yet
    crm.deal(client, "lost", [("TAPE-48", "Скотч", "5", "90.00")])  # never sold
    # GLV-NTR-9 is on no deal at all: the price list alone never crosses

    first = world.run("nomenclature_to_1c")

    assert first.counts.created == 2
    assert articles(world) == ["BLT-M8-100", "NUT-M8"]

    crm.update("deals", offer, stage="shipped")
    second = world.run("nomenclature_to_1c")

    assert second.counts.created == 1
    assert articles(world) == ["BLT-M8-100", "NUT-M8", "PIPE-32"]
    assert world.run("nomenclature_to_1c").counts.created == 0
