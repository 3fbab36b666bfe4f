"""The listener's own memory in the hub database, next to the inbox: what survives a restart.

* ``telephony_listener``: per PBX, the watermark (PBX time of the last event whose effects are saved),
  from which a restarted listener knows the gap to recover;
* ``telephony_calls_in_flight``: the state of calls in progress, saved every ``snapshot_interval``;
* ``telephony_call_legs``: the Uniqueids of calls already committed (kept a few days), so gap recovery
  never commits a call twice even when the CDR cannot name its Linkedid (cdr_csv has no linkedid column);
* ``telephony_originates``: every click-to-call request the hub dialed, claimed before the Originate is
  sent: whatever re-runs (a retry, a new mapping version, two workers at once), a request rings once.

The tables belong to this package (``telephony_`` prefix): its Alembic branch ``telephony``
(``migrations/versions``, named in its manifest) creates them with the hub's own tables, whenever the hub
database is opened or ``hub db upgrade`` runs; the inbox itself is the core's
(:meth:`hub.state.store.StateStore.inbox_put_many`).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from connectors.telephony.fence import LeaseLost, NoFence, WriteFence
from hub.state import upgrade, upsert_rows, utcnow

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


originates_table = sa.Table(
    "telephony_originates", metadata,
    sa.Column("pbx", sa.String(64), primary_key=True),
    sa.Column("request_id", sa.String(64), primary_key=True),
    sa.Column("action_id", sa.String(128), nullable=False),
    sa.Column("extension", sa.String(32), nullable=False),
    sa.Column("number", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # sending | queued
    sa.Column("sent_at", sa.DateTime, nullable=False),
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

    def load(self) -> tuple[float | None, list[dict[str, Any]]]:
        """(watermark, states of the calls in flight) saved by the previous run."""
        with self.engine.connect() as c:
            watermark = c.execute(sa.select(listener_table.c.watermark)
                                  .where(listener_table.c.pbx == self.pbx)).scalar()
            states = [json.loads(str(s)) for (s,) in c.execute(sa.select(in_flight_table.c.state)
                                                          .where(in_flight_table.c.pbx == self.pbx))]
        return watermark, states

    def save(self, snapshot: Snapshot, fence: WriteFence | None = None) -> None:
        """One transaction: calls changed and finished since the last save, legs of committed calls, watermark.
        Rolled back (:class:`LeaseLost`) if the listener no longer holds its lease: the state is the new
        holder's then."""
        fence = fence or NoFence()
        now = utcnow()
        gone = [lid for lid in snapshot.gone if lid not in snapshot.changed]
        legs, watermark = snapshot.legs, snapshot.watermark
        with self.engine.begin() as c:
            fence.start(c)
            upsert_rows(c, in_flight_table, [dict(pbx=self.pbx, linkedid=lid, state=state, updated_at=now)
                                        for lid, state in snapshot.changed.items()],
                   ["pbx", "linkedid"], ["state", "updated_at"])
            for chunk in _chunks(gone, 500):
                c.execute(sa.delete(in_flight_table).where(in_flight_table.c.pbx == self.pbx,
                                                           in_flight_table.c.linkedid.in_(chunk)))
            upsert_rows(c, legs_table, [dict(pbx=self.pbx, uniqueid=uid, linkedid=lid, committed_at=now)
                                   for uid, lid in legs.items()], ["pbx", "uniqueid"], [])
            if watermark is not None:
                upsert_rows(c, listener_table, [dict(pbx=self.pbx, watermark=watermark, updated_at=now)],
                       ["pbx"], ["watermark", "updated_at"])
            if not fence.holds(c):
                raise LeaseLost(self.pbx)

    def committed(self, uniqueids: Sequence[str]) -> dict[str, str]:
        """Uniqueid -> Linkedid for those that belong to calls already committed."""
        found: dict[str, str] = {}
        with self.engine.connect() as c:
            for chunk in _chunks(list(uniqueids), 500):
                rows = c.execute(sa.select(legs_table.c.uniqueid, legs_table.c.linkedid).where(
                    legs_table.c.pbx == self.pbx, legs_table.c.uniqueid.in_(chunk)))
                found.update({str(uid): str(lid) for uid, lid in rows})
        return found

    def forget_legs(self, older_than_days: float) -> int:
        cutoff = utcnow() - dt.timedelta(days=older_than_days)
        with self.engine.begin() as c:
            return c.execute(sa.delete(legs_table).where(legs_table.c.pbx == self.pbx,
                                                         legs_table.c.committed_at < cutoff)).rowcount


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class OriginateJournal:
    """The requests dialed on one PBX. A request is claimed (one row, unique) before its Originate is sent."""

    def __init__(self, engine: sa.Engine, pbx: str):
        self.engine = engine
        self.pbx = pbx
        # the connector may be the first to open this hub database (`hub check`, its kit tests): bring it, this
        # package's branch included, to the current schema (one query when it already is)
        upgrade(engine)

    def find(self, values: Sequence[str], by: str = "request_id") -> dict[str, dict[str, Any]]:
        """Claimed requests by ``request_id`` or ``action_id``, keyed by that field."""
        table = originates_table
        column = table.c[by]
        found: dict[str, dict[str, Any]] = {}
        with self.engine.connect() as c:
            for chunk in _chunks(list(values), 500):
                rows = c.execute(sa.select(table.c.request_id, table.c.action_id, table.c.extension, table.c.number,
                                           table.c.status)
                                 .where(table.c.pbx == self.pbx, column.in_(chunk))).mappings()
                found.update({row[by]: dict(row) for row in rows})
        return found

    def requests_near(self, calls: Sequence[tuple[str, str, dt.datetime]], slack: float) -> list[str | None]:
        """For each (extension, number, start) of a call, the request dialed for that extension and number
        closest to that start, at most ``slack`` seconds away (each request given to one call at most)."""
        extensions = sorted({extension for extension, _, _ in calls})
        numbers = sorted({number for _, number, _ in calls})
        table = originates_table
        with self.engine.connect() as c:
            rows = c.execute(sa.select(table.c.request_id, table.c.extension, table.c.number, table.c.sent_at)
                             .where(table.c.pbx == self.pbx, table.c.extension.in_(extensions),
                                    table.c.number.in_(numbers))).all()
        used: set[str] = set()
        found: list[str | None] = []
        for extension, number, start in calls:
            naive = start.astimezone(dt.UTC).replace(tzinfo=None)
            near = sorted((abs((row.sent_at - naive).total_seconds()), row.request_id) for row in rows
                          if (row.extension, row.number) == (extension, number) and row.request_id not in used)
            best = near[0] if near and near[0][0] <= slack else None
            found.append(best[1] if best else None)
            if best:
                used.add(best[1])
        return found

    def claim(self, request_id: str, action_id: str, extension: str, number: str) -> dict[str, Any] | None:
        """Claim the request for this ActionID; None if claimed now, else the claim made earlier."""
        try:
            with self.engine.begin() as c:
                c.execute(originates_table.insert().values(
                    pbx=self.pbx, request_id=request_id, action_id=action_id, extension=extension, number=number,
                    status="sending", sent_at=utcnow()))
            return None
        except sa.exc.IntegrityError:
            return self.find([request_id])[request_id]

    def confirm(self, request_id: str) -> None:
        with self.engine.begin() as c:
            c.execute(sa.update(originates_table).where(originates_table.c.pbx == self.pbx,
                                                        originates_table.c.request_id == request_id)
                      .values(status="queued"))

    def release(self, request_id: str) -> None:
        """The PBX refused the Originate: nothing rang, the request may be dialed again."""
        with self.engine.begin() as c:
            c.execute(sa.delete(originates_table).where(originates_table.c.pbx == self.pbx,
                                                        originates_table.c.request_id == request_id))
