"""The read loop: files in name order, rows in file order, batches with a per-file checkpoint.

Checkpoint (JSON): ``{"done": {file: [mtime_ns, size, sha256]}, "at": {"file", "sha256", "rows"}}`` - the files
read to their end, and how many rows of the current one were handed out. Resuming skips the files done and
the rows handed out of the current one if its content is still the same (else it is read again from the top).
A hash sweep ends with ``None`` (the next run reads every file again: the runner skips unchanged records); a
cursor read keeps ``done``, so the next run reads only new files and files whose content changed.
"""

from __future__ import annotations

import glob
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

from connectors.files.csvfile import FileProblem
from connectors.files.formats import rows_of
from connectors.files.locate import FileRef, files_of, sha256_of
from connectors.files.options import FilesOptions
from connectors.files.tables import Row
from hub.connector import ReadRequest, SourceBatch, SourceRejection
from hub.errors import ConfigError
from hub.runner.items import source_key


class _Unit(NamedTuple):  # a tuple: one is made for every row
    """One row handed out (a record or a rejection), and where reading stands after it."""

    record: dict[str, Any] | None
    rejection: SourceRejection | None
    file: str
    sha256: str
    rows: int
    fingerprint: str | None = None  # of the record, with the file's name (tabular files: tables.Row)
    key: str = ""  # the record's source key


class FileReader:
    def __init__(self, root: Path, request: ReadRequest, options: FilesOptions):
        self.root = root
        self.request = request
        self.options = options
        self.cursor = request.incremental.strategy == "cursor"
        checkpoint = request.checkpoint or {}
        self.done: dict[str, list[Any]] = dict(checkpoint.get("done") or {})
        self.at: dict[str, Any] | None = checkpoint.get("at")
        #: hash of a record key -> where its first row is (file number << 32 | row): duplicates are refused, and a
        #: million keys cost ints, not strings (a 64-bit hash collision among them is about 1 in 10^7)
        self.keys: dict[int, int] = {}
        self.names: list[str] = []  # file numbers -> names
        self.key = list(request.key)

    def batches(self) -> Iterator[SourceBatch]:
        held: SourceBatch | None = None
        keys: list[str] = []  # the batch's: the runner need not work them out again
        batch = SourceBatch([], None, fingerprints=[], keys=keys)
        size = self.request.batch_size
        for unit in self._units():
            if unit.record is not None:
                batch.records.append(unit.record)
                keys.append(unit.key)
                _add_fingerprint(batch, unit.fingerprint)
            else:
                batch.rejected.append(unit.rejection)  # type: ignore[arg-type]
            if len(batch.records) + len(batch.rejected) >= size:  # where reading stands after its last row
                batch.checkpoint = {"done": dict(self.done), "at": {"file": unit.file, "sha256": unit.sha256,
                                                                     "rows": unit.rows}}
                if held is not None:
                    yield held
                keys = []
                held, batch = batch, SourceBatch([], None, fingerprints=[], keys=keys)
        if batch.records or batch.rejected:
            if held is not None:
                yield held
            held = batch
        final = {"done": dict(self.done), "at": None} if self.cursor else None
        if held is None:
            held = SourceBatch([], None)
        held.checkpoint = final
        yield held

    def _units(self) -> Iterator[_Unit]:
        files = files_of(self.root, self.request.stream)
        if not files and not glob.has_magic(self.request.stream):
            # a pattern that matches nothing is an empty drop folder; a file named outright that is not there
            # is a mistake in the mapping (or a share not mounted)
            raise ConfigError(f"stream {self.request.stream!r}: no such file in the connection's folder {self.root}")
        if self.cursor:  # a file that is gone is forgotten: if it comes back, it is read again
            present = {f.name for f in files}
            self.done = {name: sig for name, sig in self.done.items() if name in present}
        for ref in files:
            sha256 = self._changed(ref)
            if sha256 is None:
                continue
            yield from self._file_units(ref, sha256)
            self.done[ref.name] = ref.signature(sha256)

    def _changed(self, ref: FileRef) -> str | None:
        """The content hash of a file to read, None for a file to skip (read already, unchanged)."""
        known = self.done.get(ref.name)
        same = ref.same_as(known)
        if same:
            return None
        sha256 = sha256_of(ref.path)
        if same is None and known and known[2] == sha256:  # touched, or copied again: the same content
            self.done[ref.name] = ref.signature(sha256)
            return None
        return sha256

    def _file_units(self, ref: FileRef, sha256: str) -> Iterator[_Unit]:
        at = self.at
        skip = at["rows"] if at and at.get("file") == ref.name and at.get("sha256") == sha256 else 0
        count = 0
        rows = rows_of(ref.path, self.options)
        while True:
            try:
                row = next(rows, None)
            except FileProblem as exc:
                count += 1
                if count > skip:
                    yield _Unit(None, self._file_rejection(ref, exc), ref.name, sha256, count)
                return
            except OSError as exc:
                count += 1
                if count > skip:
                    problem = FileProblem(None, f"cannot be read ({exc.strerror or exc})")
                    yield _Unit(None, self._file_rejection(ref, problem), ref.name, sha256, count)
                return
            if row is None:
                return
            count += 1
            unit = self._unit(ref, sha256, row, count)  # rows skipped on resume still register their keys
            if count > skip:
                yield unit

    def _unit(self, ref: FileRef, sha256: str, row: Row, count: int) -> _Unit:
        record = row.record
        if record is None:
            named = source_key(row.raw or {}, self.key) or f"{ref.name}:{row.line}"
            rejection = SourceRejection.of(named, row.problem or "cannot be read", file=ref.name, line=row.line,
                                           raw=row.raw)
            return _Unit(None, rejection, ref.name, sha256, count)
        key = source_key(record, self.key)
        first = self._first_row(key, ref.name, row.line) if key is not None else None
        if key is None or first is not None:
            return _Unit(None, self._refused(ref, row, key, first), ref.name, sha256, count)
        record["_file"], record["_row"] = ref.name, row.line  # the row's own dict: no copy
        fingerprint = f"{ref.name}\x1e{row.fingerprint}" if row.fingerprint is not None else None
        return _Unit(record, None, ref.name, sha256, count, fingerprint, key)

    def _refused(self, ref: FileRef, row: Row, key: str | None, first: str | None) -> SourceRejection:
        """A row without its key, or with the key of an earlier row; named by where it is (the runner could only
        call it "the record without a key")."""
        key_names = ", ".join(self.key)
        problem = f"no value for the key {key_names}" if key is None else \
            f"the same {key_names} ({key}) as {first}; only the first row with it is read: merge or remove one of them"
        return SourceRejection.of(f"{ref.name}:{row.line}", problem, file=ref.name, line=row.line,
                                  raw=_plain(row.record or {}))

    def _first_row(self, key: str, name: str, line: int) -> str | None:
        """Where an earlier row with this key is ("file:row"), None for the first one."""
        if self.options.duplicate_keys != "reject":
            return None
        if not self.names or self.names[-1] != name:
            self.names.append(name)
        here = (len(self.names) - 1) << 32 | line
        first = self.keys.setdefault(hash(key), here)
        if first == here:
            return None
        return f"{self.names[first >> 32]}:{first & 0xFFFFFFFF}"

    @staticmethod
    def _file_rejection(ref: FileRef, problem: FileProblem) -> SourceRejection:
        key = f"{ref.name}:{problem.line}" if problem.line is not None else ref.name
        what = problem.problem + ("; the rows before it were read" if problem.line and problem.line > 1 else "")
        return SourceRejection.of(key, what, file=ref.name, line=problem.line)


def _add_fingerprint(batch: SourceBatch, fingerprint: str | None) -> None:
    """A batch carries fingerprints only if each of its records has one (a JSON file's records have none)."""
    if batch.fingerprints is None:
        return
    if fingerprint is None:
        batch.fingerprints = None
    else:
        batch.fingerprints.append(fingerprint)


def _plain(record: dict[str, Any]) -> dict[str, Any]:
    return {name: value if isinstance(value, (str, int, float, bool)) or value is None else str(value)
            for name, value in record.items()}
