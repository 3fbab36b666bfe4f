"""Sample files as small companies really have them, for the demo, the tests and docs/migration.md.

- ``clients_legacy.xlsx``: the old program's client base. Sheet "Клиенты": a title row, a two-level header
  (the group "Контакт" merged over ФИО / Телефон / E-mail, the other headers merged down over both rows),
  the same client twice, a client the CRM has already. Sheet "Архив": clients no longer served.
- ``prices_supplier.csv``: a supplier's price list in cp1251 with ';', a title row, prices like "1 234,50",
  and one row whose price is "договорная" (negotiable).

``python -m sandbox.files_samples`` writes them to ``sandbox/files`` (needs openpyxl, a dev dependency).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent / "files"

CLIENTS = [  # code, name, inn, kpp, contact, phone, e-mail
    ("К-001", "ООО «Вектор»", "7701234560", "770101001", "Иванов Иван", "8 (916) 123-45-67", "Sales@Vector.ru"),
    ("К-002", "ИП Петров Пётр Петрович", "500100732259", "", "Петров Пётр", "+7 903 111 22 33", ""),
    ("К-003", "АО «Гранит»", "7702345674", "770201001", "Сидорова Анна", "84951002030", "anna@granit.ru"),
    ("К-004", "ООО «Вектор» (дубль)", "7701234560", "770101001", "Иванов И.", "89161234567", ""),
    ("К-005", "ООО «Меридиан»", "7703456781", "770301001", "Кузнецов Олег", "+7 (495) 000-00-01", "info@meridian.ru"),
]
ARCHIVE = [
    ("К-100", "ООО «Старт»", "7704567898", "770401001", "Волков Денис", "+7 916 555 00 11", "start@example.ru"),
]
PRICES = [  # sku, name, unit, price as typed
    ("BLT-M8", "Болт М8х40 оцинк.", "шт", "12,50"),
    ("GAY-M8", "Гайка М8", "шт", "3,20"),
    ("KAB-VVG", "Кабель ВВГнг 3х2,5", "м", "1 234,50"),
    ("SHP-20", "Шпилька резьбовая М20", "шт", "договорная"),
    ("PRF-40", "Профиль 40х40 (6 м)", "шт", "2 450,00"),
]


def write_clients(path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "Клиенты"
    sheet["A1"] = "Клиенты (выгрузка из старой программы на 01.03.2025)"
    sheet.merge_cells("A1:G1")
    for col, title in zip("ABCD", ("Код", "Наименование", "ИНН", "КПП"), strict=True):
        sheet[f"{col}2"] = title
        sheet.merge_cells(f"{col}2:{col}3")
    sheet["E2"] = "Контакт"
    sheet.merge_cells("E2:G2")
    for col, title in zip("EFG", ("ФИО", "Телефон", "E-mail"), strict=True):
        sheet[f"{col}3"] = title
    for row in CLIENTS:
        sheet.append(list(row))
    archive = book.create_sheet("Архив")
    archive.append(["Код", "Наименование", "ИНН", "КПП", "ФИО", "Телефон", "E-mail"])
    for row in ARCHIVE:
        archive.append(list(row))
    book.save(path)


def write_prices(path: Path) -> None:
    lines = ["Прайс-лист ООО «Поставщик» на 01.03.2025;;;", "Артикул;Наименование;Ед.;Цена, руб."]
    lines += [";".join(row) for row in PRICES]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1251"))


def main(folder: Path = HERE) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    write_clients(folder / "clients_legacy.xlsx")
    write_prices(folder / "prices_supplier.csv")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
