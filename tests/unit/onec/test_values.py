"""Values between 1C's wire form and the hub's, for entity sets of the simulator's real ``$metadata``."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from connectors.onec.metadata import parse_metadata
from connectors.onec.values import Codec
from hub.errors import ConfigError, DataError
from sandbox.onec.edmx import metadata_xml

MOSCOW = ZoneInfo("Europe/Moscow")
METADATA = parse_metadata(metadata_xml().encode())
ZERO = "00000000-0000-0000-0000-000000000000"


def codec(name: str) -> Codec:
    return Codec(METADATA.sets[name], MOSCOW)


def test_metadata_knows_sets_properties_tabular_sections_and_composites() -> None:
    sale = METADATA.sets["Document_РеализацияТоваровУслуг"]
    assert sale.key == ("Ref_Key",) and sale.is_document
    assert sale.props["КратностьВзаиморасчетов"].edm == "Edm.Int64"
    assert sale.props["Number"].max_length == 11
    assert set(sale.tables) == {"Товары"} and sale.tables["Товары"]["LineNumber"].edm == "Edm.Int64"
    assert sale.tables["Товары"]["Субконто"].composite and not sale.tables["Товары"]["Сумма"].composite
    assert ("Document_РеализацияТоваровУслуг", "Post") in METADATA.actions
    info = sale.entity_info()
    assert info.fields["Товары"].kind == "list" and info.fields["Товары"].children["Количество"].kind == "decimal"
    assert info.fields["Контрагент_Key"].kind == "uuid" and info.fields["Date"].kind == "datetime"


def test_reading_converts_1c_quirks() -> None:
    record = {"Ref_Key": "8B9660F6-6332-11EC-AD72-000C29B45B09", "Date": "2021-12-22T17:22:08",
              "ДатаВходящегоДокумента": "0001-01-01T00:00:00", "Контрагент": ZERO,
              "Контрагент_Type": "StandardODATA.Undefined", "СуммаДокумента": Decimal("150129"),
              "РасшифровкаПлатежа": [{"Ref_Key": "x", "LineNumber": "1", "КратностьВзаиморасчетов": "1",
                                      "СчетНаОплату_Key": ZERO, "СуммаНДС": "22729.17"}]}

    read = codec("Document_ПриходныйКассовыйОрдер").read(dict(record))

    assert read["Ref_Key"] == "8b9660f6-6332-11ec-ad72-000c29b45b09"
    assert read["Date"] == dt.datetime(2021, 12, 22, 17, 22, 8, tzinfo=MOSCOW)
    assert read["Контрагент"] is None and read["Контрагент_Type"] is None
    assert read["РасшифровкаПлатежа"] == [{"LineNumber": 1, "КратностьВзаиморасчетов": 1, "СчетНаОплату_Key": None,
                                          "СуммаНДС": Decimal("22729.17")}]
    bank = codec("Document_ПоступлениеНаРасчетныйСчет").read({"ДатаВходящегоДокумента": "0001-01-01T00:00:00"})
    assert bank["ДатаВходящегоДокумента"] is None


def test_prepare_and_wire_round_trip_to_what_1c_expects() -> None:
    sale = codec("Document_РеализацияТоваровУслуг")
    prepared = sale.prepare({
        "Date": dt.date(2025, 3, 3), "Контрагент_Key": "8B9660F6-6332-11EC-AD72-000C29B45B09",
        "ДоговорКонтрагента_Key": None, "КратностьВзаиморасчетов": Decimal("1.000"), "Number": 17,
        "Товары": [{"Количество": "2.5", "Цена": 10, "Субконто": None}], "Posted": True})

    assert prepared["Date"] == dt.datetime(2025, 3, 3, tzinfo=MOSCOW)
    assert prepared["Контрагент_Key"] == "8b9660f6-6332-11ec-ad72-000c29b45b09"
    assert prepared["Товары"] == [{"LineNumber": 1, "Количество": Decimal("2.5"), "Цена": Decimal(10),
                                  "Субконто": None}]
    wire = sale.to_wire(prepared)
    assert wire["Date"] == "2025-03-03T00:00:00" and wire["ДоговорКонтрагента_Key"] == ZERO
    assert wire["КратностьВзаиморасчетов"] == "1" and wire["Number"] == "17"
    assert wire["Товары"] == [{"LineNumber": "1", "Количество": 2.5, "Цена": 10, "Субконто": ""}]
    assert "Posted" not in wire, "posting is an action, not a property"


def test_an_aware_time_is_sent_as_1cs_local_time() -> None:
    prepared = codec("Document_РеализацияТоваровУслуг").prepare({"Date": "2025-03-03T09:00:00+00:00"})
    assert codec("Document_РеализацияТоваровУслуг").to_wire(prepared)["Date"] == "2025-03-03T12:00:00"


@pytest.mark.parametrize(("field", "value", "problem"), [
    ("Контрагент_Key", "not-a-guid", "not a 1C reference"),
    ("Number", "CRM-0000000001", "1C keeps at most 11"),
    ("КратностьВзаиморасчетов", "1.5", "not a whole number"),
    ("СуммаДокумента", "много", "not a number"),
    ("СуммаВключаетНДС", "да", "not true/false"),
    ("Date", "вчера", "not a date"),
])
def test_a_value_1c_cannot_take_is_a_data_error_naming_the_field(field: str, value: object, problem: str) -> None:
    with pytest.raises(DataError, match=problem) as caught:
        codec("Document_РеализацияТоваровУслуг").prepare({field: value})
    assert field in str(caught.value)


def test_an_unknown_property_is_a_config_error_not_silently_ignored_as_1c_would() -> None:
    with pytest.raises(ConfigError, match="'Контрагентт'"):
        codec("Document_РеализацияТоваровУслуг").prepare({"Контрагентт": None})
    with pytest.raises(ConfigError, match="'Количествo'"):
        codec("Document_РеализацияТоваровУслуг").prepare({"Товары": [{"Количествo": 1}]})


def test_a_composite_value_needs_its_type() -> None:
    cash = codec("Document_ПриходныйКассовыйОрдер")
    with pytest.raises(DataError, match="Контрагент_Type"):
        cash.to_wire(cash.prepare({"Контрагент": "8b9660f6-6332-11ec-ad72-000c29b45b09"}))
    wire = cash.to_wire(cash.prepare({"Контрагент": None}))
    assert wire == {"Контрагент": "", "Контрагент_Type": "StandardODATA.Undefined"}


def test_composite_values_in_tabular_rows_read_and_write_like_those_of_the_header() -> None:
    bank = codec("Document_ПоступлениеНаРасчетныйСчет")
    sale = "8b9660f6-6332-11ec-ad72-000c29b45b09"
    row = {"LineNumber": "1", "ДокументРасчетовСКонтрагентом": sale,
           "ДокументРасчетовСКонтрагентом_Type": "StandardODATA.Document_РеализацияТоваровУслуг",
           "Сделка": "", "Сделка_Type": "StandardODATA.Undefined"}

    read = bank.read({"РасшифровкаПлатежа": [dict(row)]})["РасшифровкаПлатежа"][0]

    assert (read["ДокументРасчетовСКонтрагентом_Type"], read["Сделка"], read["Сделка_Type"]) == \
        ("Document_РеализацияТоваровУслуг", None, None)
    wire = bank.to_wire(bank.prepare({"РасшифровкаПлатежа": [read]}))["РасшифровкаПлатежа"][0]
    assert {k: wire[k] for k in row} == row
