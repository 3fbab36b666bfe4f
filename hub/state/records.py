"""Which records of which exchanges a key belongs to, and what was done to them: the reads behind ``hub trace``.

A record is ``(exchange, source_key)``; what the hub knows of it lives in the record state (its target key),
the record log (each write, by run), and the dead letters (what could not cross).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from sqlalchemy import Engine, select, tuple_

from hub.state.models import Checkpoint, DeadLetter, RecordLog, RecordState, Run

_CHUNK = 300


class RecordRef(NamedTuple):
    exchange: str
    source_key: str
    target_key: str | None


def by_source_key(engine: Engine, exchanges: Sequence[str] | None, key: str) -> list[RecordRef]:
    """Records of ``exchanges`` (None: of any) whose source key is ``key`` (in the state, the log or dead letters)."""
    if exchanges is not None and not exchanges:
        return []
    found: dict[tuple[str, str], str | None] = {}
    with engine.connect() as c:
        for model, target in ((RecordLog, RecordLog.target_key), (RecordState, RecordState.target_key),
                              (DeadLetter, None)):
            query = select(model.exchange, target if target is not None else model.source_key) \
                .where(model.source_key == key)
            if exchanges is not None:
                query = query.where(model.exchange.in_(exchanges))
            for exchange, value in c.execute(query):
                known = found.get((exchange, key))
                found[(exchange, key)] = (value if target is not None else None) or known
    return [RecordRef(e, k, t) for (e, k), t in found.items()]


def by_target_key(engine: Engine, exchanges: Sequence[str] | None, key: str) -> list[RecordRef]:
    """Records of ``exchanges`` (None: of any) that wrote (or keep) the target object ``key``."""
    if exchanges is not None and not exchanges:
        return []
    found: dict[tuple[str, str], str] = {}
    with engine.connect() as c:
        for model in (RecordState, RecordLog):
            query = select(model.exchange, model.source_key).where(model.target_key == key)
            if exchanges is not None:
                query = query.where(model.exchange.in_(exchanges))
            for exchange, source in c.execute(query):
                found[(exchange, source)] = key
    return [RecordRef(e, s, t) for (e, s), t in found.items()]


def exchanges_with_state(engine: Engine) -> set[str]:
    """Every exchange that ever checkpointed (one row each): naming them lets a lookup by key alone use the
    (exchange, key) indexes instead of scanning the record log."""
    with engine.connect() as c:
        return set(c.execute(select(Checkpoint.exchange)).scalars())


def writes(engine: Engine, records: Iterable[tuple[str, str]]) -> list[Any]:
    """The record-log rows (each write, with its run) of the records, oldest first."""
    return _of_records(engine, RecordLog, records, RecordLog.id)


def dead_letters(engine: Engine, records: Iterable[tuple[str, str]]) -> list[Any]:
    return _of_records(engine, DeadLetter, records, DeadLetter.id)


def runs(engine: Engine, ids: Iterable[int]) -> dict[int, Any]:
    wanted = sorted(set(ids))
    found: dict[int, Any] = {}
    with engine.connect() as c:
        for start in range(0, len(wanted), _CHUNK):
            for row in c.execute(select(Run).where(Run.id.in_(wanted[start:start + _CHUNK]))):
                found[row.id] = row
    return found


def _of_records(engine: Engine, model: Any, records: Iterable[tuple[str, str]], order: Any) -> list[Any]:
    wanted = list(dict.fromkeys(records))
    found: list[Any] = []
    with engine.connect() as c:
        for start in range(0, len(wanted), _CHUNK):
            found += c.execute(select(model).where(
                tuple_(model.exchange, model.source_key).in_(wanted[start:start + _CHUNK])).order_by(order)).all()
    return found


__all__ = ["RecordRef", "by_source_key", "by_target_key", "dead_letters", "runs", "writes"]
