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
from hub.search.kinds import MAX_VALUE, normalize

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


def node(connection: str, entity: str, key: str) -> str:
    """An object's name across exchanges: ``crm/deals:17`` is the same deal wherever it is read or written."""
    return f"{connection}/{entity}:{key}"[:MAX_VALUE]


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
        self.fields = mapping.search
        self.region = region
        self.refs = {id(e): referenced_entity(e, mapping) for e in mapping.search if e.refers_to}

    def rows(self, items: Iterable[Indexed]) -> list[dict[str, Any]]:
        """Index rows (kind, value, source_key, target_key) for the batch's written and rejected records."""
        if not self.fields:
            return []
        rows: dict[tuple[str, str, str], dict[str, Any]] = {}  # one per value and record (an upsert key)
        for item in items:
            if item.outcome not in INDEXED_OUTCOMES or not item.source_key:
                continue
            for entry in self.fields:
                raw = item.record.get(entry.source) if entry.source else (item.mapped or {}).get(entry.field or "")
                for kind, value in self._values(entry, raw):
                    rows[(kind, value, item.source_key)] = dict(kind=kind, value=value, source_key=item.source_key,
                                                                target_key=item.target_key)
        return list(rows.values())

    def _values(self, entry: SearchField, raw: Any) -> list[tuple[str, str]]:
        if raw is None or raw == "":
            return []
        found = []
        if entry.kind is not None:
            value = normalize(entry.kind, raw, self.region)
            if value is not None:
                found.append((entry.kind, value))
        if entry.refers_to is not None and not isinstance(raw, (dict, list)):
            found.append((REF, f"{self.refs[id(entry)]}:{key_text(raw)}"[:MAX_VALUE]))
        return found
