"""The search index table (``hub_search_index``): written with a batch's state, pruned by age, looked up by value."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, delete, or_, select, tuple_

from hub.state.models import SearchEntry, table_of, utcnow
from hub.state.upsert import upsert

_CHUNK = 300
_PRUNE_CHUNK = 5_000


COLUMNS = ("exchange", "source_key", "kind", "value", "target_key", "run_id", "at")
#: the upsert as plain SQL per dialect: one executemany of tuples costs a fraction of SQLAlchemy's per-row
#: parameter processing, and the index is written for every record a run writes
_UPSERT = {
    "sqlite": f"INSERT INTO hub_search_index ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))}) "
              "ON CONFLICT (exchange, source_key, kind, value) DO UPDATE SET target_key = excluded.target_key, "
              "run_id = excluded.run_id, at = excluded.at",
    "mysql": f"INSERT INTO hub_search_index ({', '.join(COLUMNS)}) VALUES ({', '.join(['%s'] * len(COLUMNS))}) "
             "ON DUPLICATE KEY UPDATE target_key = VALUES(target_key), run_id = VALUES(run_id), at = VALUES(at)",
}
_UPSERT["mariadb"] = _UPSERT["mysql"]


def write(c: Connection, exchange: str, run_id: int, rows: Sequence[tuple[str, str, str, str | None]],
          now: dt.datetime) -> None:
    """Upsert a batch's index rows, (source_key, kind, value, target_key) each, in one statement: a value seen
    again points at the latest run that wrote it."""
    if not rows:
        return
    sql = _UPSERT.get(c.dialect.name)
    if sql is None:  # PostgreSQL: the columns as arrays, unnested server-side (hub.state.upsert)
        upsert(c, table_of(SearchEntry), [dict(zip(COLUMNS, (exchange, *row, run_id, now), strict=True))
                                          for row in rows], COLUMNS[:4], COLUMNS[4:])
        return
    at: Any = now.strftime("%Y-%m-%d %H:%M:%S.%f") if c.dialect.name == "sqlite" else now  # SQLAlchemy's format
    c.exec_driver_sql(sql, [(exchange, *row, run_id, at) for row in rows])


def prune(engine: Engine, retention_days: float) -> int:
    """Drop entries not refreshed for ``retention_days``; returns how many went.

    On PostgreSQL in chunks that skip rows a concurrent batch is refreshing: another exchange's run prunes
    while this one commits, and waiting on each other's rows could deadlock; a skipped row goes next time.
    """
    cutoff = utcnow() - dt.timedelta(days=retention_days)
    if engine.dialect.name != "postgresql":
        with engine.begin() as c:
            return c.execute(delete(SearchEntry).where(SearchEntry.at < cutoff)).rowcount or 0
    removed = 0
    while True:
        with engine.begin() as c:
            chunk = select(SearchEntry.id).where(SearchEntry.at < cutoff).limit(_PRUNE_CHUNK) \
                .with_for_update(skip_locked=True).scalar_subquery()
            count = c.execute(delete(SearchEntry).where(SearchEntry.id.in_(chunk))).rowcount or 0
        removed += count
        if count < _PRUNE_CHUNK:
            return removed


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
