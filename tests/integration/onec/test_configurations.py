"""The stock 1C mappings fit a smaller configuration than 1C:Бухгалтерия 3.0 by editing their settings: a
trimmed base without organizations, currencies, warehouses and contact-information kinds (the simulator's
``TRIMMED``), with the ``settings.omit`` lines docs/onec.md gives."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from sandbox.onec.config import TRIMMED
from sandbox.onec.world import EXCHANGES_FROM_1C, EXCHANGES_TO_1C, MAPPINGS, onec_world

#: the documented settings for a base without Catalog_Организации, _Валюты, _Склады, _ВидыКонтактнойИнформации
TRIMMED_SETTINGS = {
    "counterparties_to_1c": "omit: [КонтактнаяИнформация.Вид_Key]",
    "contracts_to_1c": "omit: [Организация_Key, ВалютаВзаиморасчетов_Key]",
    "realizations_to_1c": "omit: [Организация_Key, Склад_Key, ВалютаДокумента_Key]",
}


def edited_mappings(directory: Path) -> Path:
    shutil.copytree(MAPPINGS, directory)
    for name, setting in TRIMMED_SETTINGS.items():
        path = directory / f"{name}.yaml"
        text = path.read_text(encoding="utf-8")
        assert text.count("  omit: []\n") == 1
        path.write_text(text.replace("  omit: []\n", f"  {setting}\n"), encoding="utf-8")
    return directory


def test_the_stock_mappings_validate_and_run_against_a_trimmed_base_after_editing_settings(
        crm_database: tuple[str, str | None], tmp_path: Path) -> None:
    mappings = edited_mappings(tmp_path / "mappings")
    url, schema = crm_database
    with onec_world(tmp_path / "world", url, db_schema=schema, config=TRIMMED, mappings=mappings) as world:
        stock = world.hub.validate(sorted(MAPPINGS.glob("*1c*.yaml")))
        failing = {Path(f.error.file or "").stem for f in stock if not f.warning}
        assert failing == set(TRIMMED_SETTINGS), "as shipped, the BP 3.0 objects are missing"
        assert any("Catalog_Организации" in str(f.error) for f in stock)
        edited = sorted(mappings.glob("*1c*.yaml"))
        assert len(edited) == 8 and [str(f.error) for f in world.hub.validate(edited) if not f.warning] == []

        crm = world.crm
        crm.product("PAP-A4-500", "Бумага офисная А4")
        client = crm.client("ООО «Вектор»", "7701234560", "770101001", phone="+7 495 123-45-67",
                            email="buh@vector.ru")
        deal = crm.deal(client, "shipped", [("PAP-A4-500", "Бумага", "10", "389.00")])
        crm.invoice(deal, "СЧ-2025-00001", "3890.00")
        for name in EXCHANGES_TO_1C:
            report = world.run(name)
            assert report.counts.rejected == 0 and report.counts.created == 1, (name, report.counts)
        [doc] = world.onec("Document_РеализацияТоваровУслуг")
        [counterparty] = world.onec("Catalog_Контрагенты")
        assert doc["Posted"] is True and "Организация_Key" not in doc
        assert sorted(row["Тип"] for row in counterparty["КонтактнаяИнформация"]) == ["АдресЭлектроннойПочты",
                                                                                      "Телефон"]
        world.accountant.receipt_based_on(doc["Ref_Key"], dt.datetime(2025, 3, 10, 9, 15))
        for name in EXCHANGES_FROM_1C:
            world.run(name)

        assert (crm.one("payments", deal_id=deal)["amount"], crm.one("invoices", deal_id=deal)["status"]) == \
            (3890, "paid")
