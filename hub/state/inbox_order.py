"""Positions in an inbox stream that follow COMMIT order, so that a reader's checkpoint can never pass an event
that was not yet committed when it read.

Ids do not do this: a server database hands out an id at insert time, and two writers (two intake replicas,
an AMI listener pair) commit in their own order. A reader that saw id 41,155 committed before 41,143-41,154
moved its checkpoint past them and never read them (20,000 acknowledged submissions became 19,974 leads).

Each stream has a counter row (``hub_inbox_stream``). A writer takes its positions from the counter inside the
transaction that inserts the events, and the counter row stays locked until that transaction commits. The
next writer of the stream waits for the lock, so it gets higher positions only after the earlier writer's
events are committed and visible: positions are handed out, and become visible, in commit order. Reading
``position > checkpoint`` is then exact on SQLite, PostgreSQL and MariaDB alike. The cost is that commits to
ONE stream are serialized across writers; the intake's group commit keeps that cheap (one counter update
per group, not per submission). docs/deployment.md has the measurements that chose this design.
"""

from __future__ import annotations

from sqlalchemy import Connection, insert, select, update

from hub.state.models import InboxStream


def reserve(c: Connection, stream: str, count: int) -> int:
    """Reserve ``count`` consecutive positions of ``stream`` in transaction ``c``; returns the first one.

    The counter row stays locked until ``c`` commits or rolls back (a rollback returns the positions).
    A stream's first writers may race to create its counter: the loser gets an IntegrityError and its
    transaction is retried by the caller, like any other insert conflict.
    """
    moved = c.execute(update(InboxStream).where(InboxStream.stream == stream)
                      .values(last_position=InboxStream.last_position + count)).rowcount
    if not moved:
        c.execute(insert(InboxStream).values(stream=stream, last_position=count))
        return 1
    last = c.execute(select(InboxStream.last_position).where(InboxStream.stream == stream)).scalar_one()
    return int(last) - count + 1
