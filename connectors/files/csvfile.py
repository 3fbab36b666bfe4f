"""CSV as exported by 1C, Excel and old programs: encoding and delimiter found from the first bytes."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from pathlib import Path

from connectors.files.options import FilesOptions
from connectors.files.tables import Cells, Header, Row, records, split_header

SAMPLE_BYTES = 64 * 1024
DELIMITERS = ";,\t|"


class FileProblem(Exception):
    """The file cannot be read from ``line`` on (a broken encoding, invalid JSON): it goes to dead letters."""

    def __init__(self, line: int | None, problem: str):
        super().__init__(problem)
        self.line = line
        self.problem = problem


def detect_encoding(sample: bytes) -> str:
    """UTF-8 with a BOM, UTF-8, else cp1251 (what Russian Windows programs write)."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(sample) - 3:  # not just a character cut by the end of the sample
            return "cp1251"
    return "utf-8"


def detect_delimiter(text: str, quotechar: str) -> str:
    """The delimiter that splits the first lines into the same number (> 1) of cells most often."""
    lines = text.splitlines()[:50]
    if len(lines) > 1 and not text.endswith(("\n", "\r")):
        lines = lines[:-1]  # the sample may end inside a line
    best, best_score = ",", (0, 0)
    for delimiter in DELIMITERS:
        widths = [len(row) for row in csv.reader(lines, delimiter=delimiter, quotechar=quotechar)]
        common = max(set(widths), key=widths.count) if widths else 1
        score = (widths.count(common), common) if common > 1 else (0, 0)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _open(path: Path, options: FilesOptions) -> io.TextIOWrapper:
    with path.open("rb") as raw:
        sample = raw.read(SAMPLE_BYTES)
    encoding = detect_encoding(sample) if options.encoding == "auto" else options.encoding
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise FileProblem(None, f"unknown encoding {encoding!r}") from None
    return path.open(encoding=encoding, newline="", errors="strict")


def _cells(stream: io.TextIOWrapper, options: FilesOptions) -> Iterator[Cells]:
    sample = stream.read(SAMPLE_BYTES // 2)
    stream.seek(0)
    delimiter = options.delimiter or detect_delimiter(sample, options.quotechar)
    reader = csv.reader(stream, delimiter=delimiter, quotechar=options.quotechar, strict=False)
    line = 1
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError as exc:
            raise FileProblem(reader.line_num + 1, f"not valid {stream.encoding} ({exc.reason})") from None
        except csv.Error as exc:
            raise FileProblem(reader.line_num, f"not valid CSV ({exc})") from None
        yield Cells(line, values)
        line = reader.line_num + 1  # a quoted value may span lines: the next row starts after this one


def _header(path: Path, options: FilesOptions) -> tuple[Header | None, Iterator[Cells], io.TextIOWrapper]:
    stream = _open(path, options)
    try:
        try:
            header, rest = split_header(_cells(stream, options), options)
        except UnicodeDecodeError as exc:
            raise FileProblem(None, f"not valid {stream.encoding} ({exc.reason})") from None
    except BaseException:
        stream.close()
        raise
    return header, rest, stream


def csv_rows(path: Path, options: FilesOptions) -> Iterator[Row]:
    header, rest, stream = _header(path, options)
    with stream:
        if header is None:
            return
        yield from records(header, rest, options, strict_width=True, text=True)


def csv_fields(path: Path, options: FilesOptions) -> list[str]:
    header, _, stream = _header(path, options)
    stream.close()
    return [name for name in header.names if name] if header else []
