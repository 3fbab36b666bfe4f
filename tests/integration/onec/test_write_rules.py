"""What the hub may and may not do to 1C's data (issue 10), through ``hub run`` against the simulated 1C on
real HTTP, with the CRM in SQLite and in the real PostgreSQL:

* rows of a tabular section belong to whoever made them (``owns``);
* an accountant's save between the hub's read and its write is not overwritten;
* a document marked for deletion is not left posted;
* a plain 500 (no OData error body) or an HTML page is a transient fault, not the end of the run;
* an ambiguous match is never resolved by chance;
* an object that 1C documents refer to is reported as such before anyone deletes or marks it;
* leaving the scope is not a deletion; a value a conversion empties is a warning; an unknown outcome settles.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.onec.options import ODataTargetOptions
from hub.connector import WriteAction
from hub.errors import RetriableError
from hub.testing.databases import postgres_schema, schema_of
from sandbox.onec.faults import Faults
from sandbox.onec.seed import seed_nomenclature
from sandbox.onec.world import EXCHANGES_TO_1C, OneCWorld, onec_world

PARTNERS = "Catalog_Контрагенты"
DOC = "Document_РеализацияТоваровУслуг"
ITEM = [("PAP-A4-500", "Бумага", "2", "389.00")]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OneCWorld]:
    if request.param == "sqlite":
        with onec_world(tmp_path, f"sqlite:///{tmp_path / 'crm.db'}") as opened:
            yield opened
        return
    with postgres_schema("hub_onec") as url:
        schema = schema_of(url)
        with onec_world(tmp_path, url, db_schema=schema) as opened:
            yield opened


def address_row(world: OneCWorld) -> dict[str, Any]:
    """The legal address an accountant types into a counterparty's contact information."""
    kind = world.onec("Catalog_ВидыКонтактнойИнформации", PredefinedDataName="ЮрАдресКонтрагента")[0]["Ref_Key"]
    return {"Тип": "Адрес", "Вид_Key": kind, "Представление": "109012, г. Москва, ул. Ильинка, д. 4",
            "Город": "Москва", "Страна": "РОССИЯ",
            "ЗначенияПолей": '<КонтактнаяИнформация Представление="109012, г. Москва, ул. Ильинка, д. 4"/>'}


def add_row(world: OneCWorld, ref: str, row: dict[str, Any]) -> None:
    rows = world.sim.store.get(PARTNERS, ref)["КонтактнаяИнформация"]
    world.accountant.edit(PARTNERS, ref, КонтактнаяИнформация=[*rows, {**row, "LineNumber": len(rows) + 1}])


def contacts(world: OneCWorld, ref: str) -> list[tuple[int, str, str]]:
    return [(r["LineNumber"], r["Тип"], r["Представление"])
            for r in world.sim.store.get(PARTNERS, ref)["КонтактнаяИнформация"]]


def created_counterparty(world: OneCWorld, inn: str = "7703456781") -> tuple[int, str]:
    client = world.crm.client("ООО «Меридиан»", inn, "770301001", phone="+7 495 000-00-01", email="a@meridian.ru")
    world.crm.deal(client, "shipped", ITEM)
    world.run("counterparties_to_1c")
    return client, world.onec(PARTNERS, ИНН=inn)[0]["Ref_Key"]


# -- item 3: rows of a tabular section belong to whoever made them ----------------------------------------

def test_a_changed_phone_replaces_only_the_hubs_row_and_the_accountants_address_stays(world: OneCWorld) -> None:
    client, ref = created_counterparty(world)
    add_row(world, ref, address_row(world))
    address = world.sim.store.get(PARTNERS, ref)["КонтактнаяИнформация"][-1]

    world.crm.update("clients", client, phone="+7 495 000-00-02")
    report = world.run("counterparties_to_1c")

    assert report.counts.updated == 1
    assert contacts(world, ref) == [(1, "Телефон", "+74950000002"), (2, "АдресЭлектроннойПочты", "a@meridian.ru"),
                                    (3, "Адрес", "109012, г. Москва, ул. Ильинка, д. 4")]
    kept = world.sim.store.get(PARTNERS, ref)["КонтактнаяИнформация"][2]
    assert {k: v for k, v in kept.items() if k != "LineNumber"} == \
        {k: v for k, v in address.items() if k != "LineNumber"}, "the accountant's row keeps every value"
    writes = world.sim.writes
    assert world.run("counterparties_to_1c").counts.updated == 0 and world.sim.writes == writes


def test_linking_a_counterparty_1c_already_had_adds_the_crms_rows_and_removes_none(world: OneCWorld) -> None:
    phone_kind = world.onec("Catalog_ВидыКонтактнойИнформации", PredefinedDataName="ТелефонКонтрагента")[0]
    existing = world.accountant.counterparty(
        Description="Гранит АО", ИНН="7702345674", КПП="770201001",
        КонтактнаяИнформация=[{"LineNumber": 1, "Тип": "Телефон", "Вид_Key": phone_kind["Ref_Key"],
                               "Представление": "+7 (495) 777-66-55", "НомерТелефона": "+7 (495) 777-66-55"},
                              {"LineNumber": 2, **address_row(world)}])
    client = world.crm.client("АО «Гранит»", "7702345674", "770201001", phone="+7 495 100-20-30",
                              email="info@granit.ru")
    world.crm.deal(client, "paid", ITEM)

    world.run("counterparties_to_1c")

    assert contacts(world, existing["Ref_Key"]) == [
        (1, "Телефон", "+7 (495) 777-66-55"), (2, "Адрес", "109012, г. Москва, ул. Ильинка, д. 4"),
        (3, "Телефон", "+74951002030"), (4, "АдресЭлектроннойПочты", "info@granit.ru")]
    writes = world.sim.writes
    assert world.run("counterparties_to_1c").counts.updated == 0 and world.sim.writes == writes

    world.crm.update("clients", client, phone="+7 495 100-20-31")
    world.run("counterparties_to_1c")
    assert [r[1:] for r in contacts(world, existing["Ref_Key"])][:2] == [
        ("Телефон", "+7 (495) 777-66-55"), ("Адрес", "109012, г. Москва, ул. Ильинка, д. 4")], \
        "on an object the hub did not create, it never removes a row"


# -- item 4: no lost update ---------------------------------------------------------------------------

def test_an_accountants_save_between_the_hubs_read_and_its_write_survives(world: OneCWorld) -> None:
    client, ref = created_counterparty(world)
    world.crm.update("clients", client, phone="+7 495 000-00-02")
    # she adds the address right after the hub read the counterparty, before it writes (If-Match ignored)
    world.sim.odata.interleave(PARTNERS, ref, lambda: add_row(world, ref, address_row(world)), when="after_read")

    report = world.run("counterparties_to_1c")

    assert report.counts.updated == 1 and world.sim.odata.interleaved == []
    assert contacts(world, ref) == [(1, "Телефон", "+74950000002"), (2, "АдресЭлектроннойПочты", "a@meridian.ru"),
                                    (3, "Адрес", "109012, г. Москва, ул. Ильинка, д. 4")]


def test_a_save_just_before_the_write_is_caught_by_if_match_where_1c_honours_it(world: OneCWorld) -> None:
    client, ref = created_counterparty(world)
    world.crm.update("clients", client, phone="+7 495 000-00-02")
    world.sim.odata.if_match = "enforce"
    world.sim.odata.interleave(PARTNERS, ref, lambda: add_row(world, ref, address_row(world)), when="before_write")

    report = world.run("counterparties_to_1c")

    patches = [path for method, path in world.sim.log if method == "PATCH"]
    assert report.counts.updated == 1 and len(patches) == 2, "refused with 412 once, then re-planned and written"
    assert [r[1] for r in contacts(world, ref)] == ["Телефон", "АдресЭлектроннойПочты", "Адрес"]


# -- item 5: a marked document is not left posted -----------------------------------------------------

def test_a_realization_marked_for_deletion_is_unposted_first(world: OneCWorld) -> None:
    world.sim.business.marking_keeps_posting = True  # what a live BP 3.0 publication does
    world.crm.product("PAP-A4-500", "Бумага")
    client = world.crm.client("ООО «Вектор»", "7701234560", "770101001")
    deal = world.crm.deal(client, "shipped", ITEM)
    for name in EXCHANGES_TO_1C:
        world.run(name)
    [doc] = world.onec(DOC)
    assert doc["Posted"] is True

    world.crm.delete_deal(deal)
    report = world.run("realizations_to_1c")

    [marked] = world.onec(DOC)
    assert report.counts.deleted == 1 and (marked["DeletionMark"], marked["Posted"]) == (True, False)
    calls = [(method, path.split("?")[0].rsplit("/", 1)[-1]) for method, path in world.sim.log
             if method in ("POST", "PATCH") and doc["Ref_Key"] in path]
    assert calls[-2:] == [("POST", "Unpost"), ("PATCH", f"{DOC}(guid'{doc['Ref_Key']}')")]


# -- item 6: a plain 500 is a transient fault -----------------------------------------------------------

def test_plain_500s_and_html_pages_do_not_end_the_run_and_create_nothing_twice(world: OneCWorld) -> None:
    for number in range(6):
        client = world.crm.client(f"ООО «Клиент {number}»", f"77{number + 10:02d}{number * 7919:06d}",
                                  f"77{number + 10:02d}01001", phone=f"+7 916 000-00-{number:02d}")
        world.crm.deal(client, "shipped", ITEM)
    world.sim.faults = Faults(failure_rate=0.3, kinds=("500", "html200"), lost_write_rate=0.1, seed=5)

    report = world.run("counterparties_to_1c")

    assert world.sim.faults.counts["500"] >= 3 and world.sim.faults.counts["html200"] >= 3
    assert report.status == "success" and report.counts.created == 6
    assert world.hub.store.dead_letters("counterparties_to_1c") == []
    assert sorted(len(world.onec(PARTNERS, ИНН=o["ИНН"])) for o in world.onec(PARTNERS)) == [1] * 6


def test_a_create_answered_with_a_plain_500_is_looked_up_then_sent_again(world: OneCWorld) -> None:
    connector = world.hub.connector("onec_odata", "onec")
    record = connector.prepare(PARTNERS, {"Description": "Пятисотый", "ИНН": "7701234560", "КПП": ""})
    world.sim.faults.kinds, world.sim.faults.fail_next = ("500",), 1  # the create never reaches 1C

    [result] = connector.write(PARTNERS, [WriteAction("create", "1", record, {"ИНН": "7701234560", "КПП": ""},
                                                      None, "k")], ODataTargetOptions())
    connector.close()

    posts = [path for method, path in world.sim.log if method == "POST"]
    assert result.status == "created" and len(posts) == 2
    assert len(world.onec(PARTNERS, ИНН="7701234560")) == 1


# -- item 8: an ambiguous match is never resolved by chance ---------------------------------------------

def test_two_items_with_one_article_go_to_dead_letters_naming_both(world: OneCWorld) -> None:
    first, second = seed_nomenclature(world.sim.store, (("PAP-A4-500", "Бумага А4"), ("PAP-A4-501", "Бумага")))
    world.accountant.edit("Catalog_Номенклатура", second["Ref_Key"], Артикул="PAP-A4-500")  # a typo by hand
    world.crm.product("PAP-A4-500", "Бумага офисная А4")
    client = world.crm.client("ООО «Вектор»", "7701234560", "770101001")
    world.crm.deal(client, "shipped", ITEM)

    report = world.run("nomenclature_to_1c")

    [letter] = world.hub.store.dead_letters("nomenclature_to_1c")
    assert report.counts.rejected == 1 and letter.source_key == "PAP-A4-500"
    assert first["Ref_Key"] in letter.message and second["Ref_Key"] in letter.message
    assert len(world.onec("Catalog_Номенклатура")) == 2, "nothing created, nothing linked"
    assert world.hub.store.key_lookup("nomenclature", "PAP-A4-500", "crm", "onec") is None


def test_two_counterparties_with_one_inn_and_kpp_go_to_dead_letters_naming_both(world: OneCWorld) -> None:
    one = world.accountant.counterparty(Description="Альфа ООО", ИНН="7704567898", КПП="770401001")
    two = world.accountant.counterparty(Description="Альфа ООО (дубль)", ИНН="7704567898", КПП="770401001")
    marked = world.accountant.counterparty(Description="Альфа (удален)", ИНН="7704567898", КПП="770401001",
                                           DeletionMark=True)
    client = world.crm.client("ООО «Альфа»", "7704567898", "770401001")
    world.crm.deal(client, "shipped", ITEM)

    report = world.run("counterparties_to_1c")

    [letter] = world.hub.store.dead_letters("counterparties_to_1c")
    assert report.counts.rejected == 1
    assert one["Ref_Key"] in letter.message and two["Ref_Key"] in letter.message
    assert marked["Ref_Key"] not in letter.message, "an object marked for deletion is no candidate"
    assert len(world.onec(PARTNERS, ИНН="7704567898")) == 3


def test_a_lookup_that_finds_two_warehouses_names_both_instead_of_taking_one(world: OneCWorld) -> None:
    [main] = world.onec("Catalog_Склады")
    copy = world.sim.store.put("Catalog_Склады", {**main, "Ref_Key": "0f0f0f0f-0000-4000-8000-000000000001",
                                                   "Code": "00-0000099"})  # typed twice by hand
    world.crm.product("PAP-A4-500", "Бумага")
    client = world.crm.client("ООО «Вектор»", "7701234560", "770101001")
    world.crm.deal(client, "shipped", ITEM)
    for name in EXCHANGES_TO_1C[:3]:
        world.run(name)

    report = world.run("realizations_to_1c")

    [letter] = world.hub.store.dead_letters("realizations_to_1c")
    assert report.counts.rejected == 1 and "lookup 'warehouse'" in letter.message
    assert main["Ref_Key"] in letter.message and copy["Ref_Key"] in letter.message
    assert world.onec(DOC) == []


# -- item 2 (1C side): objects that documents refer to ------------------------------------------------

def test_a_counterparty_with_documents_in_1c_is_blocked_from_deletion_naming_them(world: OneCWorld) -> None:
    _, with_receipt = created_counterparty(world, "7703456781")
    _, with_nothing = created_counterparty(world, "7705678901")
    _, marked_only = created_counterparty(world, "7706789012")
    receipt = world.accountant.bank_receipt(with_receipt, 1200, "Оплата", dt.datetime(2025, 3, 5, 10, 0))
    old = world.accountant.bank_receipt(marked_only, 1200, "Оплата", dt.datetime(2025, 3, 5, 10, 0))
    world.accountant.edit("Document_ПоступлениеНаРасчетныйСчет", old["Ref_Key"], DeletionMark=True)
    connector = world.hub.connector("onec_odata", "onec")

    blockers = connector.deletion_blockers(PARTNERS, [with_receipt, with_nothing, marked_only])
    connector.close()

    assert set(blockers) == {with_receipt}
    assert f"Document_ПоступлениеНаРасчетныйСчет {receipt['Number']} of 05.03.2025" in blockers[with_receipt]


def test_a_client_deleted_in_the_crm_whose_counterparty_has_documents_in_1c_waits_for_a_person(
        world: OneCWorld) -> None:
    client, ref = created_counterparty(world)
    receipt = world.accountant.bank_receipt(ref, 778, "Оплата по счету № 1", dt.datetime(2025, 3, 5, 10, 0))

    for deal in world.crm.rows("deals", client_id=client):
        world.crm.delete_deal(deal["id"])
    world.crm.delete("clients", id=client)
    report = world.run("counterparties_to_1c")

    [letter] = world.hub.store.dead_letters("counterparties_to_1c")
    assert report.counts.deleted == 0 and letter.error_class == "NeedsPerson"
    assert f"Document_ПоступлениеНаРасчетныйСчет {receipt['Number']} of 05.03.2025" in letter.message
    assert world.sim.store.get(PARTNERS, ref)["DeletionMark"] is False, "not marked while documents refer to it"


# -- item 2: leaving the scope is not a deletion -----------------------------------------------------------


def test_a_client_whose_only_deal_was_lost_keeps_its_counterparty_unmarked(world: OneCWorld) -> None:
    client, ref = created_counterparty(world)
    [deal] = world.crm.rows("deals", client_id=client)
    world.crm.update("deals", deal["id"], stage="lost")

    plan = world.hub.plan("counterparties_to_1c")
    report = world.run("counterparties_to_1c")

    assert (plan.counts.deleted, report.counts.deleted) == (0, 0)
    assert report.counts.out_of_scope == 1, "left the scope: counted as such, not deleted"
    assert world.sim.store.get(PARTNERS, ref)["DeletionMark"] is False


# -- item 9: nothing is dropped silently ---------------------------------------------------------------------


def test_an_invalid_crm_phone_is_a_warning_naming_the_client_not_a_silent_gap(world: OneCWorld) -> None:
    client = world.crm.client("ООО «Квадрат»", "7707654321", "770701001", phone="12-34", email="info@kvadrat.ru")
    world.crm.deal(client, "shipped", ITEM)

    report = world.run("counterparties_to_1c")

    [counterparty] = world.onec(PARTNERS, ИНН="7707654321")
    assert [row["Тип"] for row in counterparty["КонтактнаяИнформация"]] == ["АдресЭлектроннойПочты"]
    assert report.counts.created == 1 and report.counts.warnings == 1
    [warning] = report.warnings
    assert warning.source_key == str(client) and "phone" in f"{warning.field} {warning.problem}"
    assert "12-34" not in warning.problem, "the value itself never goes to a log or a note"


# -- item 10: the effect ledger settles ------------------------------------------------------------------------


class LoseTheAnswerThenFailEverything(Faults):
    """1C applies the create, its answer is lost, and 1C stays unreachable until the run gives up: the
    create's outcome is unknown when the run ends."""

    def lose_response(self) -> bool:
        self.failure_rate, self.kinds, self.weights = 1.0, ("503",), None
        return True


def test_a_create_left_unknown_by_a_failed_run_is_settled_by_lookup_in_the_next(world: OneCWorld) -> None:
    client = world.crm.client("ООО «Меридиан»", "7703456781", "770301001", phone="+7 495 000-00-01")
    world.crm.deal(client, "shipped", ITEM)
    world.sim.faults = LoseTheAnswerThenFailEverything()
    with pytest.raises(RetriableError):
        world.run("counterparties_to_1c")
    assert len(world.onec(PARTNERS, ИНН="7703456781")) == 1, "1C applied the create"

    world.sim.faults = Faults.none()
    report = world.run("counterparties_to_1c")

    assert (report.ledger_settled, report.ledger_unknown, report.counts.created) == (1, 0, 0)
    assert len(world.onec(PARTNERS, ИНН="7703456781")) == 1, "settled by lookup, never created twice"
    assert world.run("counterparties_to_1c").counts.updated == 0
