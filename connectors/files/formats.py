"""Which reader a file gets, by the option or its extension."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from connectors.files.csvfile import FileProblem, csv_fields, csv_rows
from connectors.files.jsonfile import json_fields, json_rows, jsonl_rows
from connectors.files.options import FileFormat, FilesOptions
from connectors.files.tables import Row
from connectors.files.xlsx import xlsx_fields, xlsx_rows

BY_EXTENSION: dict[str, FileFormat] = {".csv": "csv", ".txt": "csv", ".tsv": "csv", ".xlsx": "xlsx", ".xlsm": "xlsx",
                                       ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl"}
READERS: dict[FileFormat, Callable[[Path, FilesOptions], Iterator[Row]]] = {
    "csv": csv_rows, "xlsx": xlsx_rows, "json": json_rows, "jsonl": jsonl_rows}


def format_of(path: Path, options: FilesOptions) -> FileFormat:
    if options.format != "auto":
        return options.format
    found = BY_EXTENSION.get(path.suffix.lower())
    if found is None:
        raise FileProblem(None, f"unknown file type {path.suffix!r} (set options.format: csv, xlsx, json or jsonl)")
    return found


def rows_of(path: Path, options: FilesOptions) -> Iterator[Row]:
    return READERS[format_of(path, options)](path, options)


def fields_of(path: Path, options: FilesOptions) -> list[str]:
    """The field names a file's records have (a tabular file's header; JSON's first records)."""
    kind = format_of(path, options)
    if kind == "csv":
        return csv_fields(path, options)
    if kind == "xlsx":
        return xlsx_fields(path, options)
    return json_fields(path, options, READERS[kind](path, options))
