"""The listener's own memory in the hub database, next to the inbox: what survives a restart.

* ``telephony_listener``: per PBX, the watermark (PBX time of the last event whose effects are saved),
  from which a restarted listener knows the gap to recover;
* ``telephony_calls_in_flight``: the state of calls in progress, saved every ``snapshot_interval``;
* ``telephony_call_legs``: the Uniqueids of calls already committed (kept a few days), so gap recovery
  never commits a call twice even when the CDR cannot name its Linkedid (cdr_csv has no linkedid column).

The tables belong to this package (``telephony_`` prefix) and are created on first use; the inbox itself
is the core's (:meth:`hub.state.store.StateStore.inbox_put_many`).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from hub.state.models import utcnow
from hub.state.upsert import upsert

metadata = sa.MetaData()

listener_table = sa.Table(
    "telephony_listener", metadata,
    sa.Column("pbx", sa.String(64), primary_key=True),
    sa.Column("watermark", sa.Float),  # PBX epoch seconds
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

in_flight_table = sa.Table(
    "telephony_calls_in_flight", metadata,
    sa.Column("pbx", sa.String(64), primary_key=True),
    sa.Column("linkedid", sa.String(64), primary_key=True),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

legs_table = sa.Table(
    "telephony_call_legs", metadata,
    sa.Column("pbx", sa.String(64), primary_key=True),
    sa.Column("uniqueid", sa.String(64), primary_key=True),
    sa.Column("linkedid", sa.String(64), nullable=False),
    sa.Column("committed_at", sa.DateTime, nullable=False, index=True),
)


@dataclass
class Snapshot:
    """What changed since the last save; states already encoded (the calls keep changing meanwhile)."""

    changed: dict[str, str] = field(default_factory=dict)  # Linkedid -> JSON state
    gone: set[str] = field(default_factory=set)  # Linkedids finished
    legs: dict[str, str] = field(default_factory=dict)  # Uniqueid -> Linkedid of committed calls
    watermark: float | None = None

    @classmethod
    def encode(cls, changed: dict[str, dict[str, Any]], gone: set[str], legs: dict[str, str],
               watermark: float | None) -> Snapshot:
        return cls({lid: json.dumps(state, separators=(",", ":")) for lid, state in changed.items()},
                   set(gone), dict(legs), watermark)

    def then(self, later: Snapshot) -> Snapshot:
        """This snapshot (not saved) followed by a later one, as one."""
        changed = {lid: state for lid, state in self.changed.items() if lid not in later.gone}
        changed.update(later.changed)
        return Snapshot(changed, (self.gone | later.gone) - set(later.changed), {**self.legs, **later.legs},
                        later.watermark if later.watermark is not None else self.watermark)


class ListenerState:
    """Reads and writes the three tables for one PBX."""

    def __init__(self, engine: sa.Engine, pbx: str):
        self.engine = engine
        self.pbx = pbx
        metadata.create_all(engine, checkfirst=True)

    def load(self) -> tuple[float | None, list[dict[str, Any]]]:
        """(watermark, states of the calls in flight) saved by the previous run."""
        with self.engine.connect() as c:
            watermark = c.execute(sa.select(listener_table.c.watermark)
                                  .where(listener_table.c.pbx == self.pbx)).scalar()
            states = [json.loads(s) for (s,) in c.execute(sa.select(in_flight_table.c.state)
                                                          .where(in_flight_table.c.pbx == self.pbx))]
        return watermark, states

    def save(self, snapshot: Snapshot) -> None:
        """One transaction: calls changed and finished since the last save, legs of committed calls, watermark."""
        now = utcnow()
        gone = [lid for lid in snapshot.gone if lid not in snapshot.changed]
        legs, watermark = snapshot.legs, snapshot.watermark
        with self.engine.begin() as c:
            upsert(c, in_flight_table, [dict(pbx=self.pbx, linkedid=lid, state=state, updated_at=now)
                                        for lid, state in snapshot.changed.items()],
                   ["pbx", "linkedid"], ["state", "updated_at"])
            for chunk in _chunks(gone, 500):
                c.execute(sa.delete(in_flight_table).where(in_flight_table.c.pbx == self.pbx,
                                                           in_flight_table.c.linkedid.in_(chunk)))
            upsert(c, legs_table, [dict(pbx=self.pbx, uniqueid=uid, linkedid=lid, committed_at=now)
                                   for uid, lid in legs.items()], ["pbx", "uniqueid"], [])
            if watermark is not None:
                upsert(c, listener_table, [dict(pbx=self.pbx, watermark=watermark, updated_at=now)],
                       ["pbx"], ["watermark", "updated_at"])

    def committed(self, uniqueids: Sequence[str]) -> dict[str, str]:
        """Uniqueid -> Linkedid for those that belong to calls already committed."""
        found: dict[str, str] = {}
        with self.engine.connect() as c:
            for chunk in _chunks(list(uniqueids), 500):
                rows = c.execute(sa.select(legs_table.c.uniqueid, legs_table.c.linkedid).where(
                    legs_table.c.pbx == self.pbx, legs_table.c.uniqueid.in_(chunk)))
                found.update({uid: lid for uid, lid in rows})
        return found

    def forget_legs(self, older_than_days: float) -> int:
        cutoff = utcnow() - dt.timedelta(days=older_than_days)
        with self.engine.begin() as c:
            return c.execute(sa.delete(legs_table).where(legs_table.c.pbx == self.pbx,
                                                         legs_table.c.committed_at < cutoff)).rowcount


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
