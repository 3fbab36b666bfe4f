"""Merging the hub's rows of a list field into the rows the target holds (``owns``)."""

from __future__ import annotations

from hub.runner.rows import merged_rows

OWNS = ["Тип", "Вид_Key"]
PHONE = {"Тип": "Телефон", "Вид_Key": "k-phone", "Представление": "+74950000001"}
EMAIL = {"Тип": "АдресЭлектроннойПочты", "Вид_Key": "k-mail", "Представление": "a@b.ru"}
ADDRESS = {"Тип": "Адрес", "Вид_Key": "k-address", "Представление": "Москва", "Город": "Москва"}


def numbered(*rows: dict[str, object]) -> list[dict[str, object]]:
    return [{**row, "LineNumber": number} for number, row in enumerate(rows, 1)]


def test_on_an_object_the_hub_created_its_rows_are_replaced_where_they_stood_and_others_kept() -> None:
    current = numbered(ADDRESS, PHONE, EMAIL, {**ADDRESS, "Представление": "Тверь"})
    new_phone = {**PHONE, "Представление": "+74950000002"}

    rows = merged_rows(current, [new_phone, EMAIL], OWNS, created=True)

    assert rows == numbered(ADDRESS, new_phone, EMAIL, {**ADDRESS, "Представление": "Тверь"})
    assert merged_rows(rows, [new_phone, EMAIL], OWNS, created=True) == rows, "merging again changes nothing"


def test_on_a_linked_object_missing_rows_are_added_and_none_removed() -> None:
    current = numbered({**PHONE, "Представление": "+74957776655"}, ADDRESS)

    rows = merged_rows(current, [PHONE, EMAIL], OWNS, created=False)

    assert rows == numbered({**PHONE, "Представление": "+74957776655"}, ADDRESS, PHONE, EMAIL)
    assert merged_rows(rows, [PHONE, EMAIL], OWNS, created=False) == rows
