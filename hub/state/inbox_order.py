"""Positions in an inbox stream that follow the order in which events became VISIBLE (committed), so that a
reader's checkpoint can never pass an event that was not yet committed when it read.

Ids do not do this: a server database hands out an id at insert time, and two writers (two intake replicas,
an AMI listener pair) commit in their own order. A reader that saw id 41,155 committed before 41,143-41,154
moved its checkpoint past them and never read them (20,000 acknowledged submissions became 19,974 leads).

Writers insert events without a position, in parallel, and acknowledge them once committed. Readers give
positions: before reading a stream, :func:`assign` numbers every committed event that has none yet, after the
stream's last position (``hub_inbox_stream``), in one transaction that holds the stream's counter row locked.
An event still being committed is invisible to it and gets a higher position later, once it is committed; two
readers assigning at once take turns on the counter row. So positions only ever grow in the order events become
visible, and ``position > checkpoint`` misses nothing, on SQLite, PostgreSQL and MariaDB alike.
docs/deployment.md has the measurements that chose this design.
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from hub.state.models import InboxEvent, InboxStream

CHUNK = 5_000  # events numbered per transaction (a backlog is numbered in several)


def assign(engine: Engine, stream: str) -> None:
    """Give a position to every committed event of ``stream`` that has none, in id order."""
    with engine.connect() as c:  # most reads find nothing new: then no write at all
        if c.execute(select(InboxEvent.id).where(InboxEvent.stream == stream, InboxEvent.position.is_(None))
                     .limit(1)).first() is None:
            return
    while True:
        try:
            numbered = _assign_chunk(engine, stream)
        except IntegrityError:  # the stream's first two readers both created its counter: the other one did
            continue
        if numbered < CHUNK:
            return


def _assign_chunk(engine: Engine, stream: str) -> int:
    with engine.begin() as c:
        last = _lock_counter(c, stream)
        ids = c.execute(select(InboxEvent.id).where(InboxEvent.stream == stream, InboxEvent.position.is_(None))
                        .order_by(InboxEvent.id).limit(CHUNK)).scalars().all()
        if not ids:
            return 0
        c.execute(update(InboxEvent).where(InboxEvent.id == bindparam("event_id"))
                  .values(position=bindparam("new_position")).execution_options(synchronize_session=False),
                  [{"event_id": event_id, "new_position": last + n} for n, event_id in enumerate(ids, start=1)])
        c.execute(update(InboxStream).where(InboxStream.stream == stream)
                  .values(last_position=last + len(ids)))
    return len(ids)


def _lock_counter(c: Connection, stream: str) -> int:
    """The stream's last position, with its counter row locked until ``c`` ends (created on first use)."""
    # a no-op update takes the row lock on every database (SQLite locks the whole file for the transaction)
    if not c.execute(update(InboxStream).where(InboxStream.stream == stream)
                     .values(last_position=InboxStream.last_position)).rowcount:
        # the stream's first reader; of two at once, one insert waits for the other and then fails (retried)
        c.execute(insert(InboxStream).values(stream=stream, last_position=0))
    return int(c.execute(select(InboxStream.last_position).where(InboxStream.stream == stream)).scalar_one())
