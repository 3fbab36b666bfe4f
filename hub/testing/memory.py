"""An in-memory connector (the hub's "mock transport"): tables are lists of dicts in a shared registry.

Used by the core's own tests and by anyone testing a mapping without a real system. It honours the
connector contract fully (cursor and hash reads with checkpoints, lookup, create/update/delete) and can
inject faults: fail the next N writes or lookups with a retriable error, apply a write and then "lose" the
response, or reject records matching a predicate.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel

from hub.connector import (
    Capabilities,
    Connector,
    EntityInfo,
    FieldInfo,
    ReadRequest,
    Record,
    SourceBatch,
    WriteAction,
    WriteResult,
)
from hub.errors import BusinessError, ConfigError, RetriableError
from hub.manifest import Manifest
from hub.runner.items import source_key


@dataclass
class Faults:
    fail_writes: int = 0  # the next N write calls raise RetriableError before doing anything
    lose_responses: int = 0  # the next N write calls apply, then raise RetriableError (response lost)
    reject: Callable[[Record], str | None] | None = None  # a reason to reject a record, or None
    fail_reads_after: int | None = None  # raise RetriableError after handing out this many batches
    fail_lookups: int = 0  # the next N lookup calls raise RetriableError
    crash_reads_after: int | None = None  # a bug: raise a KeyError (not a hub error) after this many batches
    crash_writes: int = 0  # a bug: the next N write calls raise a KeyError before doing anything
    crash_preparing: str | None = None  # a bug: prepare() raises a ValueError for a record with this name


@dataclass
class MemoryDatabase:
    tables: dict[str, list[Record]] = field(default_factory=dict)
    faults: Faults = field(default_factory=Faults)
    #: entity -> target id (as text) -> why the object must not be deleted (e.g. "3 documents refer to it")
    in_use: dict[str, dict[str, str]] = field(default_factory=dict)
    writes: int = 0
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def table(self, name: str) -> list[Record]:
        return self.tables.setdefault(name, [])


DATABASES: dict[str, MemoryDatabase] = {}


def database(name: str) -> MemoryDatabase:
    """The database a connection with ``host: <name>`` talks to."""
    return DATABASES.setdefault(name, MemoryDatabase())


class MemoryConnector(Connector):
    name: ClassVar[str] = "memory"
    capabilities: ClassVar[Capabilities] = Capabilities(
        select_fields=True, incremental=frozenset({"cursor", "hash", "version"}), lookup=True,
        write_modes=frozenset({"create", "upsert", "update_only"}), delete=True)

    @property
    def db(self) -> MemoryDatabase:
        return database(self.connection.host or "default")

    def check(self) -> str:
        return f"memory database {self.connection.host!r}: {len(self.db.tables)} tables"

    def describe(self, entity: str) -> EntityInfo | None:
        rows = self.db.tables.get(entity)
        if rows is None:
            return None
        # the fields rows have; an empty table is schemaless ("*": any field may be written)
        names = {"id"} | ({k for row in rows for k in row} if rows else {"*"})
        return EntityInfo(entity, {n: FieldInfo(n, "any") for n in sorted(names)}, ("id",))

    def prepare(self, entity: str, record: Record) -> Record:
        if self.db.faults.crash_preparing is not None and record.get("name") == self.db.faults.crash_preparing:
            raise ValueError("simulated bug while preparing")
        return record

    def target_key_field(self, entity: str) -> str | None:
        return "id"

    def read(self, request: ReadRequest) -> Iterator[SourceBatch]:
        if request.stream not in self.db.tables:
            raise ConfigError(f"memory database {self.connection.host!r} has no table {request.stream!r}")
        rows = self.db.table(request.stream)
        key = list(request.key)
        inc = request.incremental
        order = [inc.cursor, *key] if inc.strategy == "cursor" and inc.cursor else key
        start = tuple(request.checkpoint) if request.checkpoint else None
        ordered = sorted(rows, key=lambda r: tuple(r.get(f) for f in order))
        if start is not None:
            ordered = [r for r in ordered if tuple(r.get(f) for f in order) > start]
        for handed, offset in enumerate(range(0, len(ordered), request.batch_size)):
            if self.db.faults.crash_reads_after is not None and handed >= self.db.faults.crash_reads_after:
                raise KeyError("simulated bug in the source")
            if self.db.faults.fail_reads_after is not None and handed >= self.db.faults.fail_reads_after:
                self.db.faults.fail_reads_after = None
                raise RetriableError("simulated network error while reading")
            chunk = ordered[offset:offset + request.batch_size]
            last = tuple(chunk[-1].get(f) for f in order)
            is_last = offset + request.batch_size >= len(ordered)
            checkpoint: Any = list(last)
            if is_last and inc.strategy != "cursor":
                checkpoint = None
            records = [self._project(r, request.fields) for r in chunk]
            if inc.strategy == "version" and inc.version_field and request.known_versions:
                keys = ["|".join(str(r[k]) for k in key) for r in records]
                known = request.known_versions(keys)
                changed = [r for k, r in zip(keys, records, strict=True)
                           if known.get(k) != str(r.get(inc.version_field))]
                unchanged = [k for k, r in zip(keys, records, strict=True)
                             if known.get(k) == str(r.get(inc.version_field))]
                yield SourceBatch(changed, checkpoint, unchanged)
            else:
                yield SourceBatch(records, checkpoint)
        if not ordered and inc.strategy != "cursor":
            yield SourceBatch([], None)

    @staticmethod
    def _project(row: Record, fields: frozenset[str] | None) -> Record:
        return dict(row) if fields is None else {k: v for k, v in row.items() if k in fields}

    def source_keys_present(self, stream: str, key: tuple[str, ...], keys: Sequence[str],
                            options: BaseModel) -> set[str] | None:
        """A memory source has no scope filters: a key is present while a row has it."""
        present = {source_key(row, list(key)) for row in self.db.table(stream)}
        return {k for k in keys if k in present}

    def deletion_blockers(self, entity: str, target_keys: Sequence[str]) -> dict[str, str]:
        in_use = self.db.in_use.get(entity, {})
        return {key: in_use[key] for key in target_keys if key in in_use}

    def lookup(self, entity: str, by: Sequence[str], values: Sequence[tuple[Any, ...]],
               fields: Sequence[str]) -> dict[tuple[Any, ...], Record]:
        if self.db.faults.fail_lookups:
            self.db.faults.fail_lookups -= 1
            raise RetriableError("simulated timeout while searching the target")
        # the runner asks for ids as the key map keeps them (text): compare ids as text
        wanted = {_id_as_text(by, value): value for value in values}
        found: dict[tuple[Any, ...], Record] = {}
        for row in self.db.table(entity):
            value = wanted.get(_id_as_text(by, tuple(row.get(f) for f in by)))
            if value is not None and value not in found:
                found[value] = {f: row.get(f) for f in {*fields, "id"}}
        return found

    def write(self, entity: str, actions: Sequence[WriteAction], options: BaseModel) -> list[WriteResult]:
        faults = self.db.faults
        if faults.crash_writes:
            faults.crash_writes -= 1
            raise KeyError("simulated bug in the target")
        if faults.fail_writes:
            faults.fail_writes -= 1
            raise RetriableError("simulated 503 from the target")
        results = [self._apply(entity, action) for action in actions]
        self.db.writes += 1
        if faults.lose_responses:
            faults.lose_responses -= 1
            raise RetriableError("simulated lost response (the write was applied)")
        return results

    def _apply(self, entity: str, action: WriteAction) -> WriteResult:
        table = self.db.table(entity)
        reason = self.db.faults.reject(action.fields) if self.db.faults.reject else None
        if reason:
            return WriteResult(action.source_key, "rejected", error=BusinessError(reason))
        if action.kind == "create":
            created = {"id": next(self.db._ids), **action.fields}
            table.append(created)
            return WriteResult(action.source_key, "created", created["id"])
        row = next((r for r in table if str(r["id"]) == str(action.target_key)), None)
        if row is None:
            return WriteResult(action.source_key, "rejected", error=BusinessError("object not found"))
        if action.kind == "delete":
            if action.fields:
                row.update(action.fields)
            else:
                table.remove(row)
            return WriteResult(action.source_key, "deleted", row["id"])
        row.update(action.fields)
        return WriteResult(action.source_key, "updated", row["id"])


def _id_as_text(by: Sequence[str], values: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(str(v) if name == "id" and v is not None else v for name, v in zip(by, values, strict=True))



#: not installed through an entry point: the tests register it (tests/conftest.py, hub.registry.register)
MANIFEST = Manifest(name="memory", connectors={"memory": MemoryConnector})
