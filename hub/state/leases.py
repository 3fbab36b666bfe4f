"""Leases in the hub database: at most one holder of a name at a time, for a limited time.

A lease is a row of ``hub_leases``: a name (``run:website_leads``, ``ami-listener``), its holder and when it
expires. The holder renews it well before it expires; a holder that dies stops renewing, and once the lease
has expired anyone may take it. This is what keeps one AMI listener of an HA pair active and one run of an
exchange at a time on databases without advisory locks (SQLite, MariaDB).

Every time is the DATABASE's clock, never this process's: two hosts whose clocks disagree by a minute still
agree on whether a lease has expired. Each operation is one conditional statement (``UPDATE ... WHERE the
lease is ours or expired``, ``INSERT`` that a concurrent insert makes fail), so two processes racing for a
lease cannot both win, on SQLite, PostgreSQL and MariaDB alike.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, Interval, func, literal, select, text, update
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.exc import OperationalError

from hub.state.models import Lease
from hub.state.store import StateStore


@dataclass(frozen=True)
class LeaseHolder:
    holder: str
    expires_at: dt.datetime  # naive UTC, by the database's clock


class Leases:
    def __init__(self, store: StateStore):
        self.engine = store.engine
        self.dialect = store.engine.dialect.name

    def acquire(self, name: str, holder: str, ttl_seconds: float) -> bool:
        """Take the lease if it is free, expired or ours already (then it is extended)."""
        with self.engine.begin() as c:
            taken = c.execute(update(Lease).where(
                Lease.name == name, (Lease.holder == holder) | (Lease.expires_at < self._now()))
                .values(holder=holder, expires_at=self._later(ttl_seconds), acquired_at=self._now())).rowcount
        if taken:
            return True
        # nobody has held it yet (or it was released): of two processes inserting it at once, one inserts and
        # the other's insert does nothing (it waits for the first one's commit on PostgreSQL and MariaDB)
        try:
            with self.engine.begin() as c:
                return self._insert_new(c, name, holder, ttl_seconds)
        except OperationalError as exc:
            if _deadlock(exc):  # MariaDB chose this insert as a deadlock's victim: the other one has the lease
                return False
            raise

    def renew(self, name: str, holder: str, ttl_seconds: float) -> bool:
        """Extend our lease; False when it is no longer ours (taken over after it expired, or released)."""
        with self.engine.begin() as c:
            return bool(c.execute(update(Lease).where(Lease.name == name, Lease.holder == holder)
                                  .values(expires_at=self._later(ttl_seconds))).rowcount)

    def release(self, name: str, holder: str) -> None:
        """Give the lease up at once (a no-op when it is not ours)."""
        # the row stays, without a holder and expired: deleting it would send the next taker down the INSERT
        # path, where MariaDB's gap locks turn a race of inserts and deletes into deadlocks
        with self.engine.begin() as c:
            c.execute(update(Lease).where(Lease.name == name, Lease.holder == holder)
                      .values(holder="", expires_at=self._later(-1)))

    def take_over(self, name: str, dead_holder: str, holder: str, ttl_seconds: float) -> bool:
        """Take a lease from a holder known to be dead, before it expires; False if ``dead_holder`` no longer
        holds it (someone else was quicker)."""
        with self.engine.begin() as c:
            return bool(c.execute(update(Lease).where(Lease.name == name, Lease.holder == dead_holder)
                                  .values(holder=holder, expires_at=self._later(ttl_seconds),
                                          acquired_at=self._now())).rowcount)

    @staticmethod
    def holds(connection: Connection, name: str, holder: str) -> bool:
        """Whether ``holder`` has the lease, read inside the caller's transaction; on server databases the row
        stays share-locked until that transaction ends, so a write fenced by this check cannot race a takeover."""
        query = select(Lease.holder).where(Lease.name == name)
        if connection.dialect.name != "sqlite":  # SQLite: this transaction holds the write lock already
            query = query.with_for_update(read=True)
        return connection.execute(query).scalar() == holder

    def holder(self, name: str) -> LeaseHolder | None:
        """Who holds the lease now; None when nobody does (never taken, released, or expired)."""
        with self.engine.connect() as c:
            row = c.execute(select(Lease.holder, Lease.expires_at)
                            .where(Lease.name == name, Lease.expires_at >= self._now())).first()
        return LeaseHolder(row[0], _naive(row[1])) if row else None

    # -- the database's clock, as SQL expressions (naive UTC) ------------------------------------------------

    def _now(self) -> ColumnElement[dt.datetime]:
        if self.dialect == "postgresql":
            return func.timezone("UTC", func.clock_timestamp())  # clock_timestamp: not the transaction's start
        if self.dialect in ("mysql", "mariadb"):
            return func.utc_timestamp(6)
        return func.strftime("%Y-%m-%d %H:%M:%f", "now")  # fixed width, so text comparison is time order

    def _later(self, seconds: float) -> ColumnElement[dt.datetime]:
        if self.dialect == "postgresql":
            return self._now() + literal(dt.timedelta(seconds=seconds), Interval())
        if self.dialect in ("mysql", "mariadb"):
            return func.timestampadd(text("MICROSECOND"), int(seconds * 1_000_000), self._now())
        return func.strftime("%Y-%m-%d %H:%M:%f", "now", f"{seconds:+.3f} seconds")

    def _insert_new(self, c: Connection, name: str, holder: str, ttl_seconds: float) -> bool:
        values = dict(name=name, holder=holder, expires_at=self._later(ttl_seconds), acquired_at=self._now())
        if self.dialect in ("mysql", "mariadb"):
            return bool(c.execute(mysql.insert(Lease).values(**values).prefix_with("IGNORE")).rowcount)
        module = postgresql if self.dialect == "postgresql" else sqlite
        inserted = c.execute(module.insert(Lease).values(**values).on_conflict_do_nothing(index_elements=["name"])
                             .returning(Lease.name))
        return inserted.first() is not None


def _deadlock(exc: OperationalError) -> bool:
    return bool(exc.orig and exc.orig.args and exc.orig.args[0] == 1213)  # ER_LOCK_DEADLOCK


def _naive(value: dt.datetime | str) -> dt.datetime:
    # SQLite hands back the text the clock expression wrote when the column was set by it
    when = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    return when.replace(tzinfo=None)


__all__ = ["LeaseHolder", "Leases"]
