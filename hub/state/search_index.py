"""The search index table (``hub_search_index``): written with a batch's state, pruned by age, looked up by value."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, delete, or_, select, tuple_

from hub.state.models import SearchEntry, utcnow
from hub.state.upsert import upsert

_CHUNK = 300


def write(c: Connection, exchange: str, run_id: int, rows: Sequence[dict[str, Any]], now: dt.datetime) -> None:
    """Upsert a batch's index rows (one statement): a value seen again points at the latest run that wrote it."""
    if rows:
        upsert(c, SearchEntry.__table__, [dict(exchange=exchange, run_id=run_id, at=now, **row) for row in rows],
               ["kind", "value", "exchange", "source_key"], ["target_key", "run_id", "at"])


def prune(engine: Engine, retention_days: float) -> int:
    """Drop entries not refreshed for ``retention_days``; returns how many went."""
    cutoff = utcnow() - dt.timedelta(days=retention_days)
    with engine.begin() as c:
        return c.execute(delete(SearchEntry).where(SearchEntry.at < cutoff)).rowcount or 0


def by_value(engine: Engine, readings: Iterable[tuple[str, str]]) -> list[Any]:
    """The entries holding any of the (kind, value) pairs."""
    pairs = list(dict.fromkeys(readings))
    found: list[Any] = []
    with engine.connect() as c:
        for start in range(0, len(pairs), _CHUNK):
            chunk = pairs[start:start + _CHUNK]
            found += c.execute(select(SearchEntry).where(
                or_(*(((SearchEntry.kind == k) & (SearchEntry.value == v)) for k, v in chunk)))
                .order_by(SearchEntry.id)).all()
    return found


def of_records(engine: Engine, records: Iterable[tuple[str, str]]) -> list[Any]:
    """Every entry of the (exchange, source_key) records."""
    wanted = list(dict.fromkeys(records))
    found: list[Any] = []
    with engine.connect() as c:
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start:start + _CHUNK]
            found += c.execute(select(SearchEntry).where(
                tuple_(SearchEntry.exchange, SearchEntry.source_key).in_(chunk))).all()
    return found
