"""Exchange 2 end to end: CRM clients with a realization -> 1C counterparties over real OData."""

from __future__ import annotations

from sandbox.onec.world import OneCWorld

ITEM = [("BLT-M8", "Болт М8", "10", "12.50")]


def test_only_clients_with_a_realization_cross_and_an_existing_counterparty_is_linked_not_duplicated(
        world: OneCWorld) -> None:
    crm = world.crm
    shipped = crm.client("ООО «Вектор»", "7701234560", "770101001", phone="8 (916) 123-45-67",
                         email="Sales@Vector.ru ", full_name="Общество с ограниченной ответственностью «Вектор»")
    crm.deal(shipped, "shipped", ITEM)
    prospect = crm.client("ООО «Лид»", "7701234578", "770101001")
    crm.deal(prospect, "new", ITEM)
    known = crm.client("ИП Петров Пётр Петрович", "500100732259", "", legal_form="ИП", phone="+7 903 111 22 33")
    crm.deal(known, "invoiced", ITEM)
    existing = world.accountant.counterparty(Description="Петров П.П. ИП", ИНН="500100732259", КПП="")

    report = world.run("counterparties_to_1c")

    assert (report.counts.read, report.counts.created, report.counts.updated) == (2, 1, 1)
    vector = world.onec("Catalog_Контрагенты", ИНН="7701234560")
    assert len(vector) == 1 and world.onec("Catalog_Контрагенты", ИНН="7701234578") == []
    created = vector[0]
    assert [created[f] for f in ("Description", "НаименованиеПолное", "КПП", "ЮридическоеФизическоеЛицо")] == \
        ["ООО «Вектор»", "Общество с ограниченной ответственностью «Вектор»", "770101001", "ЮридическоеЛицо"]
    contacts = {row["Тип"]: row for row in created["КонтактнаяИнформация"]}
    assert contacts["Телефон"]["Представление"] == "+79161234567"
    assert contacts["АдресЭлектроннойПочты"]["АдресЭП"] == "sales@vector.ru"
    kinds = {o["Ref_Key"]: o["PredefinedDataName"] for o in world.onec("Catalog_ВидыКонтактнойИнформации")}
    assert kinds[contacts["Телефон"]["Вид_Key"]] == "ТелефонКонтрагента"
    petrov = world.onec("Catalog_Контрагенты", ИНН="500100732259")
    assert len(petrov) == 1 and petrov[0]["Ref_Key"] == existing["Ref_Key"]
    assert petrov[0]["Description"] == "Петров П.П. ИП", "1C owns the name of a counterparty it already had"
    assert [row["НомерТелефона"] for row in petrov[0]["КонтактнаяИнформация"]] == ["+79031112233"]
    store = world.hub.store
    assert store.key_lookup("counterparty", str(shipped), "crm", "onec") == created["Ref_Key"]
    assert store.key_lookup("counterparty", str(known), "crm", "onec") == existing["Ref_Key"]


def test_a_second_run_writes_nothing(world: OneCWorld) -> None:
    client = world.crm.client("АО «Гранит»", "7702345674", "770201001", phone="+7 495 100-20-30")
    world.crm.deal(client, "paid", ITEM)
    world.run("counterparties_to_1c")
    writes = world.sim.writes

    second = world.run("counterparties_to_1c")

    assert (second.counts.read, second.counts.unchanged, second.counts.created, second.counts.updated) == (1, 1, 0, 0)
    assert world.sim.writes == writes


def test_names_belong_to_1c_after_creation_but_a_changed_phone_crosses(world: OneCWorld) -> None:
    client = world.crm.client("ООО «Меридиан»", "7703456781", "770301001", phone="+7 495 000-00-01")
    world.crm.deal(client, "shipped", ITEM)
    world.run("counterparties_to_1c")
    ref = world.onec("Catalog_Контрагенты", ИНН="7703456781")[0]["Ref_Key"]
    world.accountant.edit("Catalog_Контрагенты", ref, Description="Меридиан ООО (Москва)")

    world.crm.update("clients", client, name="ООО «Меридиан-Север»", phone="+7 495 000-00-02")
    report = world.run("counterparties_to_1c")

    after = world.sim.store.get("Catalog_Контрагенты", ref)
    assert report.counts.updated == 1
    assert after["Description"] == "Меридиан ООО (Москва)"
    assert [row["НомерТелефона"] for row in after["КонтактнаяИнформация"]] == ["+74950000002"]


def test_a_client_deleted_in_the_crm_is_marked_for_deletion_in_1c(world: OneCWorld) -> None:
    keep = world.crm.client("ООО «Альфа»", "7704567898", "770401001")
    world.crm.deal(keep, "shipped", ITEM)
    gone = world.crm.client("ООО «Бета»", "7705678901", "770501001")
    gone_deal = world.crm.deal(gone, "shipped", ITEM)
    world.run("counterparties_to_1c")

    world.crm.delete_deal(gone_deal)
    world.crm.delete("clients", id=gone)
    report = world.run("counterparties_to_1c")

    assert report.counts.deleted == 1
    marked = world.onec("Catalog_Контрагенты", ИНН="7705678901")
    assert len(marked) == 1 and marked[0]["DeletionMark"] is True, "marked, never physically deleted"
    assert world.onec("Catalog_Контрагенты", ИНН="7704567898")[0]["DeletionMark"] is False
