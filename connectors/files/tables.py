"""Rows of cells (CSV, a sheet) -> records: find the header under any title rows, join merged header cells,
turn each data row into a record or a one-line reason why it cannot be one."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple, cast

from connectors.files.numbers import parse_number
from connectors.files.options import DecimalMark, FilesOptions

#: rows looked at to find the header (title rows above it are skipped)
HEADER_SEARCH_ROWS = 30


class Cells(NamedTuple):  # a tuple: one is made for every row of a file
    line: int  # 1-based row (sheet) or line (CSV) number, as a person finds it in the file
    values: Sequence[Any]


@dataclass(frozen=True)
class Merge:
    """A merged range of a sheet, 1-based rows and 0-based columns, bounds included."""

    first_row: int
    first_col: int
    last_row: int
    last_col: int


class Row(NamedTuple):
    """A data row: its record, or why it has none."""

    line: int
    record: dict[str, Any] | None
    problem: str | None = None
    raw: dict[str, Any] | None = None  # what was read of a refused row (for its dead letter)
    #: the row's cells as read, with what turned them into the record (header, number options): the same text
    #: for the same record in every run, made for a fraction of hashing the record (SourceBatch.fingerprints)
    fingerprint: str | None = None


class Header:
    def __init__(self, names: list[str | None], last_line: int):
        self.names = names  # None: a column without a header and without data (ignored)
        self.last_line = last_line


def split_header(rows: Iterable[Cells], options: FilesOptions,
                 merges: Sequence[Merge] = ()) -> tuple[Header | None, Iterator[Cells]]:
    """The header and the rows after it (None and nothing for a file without rows)."""
    rows = iter(rows)
    head = list(itertools.islice(rows, HEADER_SEARCH_ROWS))
    if not any(_filled(c.values) for c in head):
        return None, iter(())
    start = _header_start(head, options.header_row)
    lines = {start}
    changed = True
    while changed:  # a header cell merged downwards (or a group label merged across) spans the next row too
        changed = False
        for merge in merges:
            if merge.first_row in lines and merge.last_row not in lines:
                lines.update(range(merge.first_row, merge.last_row + 1))
                changed = True
            if merge.first_row in lines and merge.first_col != merge.last_col and max(lines) == merge.last_row:
                below = merge.last_row + 1  # a group label over several columns: their own names are below
                if below not in lines and any(c.line == below for c in head):
                    lines.add(below)
                    changed = True
    header_rows = [c for c in head if c.line in lines]
    names = _names(header_rows, merges, options)
    rest = itertools.chain((c for c in head if c.line > max(lines)), rows)
    return Header(names, max(lines)), rest


def _filled(values: Sequence[Any]) -> int:
    return sum(1 for v in values if v is not None and v != "")


def _header_start(head: list[Cells], given: int | None) -> int:
    if given is not None:
        return given
    width = max(_filled(c.values) for c in head)
    wanted = max(1, (width + 1) // 2) if width > 1 else 1
    candidates = [c for c in head if _filled(c.values) >= wanted]
    texts = [c for c in candidates if all(isinstance(v, str) for v in c.values if v not in (None, ""))]
    return (texts or candidates)[0].line


def _names(header_rows: list[Cells], merges: Sequence[Merge], options: FilesOptions) -> list[str | None]:
    grid = {c.line: list(c.values) for c in header_rows}
    for merge in merges:  # a merged cell's value is in its top-left cell only: give it to every cell it covers
        if merge.first_row not in grid:
            continue
        value = _cell(grid[merge.first_row], merge.first_col)
        for line in range(merge.first_row, merge.last_row + 1):
            if line in grid:
                row = grid[line]
                row.extend([""] * (merge.last_col + 1 - len(row)))
                for col in range(merge.first_col, merge.last_col + 1):
                    row[col] = value
    width = max(len(values) for values in grid.values())
    names: list[str | None] = []
    seen: set[str] = set()
    for col in range(width):
        parts: list[str] = []
        for line in sorted(grid):
            text = _text(_cell(grid[line], col))
            if text and text not in parts:
                parts.append(text)
        name = " ".join(parts) or None
        if name is not None:
            name = options.columns.get(name, name)
            base, n = name, 2
            while name in seen:
                name, n = f"{base} {n}", n + 1
            seen.add(name)
        names.append(name)
    return names


def _cell(values: Sequence[Any], col: int) -> Any:
    return values[col] if col < len(values) else None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return " ".join(str(value).split())


#: the version of how records are built from cells, part of every fingerprint (raise it when that changes)
RECORD_FORMAT = 2


def records(header: Header, rows: Iterable[Cells], options: FilesOptions, *, strict_width: bool,
            text: bool = False) -> Iterator[Row]:
    """Each data row as a record; empty rows are skipped. ``strict_width``: a row with more or fewer cells than
    the header is refused (a CSV line broken or joined); a sheet's rows simply have empty cells. ``text``: every
    cell is a string (CSV): a row as wide as the header is then made in a few C calls, not cell by cell."""
    names = header.names
    width = len(names)
    numbers = set(options.numbers)
    named = cast("list[str]", names)  # every name (where ``whole``); the others are never in ``numbers``
    numbered = [name for name in named if name in numbers]  # the number columns, in the header's order
    # what turned the cells into the record, in 16 characters: it starts every row's fingerprint
    salt = hashlib.blake2b(repr((RECORD_FORMAT, names, sorted(numbers), options.decimal_mark)).encode(),
                           digest_size=8).hexdigest()
    whole = text and None not in names
    record: dict[str, Any]
    for line, values in rows:
        if whole and len(values) == width:  # the usual row: strings, one per named column
            if not any(values):
                continue
            # not zip(strict=True): the width was checked above, and strict costs a third of this line
            record = dict(zip(named, [value.strip() or None for value in values]))  # noqa: B905
            problem = _numbers(record, numbered, options.decimal_mark)
        else:
            if not _filled(values):
                continue
            record, problem = _record(names, values, numbers, options.decimal_mark, strict_width)
        if problem:
            yield _refused(Cells(line, values), names, problem)
        else:
            yield Row(line, record, None, None, f"{salt}\x1e{line}\x1e{values!r}")  # positional: quicker


def _numbers(record: dict[str, Any], numbered: Sequence[str], mark: DecimalMark) -> str | None:
    """The number columns of a record made of text parsed in place; the problem with the first that is not one."""
    for name in numbered:
        try:
            record[name] = parse_number(record[name], mark)
        except ValueError as exc:
            return f"column {name!r}: {exc}"
    return None


def _record(names: list[str | None], values: Sequence[Any], numbers: set[str], mark: DecimalMark,
            strict_width: bool) -> tuple[dict[str, Any], str | None]:
    """A row's record cell by cell (a sheet's typed cells, a row wider or narrower than the header), or the
    problem that refuses it."""
    width = len(names)
    if (len(values) > width and _filled(values[width:])) or (strict_width and len(values) < width):
        return {}, _width_problem(len(values), width)
    record: dict[str, Any] = {}
    for name, value in zip(names, values, strict=False):
        if name is None:
            if value not in (None, ""):
                return record, f"a value ({_text(value)[:40]!r}) in a column without a header"
            continue
        value = cell_value(value)
        if name in numbers:
            try:
                value = parse_number(value, mark)
            except ValueError as exc:
                return record, f"column {name!r}: {exc}"
        record[name] = value
    for name in names[len(values):]:
        if name is not None:
            record[name] = None
    return record, None


def _width_problem(count: int, width: int) -> str:
    return f"{count} value{'' if count == 1 else 's'}, the header has {width} columns"


def cell_value(value: Any) -> Any:
    """A cell as a record value: text stripped, empty -> None, whole floats -> int (Excel keeps numbers as
    floats: a phone 79161234567 must not become '79161234567.0'), other floats -> exact decimals."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, float):
        return int(value) if value.is_integer() else Decimal(repr(value))
    if isinstance(value, dt.timedelta):  # a time of day, in a sheet
        return str(value)
    return value


def _refused(cells: Cells, names: Sequence[str | None], problem: str) -> Row:
    raw = {name or f"column {i + 1}": _text(v) for i, (name, v) in enumerate(
        itertools.zip_longest(names, cells.values)) if v not in (None, "")}
    return Row(cells.line, None, problem, raw)
