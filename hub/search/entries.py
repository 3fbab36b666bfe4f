"""What the runner puts in the search index for a batch: each written or rejected record's business values
(normalized, :mod:`hub.search.kinds`) and the keys of the objects it refers to, as the mapping's ``search:`` says.

Only the values a mapping names are indexed: logs and the run log keep carrying keys, never values.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, Protocol

from hub.mapping.model import Mapping, SearchField
from hub.search.kinds import MAX_VALUE, NORMALIZERS

#: the record outcomes worth finding again: what a run wrote, and what it could not (its dead letter)
INDEXED_OUTCOMES = frozenset({"created", "updated", "rejected"})
REF = "ref"  # the index kind of a referenced object's key


class Indexed(Protocol):
    """What the indexer reads of a runner item (hub.runner.items.Item)."""

    source_key: str
    record: dict[str, Any]
    mapped: dict[str, Any] | None
    target_key: str | None
    outcome: Any


def referenced_entity(entry: SearchField, mapping: Mapping) -> str:
    """``connection/entity`` of a ``refers_to`` (an entity alone is on the target's connection)."""
    assert entry.refers_to is not None
    return entry.refers_to if "/" in entry.refers_to else f"{mapping.target.connection}/{entry.refers_to}"


def key_text(value: Any) -> str:
    """A referenced key as the record keys spell it (hub.runner.items.key_text: 17, not 17.0 or Decimal('17'))."""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


class Indexer:
    def __init__(self, mapping: Mapping, region: str):
        self.region = region
        #: per entry: (read from the source record?, field, kind, its normalizer, referenced connection/entity)
        self.entries = [(entry.source is not None, entry.source or entry.field or "", entry.kind,
                         NORMALIZERS[entry.kind] if entry.kind else None,
                         referenced_entity(entry, mapping) if entry.refers_to else None) for entry in mapping.search]

    def rows(self, items: Iterable[Indexed]) -> list[tuple[str, str, str, str | None]]:
        """Index rows (source_key, kind, value, target_key) for the batch's written and rejected records.

        Runs for every record a run writes: the normalizers are called directly (hub.search.kinds.normalize
        does the same with more checks)."""
        if not self.entries:
            return []
        rows: dict[tuple[str, str, str], tuple[str, str, str, str | None]] = {}  # one per record and value
        region = self.region
        for item in items:
            if item.outcome not in INDEXED_OUTCOMES or not item.source_key:
                continue
            key, mapped = item.source_key, item.mapped or {}
            for from_source, name, kind, normalizer, ref in self.entries:
                raw = item.record.get(name) if from_source else mapped.get(name)
                if raw is None or raw == "" or isinstance(raw, (dict, list, bytes)):
                    continue
                if normalizer is not None:
                    value = normalizer(raw if isinstance(raw, str) else str(raw), region)
                    if value:
                        value = value if len(value) <= MAX_VALUE else value[:MAX_VALUE]
                        rows[(key, str(kind), value)] = (key, str(kind), value, item.target_key)
                if ref is not None:
                    value = f"{ref}:{key_text(raw)}"[:MAX_VALUE]
                    rows[(key, REF, value)] = (key, REF, value, item.target_key)
        return list(rows.values())
