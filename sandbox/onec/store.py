"""The simulator's infobase: objects kept in memory in their stored form, persisted to a SQLite file.

An object is a dict of OData properties (standard fields, attributes, tabular sections as row lists) held
exactly as 1C would serialize them, except that Int64 values are Python ints. Every write gets a new
``DataVersion`` (base64 of an 8-byte counter, like 1C's). With a file, each write is committed before the
request is answered, so a second ``hub demo`` (or a restarted simulator) sees the same 1C.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from sandbox.onec.config import BP30, Configuration, ObjectType

Obj = dict[str, Any]


class ObjectStore:
    def __init__(self, path: Path | None = None, config: Configuration = BP30):
        self.lock = threading.RLock()
        self.config = config
        self.objects: dict[str, dict[str, Obj]] = {t.set_name: {} for t in config.types}
        self.generation = 0  # bumped on every write: query caches key on it
        self._counters: dict[str, int] = {}
        self._db: sqlite3.Connection | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS objects (set_name TEXT NOT NULL, ref TEXT NOT NULL, "
                             "body TEXT NOT NULL, PRIMARY KEY (set_name, ref))")
            self._db.execute("CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)")
            self._load()

    def _load(self) -> None:
        assert self._db is not None
        for set_name, ref, body in self._db.execute("SELECT set_name, ref, body FROM objects ORDER BY rowid"):
            if set_name in self.objects:
                self.objects[set_name][ref] = json.loads(body)
        self._counters = dict(self._db.execute("SELECT name, value FROM counters"))

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    @property
    def empty(self) -> bool:
        return not any(self.objects.values())

    # -- reading

    def get(self, set_name: str, ref: str) -> Obj | None:
        return self.objects.get(set_name, {}).get(ref)

    def all(self, set_name: str) -> Iterable[Obj]:
        return self.objects.get(set_name, {}).values()

    def find(self, set_name: str, **equal: Any) -> Iterator[Obj]:
        for obj in self.all(set_name):
            if all(obj.get(k) == v for k, v in equal.items()):
                yield obj

    # -- writing (callers hold ``lock`` around read-modify-write sequences)

    def new_ref(self) -> str:
        return str(uuid.uuid4())

    def next_version(self) -> str:
        value = self._bump("DataVersion")
        return base64.b64encode(value.to_bytes(8, "big")).decode("ascii")

    def next_code(self, t: ObjectType) -> str:
        """The next Code (catalogs: ``00-000001``) or Number (documents: ``0000-000001``)."""
        value = self._bump(f"code:{t.set_name}")
        width = t.number_length if t.kind == "Document" else t.code_length
        prefix = "0000-" if t.kind == "Document" else "00-"
        return prefix + str(value).zfill(width - len(prefix))

    def put(self, set_name: str, obj: Obj) -> Obj:
        with self.lock:
            obj["DataVersion"] = self.next_version()
            self.objects[set_name][obj["Ref_Key"]] = obj
            self.generation += 1
            self._persist([(set_name, obj)])
            return obj

    def put_many(self, set_name: str, objs: Iterable[Obj]) -> None:
        """Bulk load (seeding): one transaction, one generation bump."""
        with self.lock:
            batch = []
            for obj in objs:
                obj["DataVersion"] = self.next_version()
                self.objects[set_name][obj["Ref_Key"]] = obj
                batch.append((set_name, obj))
            self.generation += 1
            self._persist(batch)

    def delete(self, set_name: str, ref: str) -> bool:
        with self.lock:
            found = self.objects[set_name].pop(ref, None)
            self.generation += 1
            if found is not None and self._db is not None:
                self._db.execute("DELETE FROM objects WHERE set_name = ? AND ref = ?", (set_name, ref))
            return found is not None

    def _bump(self, name: str) -> int:
        with self.lock:
            value = self._counters.get(name, 0) + 1
            self._counters[name] = value  # persisted with the next object write
            return value

    def _persist(self, items: list[tuple[str, Obj]]) -> None:
        if self._db is None or not items:
            return
        self._db.execute("BEGIN")
        self._db.executemany("INSERT OR REPLACE INTO objects (set_name, ref, body) VALUES (?, ?, ?)",
                             [(s, o["Ref_Key"], json.dumps(o, ensure_ascii=False)) for s, o in items])
        self._db.executemany("INSERT OR REPLACE INTO counters (name, value) VALUES (?, ?)", self._counters.items())
        self._db.execute("COMMIT")

