"""Files into the CRM through hub runs: each format, a corrupt file, an interrupted run resumed from its
checkpoint, new files read incrementally; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from hub.runner import RunReport
from tests.integration.files.conftest import FilesWorld

PRODUCTS = """\
mapping_format: 1
exchange: {exchange}
description: products from files
triggers: [hub://files/test]
batch_size: {batch_size}
source:
  connector: files
  connection: legacy_files
  stream: "{stream}"
  key: [sku]
  incremental: {incremental}
  options: {options}
target: {{connector: crm_db, connection: crm, entity: products, key: id, match: [sku]}}
fields:
  sku: sku
  name: name
  price: price
"""


def products(world: FilesWorld, exchange: str, stream: str, *, options: str = "{numbers: [price]}",
             incremental: str = "{strategy: hash}", batch_size: int = 50) -> None:
    world.mapping(PRODUCTS.format(exchange=exchange, stream=stream, options=options, incremental=incremental,
                                  batch_size=batch_size))


def prices(world: FilesWorld) -> dict[str, Decimal]:
    return {row["sku"]: row["price"] for row in world.crm.rows("products")}


def test_csv_in_cp1251_with_a_title_row_and_decimal_commas(world: FilesWorld) -> None:
    lines = ["Прайс-лист на 01.03.2025", "", "sku;name;price", "A-1;Болт;\"1 234,50\"", "A-2;Гайка;3,2"]
    (world.folder / "p.csv").write_bytes("\r\n".join(lines).encode("cp1251"))
    products(world, "csv_products", "p.csv")

    report = world.run("csv_products")

    assert (report.counts.created, report.counts.rejected) == (2, 0)
    assert prices(world) == {"A-1": Decimal("1234.50"), "A-2": Decimal("3.20")}
    assert world.crm.one("products", sku="A-1")["name"] == "Болт"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig"])
def test_csv_in_utf8_with_or_without_a_bom_and_commas(world: FilesWorld, encoding: str) -> None:
    text = 'sku,name,price\nB-1,"Кабель, 3х2.5",12.5\n'
    (world.folder / "u.csv").write_bytes(text.encode(encoding))
    products(world, "utf_products", "u.csv")

    world.run("utf_products")

    assert world.crm.one("products", sku="B-1")["name"] == "Кабель, 3х2.5"


def test_xlsx_sheet_choice_and_merged_headers(world: FilesWorld) -> None:
    products(world, "xlsx_archive", "clients_legacy.xlsx",
             options="{sheet: Архив, columns: {Код: sku, Наименование: name}}")
    world.mapping((world.mappings / "xlsx_archive.yaml").read_text(encoding="utf-8")
                  .replace("  price: price", "  price: {const: 0}"))

    report = world.run("xlsx_archive")

    assert report.counts.created == 1
    assert world.crm.one("products", sku="К-100")["name"] == "ООО «Старт»"


def test_json_with_a_records_path_and_json_lines(world: FilesWorld) -> None:
    (world.folder / "api.json").write_text(json.dumps(
        {"data": {"items": [{"sku": "J-1", "name": "Один", "price": "10,5"}, {"sku": "J-2", "name": "Два",
                                                                              "price": 7}]}}), encoding="utf-8")
    (world.folder / "feed.jsonl").write_text('{"sku": "L-1", "name": "Линия", "price": "1.5"}\n\n'
                                             '{"sku": "L-2", "name": "Строка", "price": "2"}\n', encoding="utf-8")
    products(world, "json_products", "api.json", options="{records_path: data.items, numbers: [price]}")
    products(world, "jsonl_products", "*.jsonl")

    world.run("json_products")
    world.run("jsonl_products")

    assert prices(world) == {"J-1": Decimal("10.50"), "J-2": Decimal("7.00"), "L-1": Decimal("1.50"),
                             "L-2": Decimal("2.00")}


def test_a_corrupt_file_and_a_bad_row_go_to_dead_letters_and_the_rest_crosses(world: FilesWorld) -> None:
    (world.folder / "in").mkdir()
    (world.folder / "in" / "a.csv").write_text("sku;name;price\nC-1;Один;1\nC-2;Два;много\nC-3;Три;3\n",
                                               encoding="utf-8")
    (world.folder / "in" / "b.xlsx").write_bytes(b"PK\x03\x04 this is not a workbook")
    (world.folder / "in" / "c.jsonl").write_text('{"sku": "C-4", "name": "Четыре", "price": 4}\n{"sku": "C-5",\n',
                                                 encoding="utf-8")
    products(world, "mixed", "in/*")

    report = world.run("mixed")

    assert report.status == "success"
    assert (report.counts.created, report.counts.rejected) == (3, 3)
    assert set(prices(world)) == {"C-1", "C-3", "C-4"}
    letters = world.letters("mixed")
    assert letters["C-2"] == "in/a.csv:3: column 'price': 'много' is not a number"
    assert letters["in/b.xlsx"].startswith("in/b.xlsx: not a readable XLSX file")
    assert letters["in/c.jsonl:2"].startswith("in/c.jsonl:2: not valid JSON")

    (world.folder / "in" / "a.csv").write_text("sku;name;price\nC-1;Один;1\nC-2;Два;2\nC-3;Три;3\n",
                                               encoding="utf-8")
    fixed = world.run("mixed")

    assert fixed.counts.created == 1 and "C-2" not in world.letters("mixed"), "the fixed row resolves its letter"


class Interrupt(Exception):
    pass


def _stop_after(batches: int):  # type: ignore[no-untyped-def]
    def progress(report: RunReport) -> None:
        if report.counts.read >= batches * 10:
            raise Interrupt
    return progress


@pytest.mark.parametrize("incremental", ["{strategy: hash}", "{strategy: cursor, cursor: _file}"])
def test_an_interrupted_run_resumes_from_its_checkpoint(world: FilesWorld, incremental: str) -> None:
    for part in (1, 2):
        rows = "".join(f"R-{part}-{n:02};Товар {n};{n},50\n" for n in range(25))
        (world.folder / f"part{part}.csv").write_text("sku;name;price\n" + rows, encoding="utf-8")
    products(world, "big", "part*.csv", incremental=incremental, batch_size=10)

    with pytest.raises(Interrupt):  # killed after three batches: one and a half files were read
        world.hub.runner("big", progress=_stop_after(3)).apply("test")
    resumed = world.run("big")

    assert (resumed.counts.read, resumed.counts.created) == (20, 20), "it goes on where it stopped"
    assert len(world.crm.rows("products")) == 50
    assert world.crm.one("products", sku="R-2-04")["price"] == Decimal("4.50")


def test_new_and_changed_files_are_read_and_unchanged_ones_are_not(world: FilesWorld) -> None:
    products(world, "incremental", "pl_*.csv", incremental="{strategy: cursor, cursor: _file}")
    (world.folder / "pl_1.csv").write_text("sku;name;price\nI-1;Один;1\n", encoding="utf-8")
    world.run("incremental")
    (world.folder / "pl_2.csv").write_text("sku;name;price\nI-2;Два;2\n", encoding="utf-8")
    path = world.folder / "pl_1.csv"
    path.touch()  # saved again with the same content: not read again

    second = world.run("incremental")
    path.write_text("sku;name;price\nI-1;Один;1,5\n", encoding="utf-8")
    third = world.run("incremental")

    assert (second.counts.read, second.counts.created) == (1, 1)
    assert (third.counts.read, third.counts.updated) == (1, 1)
    assert prices(world) == {"I-1": Decimal("1.50"), "I-2": Decimal("2.00")}
