"""The OData connector against the simulator over real HTTP: auth, paging, values, errors, the version sweep."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests

from connectors.onec import ODataConnector
from connectors.onec.options import ODataSourceOptions, ODataTargetOptions
from connectors.onec.transport import OneCError, parse_error
from hub.connections import from_mapping
from hub.connector import ReadRequest, WriteAction
from hub.errors import AuthError, ConfigError, RetriableError
from hub.mapping.model import Incremental
from hub.settings import HubSettings, RetryPolicy
from sandbox.onec import OneCSimulator, seed_counterparties
from sandbox.onec.seed import Accountant

MOSCOW = ZoneInfo("Europe/Moscow")
PARTNERS = "Catalog_Контрагенты"


def connector(sim: OneCSimulator, tmp_path: Path, **overrides: object) -> ODataConnector:
    settings = HubSettings(home=tmp_path, retry=RetryPolicy(attempts=3, initial_wait=0, max_wait=0))
    return ODataConnector(from_mapping("onec", {**sim.connection("odata"), **overrides}), settings)


def request(stream: str, fields: set[str] | None, strategy: str = "hash", batch: int = 10,
            known: dict[str, str] | None = None, **options: object) -> ReadRequest:
    incremental = Incremental(strategy=strategy, version_field="DataVersion" if strategy == "version" else None,
                              detect_deletes=strategy != "cursor") if strategy != "cursor" else \
        Incremental(strategy="cursor", cursor="Date", lookback=86400)
    return ReadRequest(stream=stream, key=("Ref_Key",), fields=frozenset(fields) if fields is not None else None,
                       incremental=incremental, checkpoint=None, batch_size=batch,
                       options=ODataSourceOptions(**options),  # type: ignore[arg-type]
                       known_versions=(lambda keys: {k: known[k] for k in keys if k in known}) if known is not None
                       else None)


def test_a_cyrillic_login_works_where_requests_default_basic_auth_cannot_even_encode_it(
        sim: OneCSimulator, tmp_path: Path) -> None:
    with pytest.raises(UnicodeEncodeError):
        requests.get(sim.url + "/odata/standard.odata/", auth=("Интеграция", "Пароль-1С"), timeout=5)

    assert "visible to 'Интеграция'" in connector(sim, tmp_path).check()


def test_wrong_credentials_are_an_auth_error_that_does_not_show_the_password(sim: OneCSimulator,
                                                                              tmp_path: Path) -> None:
    with pytest.raises(AuthError) as caught:
        connector(sim, tmp_path, password="неверный-пароль").check()
    assert "401" in str(caught.value) and "неверный-пароль" not in str(caught.value)


def test_pages_with_top_and_skip_selecting_only_the_mapped_fields(sim: OneCSimulator, tmp_path: Path) -> None:
    seed_counterparties(sim.store, 25)
    onec = connector(sim, tmp_path)

    batches = list(onec.read(request(PARTNERS, {"Description", "ИНН"}, batch=10)))

    assert [len(b.records) for b in batches] == [10, 10, 5] and batches[-1].checkpoint is None
    assert len({r["Ref_Key"] for b in batches for r in b.records}) == 25
    assert set(batches[0].records[0]) == {"Ref_Key", "Description", "ИНН"}
    reads = [path for method, path in sim.log if method == "GET" and f"/{PARTNERS}?" in path]
    assert all("$select=Ref_Key,Description,ИНН" in p and "$orderby=Ref_Key" in p for p in reads)
    assert ["$top=11" in p for p in reads] == [True, True, True] and "$skip=20" in reads[-1]
    assert not any("$inlinecount" in path for _, path in sim.log), "$inlinecount makes 1C ignore $top"


def test_values_are_converted_faithfully(sim: OneCSimulator, tmp_path: Path) -> None:
    accountant = Accountant(sim.store)
    payer = accountant.counterparty(Description="Вектор ООО", ИНН="7701234560", КПП="770101001")
    accountant.bank_receipt(payer["Ref_Key"], 1234.56, "Оплата", dt.datetime(2025, 3, 4, 10, 30))
    accountant.cash_receipt(payer["Ref_Key"], 99, "Оплата наличными", dt.datetime(2025, 3, 5, 9, 0))

    [bank] = [r for b in connector(sim, tmp_path).read(request("Document_ПоступлениеНаРасчетныйСчет", None))
              for r in b.records]
    [cash] = [r for b in connector(sim, tmp_path).read(request("Document_ПриходныйКассовыйОрдер", None))
              for r in b.records]

    assert bank["Date"] == dt.datetime(2025, 3, 4, 10, 30, tzinfo=MOSCOW), "naive server time in the server's zone"
    assert bank["ДатаВходящегоДокумента"] == dt.datetime(2025, 3, 4, tzinfo=MOSCOW)
    assert bank["СуммаДокумента"] == Decimal("1234.56") and isinstance(bank["СуммаДокумента"], Decimal)
    row = bank["РасшифровкаПлатежа"][0]
    assert row["LineNumber"] == 1 and row["КратностьВзаиморасчетов"] == 1, "Int64 arrives as text, read as int"
    assert row["СчетНаОплату_Key"] is None, "the all-zero GUID is an empty reference"
    assert "Ref_Key" not in row
    assert (cash["Контрагент"], cash["Контрагент_Type"]) == (payer["Ref_Key"], "Catalog_Контрагенты")
    [partner] = seed_counterparties(sim.store, 1)
    contracts = connector(sim, tmp_path).lookup("Catalog_ДоговорыКонтрагентов", ["Owner_Key"],
                                                [(partner["Ref_Key"],)], ["Дата", "Parent_Key"])
    contract = contracts[(partner["Ref_Key"],)]
    assert contract["Дата"] is None, "1C's empty date 0001-01-01T00:00:00 is no date"
    assert contract["Parent_Key"] is None


def test_written_values_reach_1c_in_its_wire_form(sim: OneCSimulator, tmp_path: Path) -> None:
    onec = connector(sim, tmp_path)
    payer = Accountant(sim.store).counterparty(Description="Вектор ООО", ИНН="7701234560", КПП="770101001")
    record = onec.prepare("Document_ПриходныйКассовыйОрдер", {
        "Date": dt.datetime(2025, 3, 5, 6, 0, tzinfo=dt.UTC), "Контрагент": payer["Ref_Key"].upper(),
        "Контрагент_Type": "Catalog_Контрагенты", "СуммаДокумента": Decimal("10.10"), "Основание": None,
        "РасшифровкаПлатежа": [{"СуммаПлатежа": "10.10", "КратностьВзаиморасчетов": 1}]})

    [result] = onec.write("Document_ПриходныйКассовыйОрдер", [WriteAction("create", "1", record, {}, None, "k")],
                          ODataTargetOptions())

    stored = sim.store.get("Document_ПриходныйКассовыйОрдер", result.target_key)
    assert stored["Date"] == "2025-03-05T09:00:00", "an aware time becomes 1C's naive local time"
    assert (stored["Контрагент"], stored["Контрагент_Type"]) == (payer["Ref_Key"], "StandardODATA.Catalog_Контрагенты")
    assert stored["СуммаДокумента"] == 10.1 and stored["Основание"] == ""
    [row] = stored["РасшифровкаПлатежа"]
    assert (row["LineNumber"], row["СуммаПлатежа"], row["КратностьВзаиморасчетов"]) == (1, 10.1, 1)


def test_a_misspelled_filter_field_is_an_error_not_an_empty_result(sim: OneCSimulator, tmp_path: Path) -> None:
    seed_counterparties(sim.store, 3)
    raw = requests.get(sim.url + "/odata/standard.odata/" + PARTNERS,
                       params={"$format": "json", "$filter": "ИННН eq '1'"},
                       headers={"Authorization": connector(sim, tmp_path).client.session.headers["Authorization"]},
                       timeout=5)
    assert raw.status_code == 200 and raw.json()["value"] == [], "what 1C itself does with a typo"

    with pytest.raises(ConfigError, match="ИННН"):
        list(connector(sim, tmp_path).read(request(PARTNERS, {"Description"}, where={"ИННН": "1"})))


def test_an_error_in_1cs_default_xml_is_read_as_well_as_json(sim: OneCSimulator, tmp_path: Path) -> None:
    missing = f"{sim.url}/odata/standard.odata/{PARTNERS}(guid'{'0' * 8}-0000-0000-0000-{'1' * 12}')"
    client = connector(sim, tmp_path).client

    as_xml = client.session.get(missing, timeout=5)
    as_json = client.session.get(missing, params={"$format": "json"}, timeout=5)

    assert as_xml.headers["Content-Type"].startswith("application/xml")
    assert parse_error(as_xml) == parse_error(as_json) == OneCError("9", "Entity instance not found")
    client.close()


def test_transient_failures_are_retried_for_reads_and_html_pages_are_not_parsed(sim: OneCSimulator,
                                                                             tmp_path: Path) -> None:
    seed_counterparties(sim.store, 5)
    sim.faults.kinds, sim.faults.fail_next = ("html200", "drop"), 2  # an HTML page with status 200; a dropped line

    records = [r for b in connector(sim, tmp_path).read(request(PARTNERS, {"ИНН"})) for r in b.records]

    assert len(records) == 5 and sim.faults.counts == {"html200": 1, "drop": 1}
    sim.faults.failure_rate, sim.faults.kinds = 1.0, ("html200",)
    with pytest.raises(RetriableError, match="HTML page instead of OData"):
        connector(sim, tmp_path).check()


def test_metadata_is_fetched_once_per_process(sim: OneCSimulator, tmp_path: Path) -> None:
    for _ in range(3):
        onec = connector(sim, tmp_path)
        onec.describe(PARTNERS)
        onec.describe("Document_РеализацияТоваровУслуг")
    assert [path for _, path in sim.log].count("/buh/odata/standard.odata/$metadata") == 1


def test_the_version_sweep_reads_only_changed_objects_and_repeats_itself_when_the_set_moves(
        sim: OneCSimulator, tmp_path: Path) -> None:
    partners = seed_counterparties(sim.store, 30)
    onec = connector(sim, tmp_path)
    known = {p["Ref_Key"]: p["DataVersion"] for p in partners}
    edited = partners[7]["Ref_Key"]
    Accountant(sim.store).edit(PARTNERS, edited, Комментарий="изменён")
    pages: list[list[str]] = []  # the keys of each header page the sweep read

    def versions(keys: list[str]) -> dict[str, str]:
        if not pages:  # while the sweep pages, an accountant deletes an object of a page already read
            sim.store.delete(PARTNERS, keys[1])
        pages.append(list(keys))
        return {k: known[k] for k in keys if k in known}

    req = request(PARTNERS, {"Description"}, strategy="version")
    batches = list(onec.read(ReadRequest(**{**req.__dict__, "known_versions": versions})))

    living = set(known) - {pages[0][1]}
    sweeps = [i for i, page in enumerate(pages) if page[0] == pages[0][0]]
    final = {key for page in pages[sweeps[-1]:] for key in page}
    assert len(sweeps) == 2, "the moved set made the connector sweep again"
    assert final == living, "the sweep that completes sees every living object, and only those"
    assert batches[-1].checkpoint is None, "only a consistent sweep lets the runner detect deletions"
    assert all(b.checkpoint is not None for b in batches[:-1])
    assert {r["Ref_Key"] for b in batches for r in b.records} == {edited}, "only the edited object is fetched"


def test_the_lookup_matches_values_as_1c_compares_them(sim: OneCSimulator, tmp_path: Path) -> None:
    Accountant(sim.store).counterparty(Description="Ромашка ООО", ИНН="7701234560", КПП="770101001")
    marked = Accountant(sim.store).counterparty(Description="ромашка ооо  ", ИНН="7709999990", КПП="",
                                                DeletionMark=True)
    onec = connector(sim, tmp_path)

    found = onec.lookup(PARTNERS, ["Description"], [("РОМАШКА ООО",), ("Нет такого",)], ["ИНН"])

    assert list(found) == [("РОМАШКА ООО",)]
    assert found[("РОМАШКА ООО",)]["ИНН"] == "7701234560", "an object not marked for deletion wins"
    assert marked["DeletionMark"] is True


def test_documents_are_read_by_date_window_rescanning_the_lookback(sim: OneCSimulator, tmp_path: Path) -> None:
    accountant = Accountant(sim.store)
    payer = accountant.counterparty(Description="Вектор ООО", ИНН="7701234560", КПП="770101001")["Ref_Key"]
    old = accountant.bank_receipt(payer, 100, "Оплата 1", dt.datetime(2025, 3, 1, 9, 0))
    recent = accountant.bank_receipt(payer, 200, "Оплата 2", dt.datetime(2025, 3, 9, 9, 0))
    onec = connector(sim, tmp_path)
    known: dict[str, str] = {}

    def read(checkpoint: object) -> tuple[list[dict], list[str], object]:
        req = ReadRequest(stream="Document_ПоступлениеНаРасчетныйСчет", key=("Ref_Key",),
                          fields=frozenset({"СуммаДокумента"}),
                          incremental=Incremental(strategy="cursor", cursor="Date", version_field="DataVersion",
                                                  lookback=2 * 86400),
                          checkpoint=checkpoint, batch_size=10, options=ODataSourceOptions(),
                          known_versions=lambda keys: {k: known[k] for k in keys if k in known})
        batches = list(onec.read(req))
        for batch in batches:
            known.update({r["Ref_Key"]: r["DataVersion"] for r in batch.records})
        return ([r for b in batches for r in b.records], [k for b in batches for k in b.unchanged_keys],
                batches[-1].checkpoint)

    first, _, checkpoint = read(None)
    assert [r["Ref_Key"] for r in first] == [old["Ref_Key"], recent["Ref_Key"]]
    assert checkpoint == {"cursor": "2025-03-09T09:00:00+03:00"}

    accountant.edit("Document_ПоступлениеНаРасчетныйСчет", recent["Ref_Key"], СуммаДокумента=250)
    accountant.edit("Document_ПоступлениеНаРасчетныйСчет", old["Ref_Key"], СуммаДокумента=150)
    backdated = accountant.bank_receipt(payer, 300, "Оплата 3", dt.datetime(2025, 3, 8, 18, 0))
    records, unchanged, checkpoint = read(checkpoint)

    assert {r["Ref_Key"]: r["СуммаДокумента"] for r in records} == {recent["Ref_Key"]: 250,
                                                                    backdated["Ref_Key"]: 300}
    assert unchanged == [], "both documents in the window changed"
    assert checkpoint == {"cursor": "2025-03-09T09:00:00+03:00"}, "a re-scan never moves the checkpoint back"
    windows = [p for m, p in sim.log if "Date ge datetime'2025-03-07T09:00:00'" in p]
    assert windows, "the window starts lookback seconds before the checkpoint, in 1C's local time"
    assert read(checkpoint)[:2] == ([], [backdated["Ref_Key"], recent["Ref_Key"]])
