"""JSON (a list of objects, or one found by ``records_path``) and JSON Lines (one object a line)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from connectors.files.csvfile import FileProblem
from connectors.files.numbers import parse_number
from connectors.files.options import FilesOptions
from connectors.files.tables import Row


def json_rows(path: Path, options: FilesOptions) -> Iterator[Row]:
    """A whole document is parsed at once (keep big exports in JSON Lines, which is read line by line)."""
    try:
        with path.open(encoding="utf-8-sig") as stream:
            document = json.load(stream)
    except json.JSONDecodeError as exc:
        raise FileProblem(exc.lineno, f"not valid JSON ({exc.msg}, column {exc.colno})") from None
    except UnicodeDecodeError as exc:
        raise FileProblem(None, f"not valid UTF-8 ({exc.reason})") from None
    items = _at_path(document, options.records_path)
    for number, item in enumerate(items, start=1):
        yield _row(number, item, options)


def _at_path(document: Any, records_path: str | None) -> list[Any]:
    found = document
    for part in (records_path.split(".") if records_path else []):
        if not isinstance(found, dict) or part not in found:
            raise FileProblem(None, f"no {records_path!r} in the document")
        found = found[part]
    if isinstance(found, dict) and records_path is None:
        found = [found]
    if not isinstance(found, list):
        raise FileProblem(None, f"{records_path or 'the document'} is not a list of records")
    return found


def jsonl_rows(path: Path, options: FilesOptions) -> Iterator[Row]:
    with path.open(encoding="utf-8-sig") as stream:
        number = 0
        while True:
            try:
                line = stream.readline()
            except UnicodeDecodeError as exc:
                raise FileProblem(number + 1, f"not valid UTF-8 ({exc.reason})") from None
            if not line:
                return
            number += 1
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                yield Row(number, None, f"not valid JSON ({exc.msg}, column {exc.colno})", {"text": line[:500]})
                continue
            yield _row(number, item, options)


def _row(number: int, item: Any, options: FilesOptions) -> Row:
    if not isinstance(item, dict):
        return Row(number, None, f"a {type(item).__name__}, not an object", {"value": str(item)[:500]})
    if options.columns:
        item = {options.columns.get(k, k): v for k, v in item.items()}
    for name in options.numbers:
        if name in item:
            try:
                item[name] = parse_number(item[name], options.decimal_mark)
            except ValueError as exc:
                return Row(number, None, f"field {name!r}: {exc}", {k: str(v)[:200] for k, v in item.items()})
    return Row(number, item)


def json_fields(path: Path, options: FilesOptions, rows: Iterator[Row]) -> list[str]:
    """The fields of the first records (JSON has no header: a few records tell what is there)."""
    names: dict[str, None] = {}
    for count, row in enumerate(rows):
        if row.record:
            names.update(dict.fromkeys(row.record))
        if count >= 20:
            break
    return list(names)
