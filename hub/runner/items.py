"""One source record on its way through a run, and the small helpers that decide what happens to it."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from hub.connector import Record, WriteAction
from hub.errors import RecordError
from hub.expr.functions import Loss
from hub.runner.report import Change, Outcome
from hub.state.store import PriorState


@dataclass(slots=True)  # one per record read: slots make it smaller and its fields quicker to reach
class Item:
    source_key: str
    record: Record  # as read from the source: the dead-letter payload if it fails
    version: str | None = None
    lookups: Record = field(default_factory=dict)
    mapped: Record | None = None
    content_hash: str | None = None
    source_hash: str | None = None
    prior: PriorState | None = None
    existing: Record | None = None
    owner: str | None = None  # another source record the existing object already belongs to
    action: WriteAction | None = None
    changes: tuple[Change, ...] = ()
    outcome: Outcome | None = None
    target_key: str | None = None
    error: RecordError | None = None
    losses: list[Loss] = field(default_factory=list)  # values the mapping emptied or cut (run warnings)
    note: str | None = None  # why this outcome, when it needs saying (a deletion's reason)

    @property
    def pending(self) -> bool:
        return self.outcome is None

    def reject(self, error: RecordError) -> None:
        self.outcome = "rejected"
        self.error = error
        self.action = None


def source_key(record: Record, key_fields: list[str]) -> str | None:
    if len(key_fields) == 1:  # the usual case, once per record read: no list, no join
        value = record.get(key_fields[0])
        if type(value) is str:  # the usual key: text as it is
            return value or None
        return None if value is None else _key_text(value)
    values = [record.get(name) for name in key_fields]
    if any(v is None or v == "" for v in values):
        return None
    return "|".join(_key_text(v) for v in values)


def _key_text(value: Any) -> str:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


def idempotency_key(exchange: str, source: str, content_hash: str | None, kind: str) -> str:
    raw = f"{exchange}\x1f{source}\x1f{content_hash or ''}\x1f{kind}"
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:48]


def same_value(old: Any, new: Any) -> bool:
    """Equality as a person means it: 1 == Decimal('1.00'), '' == None, naive == aware at the same instant."""
    if old == new:
        return True
    if (old is None or old == "") and (new is None or new == ""):
        return True
    if isinstance(old, (int, float, Decimal)) and isinstance(new, (int, float, Decimal)) \
            and not isinstance(old, bool) and not isinstance(new, bool):
        return Decimal(str(old)) == Decimal(str(new))
    if isinstance(old, list) and isinstance(new, list):
        return len(old) == len(new) and all(_same_row(a, b) for a, b in zip(old, new, strict=True))
    return False


def _same_row(old: Any, new: Any) -> bool:
    if isinstance(old, dict) and isinstance(new, dict):
        return all(same_value(old.get(k), v) for k, v in new.items())
    return same_value(old, new)


def key_text(value: Any) -> str | None:
    return None if value is None else _key_text(value)
