"""The rules the files source reads by: numbers as people type them, headers under title rows, encodings."""

from __future__ import annotations

from decimal import Decimal

import pytest

from connectors.files.csvfile import detect_delimiter, detect_encoding
from connectors.files.numbers import parse_number
from connectors.files.options import DecimalMark, FilesOptions
from connectors.files.tables import Cells, Merge, records, split_header


@pytest.mark.parametrize(("text", "expected"), [
    ("1 234,50", "1234.50"), ("1\u00a0234,50", "1234.50"), ("1.234,50", "1234.50"), ("1,234.50", "1234.50"),
    ("-12,5", "-12.5"), ("3", "3"), ("1,234,567", "1234567"), ("0.5", "0.5"),
    ("1\u202f234,5", "1234.5"), ("1'234.50", "1234.50"), (" 12\t", "12"), ("1\u2009000", "1000"),
])
def test_numbers_as_people_type_them(text: str, expected: str) -> None:
    assert parse_number(text) == Decimal(expected)


@pytest.mark.parametrize("text", ["договорная", "1,2,3.4.5", "NaN", "12 р."])
def test_what_is_not_a_number_is_named(text: str) -> None:
    with pytest.raises(ValueError, match=f"{text!r} is not a number"):
        parse_number(text)


@pytest.mark.parametrize(("text", "mark", "expected"), [
    ("1.234", ",", "1234"), ("1,234", ".", "1234"), ("1 234,5", ",", "1234.5"), ("12.5", ".", "12.5"),
])
def test_a_set_decimal_mark_is_kept(text: str, mark: DecimalMark, expected: str) -> None:
    assert parse_number(text, mark) == Decimal(expected)


def test_empty_is_no_value() -> None:
    assert parse_number("  ") is None and parse_number(None) is None


def test_encodings_and_delimiters_are_found() -> None:
    assert detect_encoding("\ufeffa;b".encode()) == "utf-8-sig"
    assert detect_encoding("Цена;Товар".encode()) == "utf-8"
    assert detect_encoding("Цена;Товар".encode("cp1251")) == "cp1251"
    assert detect_delimiter("a;b;c\n1;2,5;3\n", '"') == ";"
    assert detect_delimiter('a,b\n"x, y",2\n', '"') == ","
    assert detect_delimiter("a\tb\n1\t2\n", '"') == "\t"


def test_the_header_is_found_under_title_rows_and_merged_cells_are_joined() -> None:
    rows = [Cells(1, ["Клиенты на 01.03.2025", "", "", ""]), Cells(2, ["Код", "ИНН", "Контакт", ""]),
            Cells(3, ["", "", "ФИО", "Телефон"]), Cells(4, ["К-1", "7701234560", "Иванов", "+7 916 123-45-67"])]
    merges = [Merge(1, 0, 1, 3), Merge(2, 0, 3, 0), Merge(2, 1, 3, 1), Merge(2, 2, 2, 3)]

    header, rest = split_header(rows, FilesOptions(columns={"Контакт Телефон": "phone"}), merges)

    assert header is not None and header.names == ["Код", "ИНН", "Контакт ФИО", "phone"]
    [row] = list(records(header, rest, FilesOptions(), strict_width=False))
    assert (row.line, row.record) == (4, {"Код": "К-1", "ИНН": "7701234560", "Контакт ФИО": "Иванов",
                                          "phone": "+7 916 123-45-67"})


def test_a_row_of_the_wrong_width_is_refused_with_its_line() -> None:
    rows = [Cells(1, ["a", "b"]), Cells(2, ["1", "2"]), Cells(3, ["1", "2", "3"]), Cells(4, ["5"])]
    header, rest = split_header(rows, FilesOptions())
    assert header is not None

    found = [(r.line, r.problem) for r in records(header, rest, FilesOptions(), strict_width=True)]

    assert found == [(2, None), (3, "3 values, the header has 2 columns"), (4, "1 value, the header has 2 columns")]


def test_a_text_row_as_wide_as_the_header_reads_as_any_other_row() -> None:
    """CSV rows of the header's width take a shortcut (``text=True``): the same records, problems and
    fingerprints as cell by cell."""
    header, _ = split_header([Cells(1, ["sku", "name", "price"])], FilesOptions())
    assert header is not None
    options = FilesOptions(numbers=["price"])
    rows = [Cells(2, ["A-1", " Чай ", "1 234,50"]), Cells(3, ["", "", ""]), Cells(4, ["  ", " ", "\t"]),
            Cells(5, ["A-2", "Кофе", "договорная"]), Cells(6, ["A-3", "", ""]), Cells(7, ["A-4", "x", "1,5", ""]),
            Cells(8, ["A-5", "y"])]

    def read(text: bool) -> list[tuple[object, ...]]:
        return [tuple(row) for row in records(header, rows, options, strict_width=True, text=text)]

    shortcut = read(text=True)
    assert shortcut == read(text=False)
    assert [(line, record, problem) for line, record, problem, _, _ in shortcut] == [
        (2, {"sku": "A-1", "name": "Чай", "price": Decimal("1234.50")}, None),
        (4, {"sku": None, "name": None, "price": None}, None),  # spaces are a value, read as none
        (5, None, "column 'price': 'договорная' is not a number"),
        (6, {"sku": "A-3", "name": None, "price": None}, None),
        (7, {"sku": "A-4", "name": "x", "price": Decimal("1.5")}, None),  # an empty cell past the header: fine
        (8, None, "2 values, the header has 3 columns"),
    ]
