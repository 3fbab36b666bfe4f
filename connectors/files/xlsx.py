"""XLSX sheets through calamine (Rust): the sheet's cells, its merged ranges for the header."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from python_calamine import CalamineError, CalamineWorkbook, PasswordError, XmlError, ZipError

from connectors.files.csvfile import FileProblem
from connectors.files.options import FilesOptions
from connectors.files.tables import Cells, Header, Merge, Row, records, split_header


def _sheet(path: Path, options: FilesOptions) -> Any:
    try:
        book = CalamineWorkbook.from_path(str(path))
        names = book.sheet_names
        chosen = options.sheet if options.sheet is not None else 0
        if isinstance(chosen, int):
            if not 0 <= chosen < len(names):
                raise FileProblem(None, f"no sheet number {chosen} (sheets: {', '.join(names)})")
            return book.get_sheet_by_index(chosen)
        if chosen not in names:
            raise FileProblem(None, f"no sheet {chosen!r} (sheets: {', '.join(names)})")
        return book.get_sheet_by_name(chosen)
    except (CalamineError, PasswordError, XmlError, ZipError, OSError, ValueError) as exc:
        raise FileProblem(None, f"not a readable XLSX file ({' '.join(str(exc).split())[:200]})") from None


def _header(path: Path, options: FilesOptions) -> tuple[Header | None, Iterator[Cells]]:
    sheet = _sheet(path, options)
    offset = sheet.start[1] if sheet.start else 0  # iter_rows starts at the first used column, at row 1
    merges = [Merge(a[0] + 1, a[1] - offset, b[0] + 1, b[1] - offset) for a, b in (sheet.merged_cell_ranges or [])]
    cells = (Cells(number, values) for number, values in enumerate(sheet.iter_rows(), start=1))
    return split_header(cells, options, merges)


def xlsx_rows(path: Path, options: FilesOptions) -> Iterator[Row]:
    header, rest = _header(path, options)
    if header is not None:
        yield from records(header, rest, options, strict_width=False)


def xlsx_fields(path: Path, options: FilesOptions) -> list[str]:
    header, _ = _header(path, options)
    return [name for name in header.names if name] if header else []
