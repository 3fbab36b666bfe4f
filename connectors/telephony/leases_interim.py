"""INTERIM, TO BE REPLACED by ``hub.state.leases`` (being built on branch h/scale): named leases in the hub
database, with exactly that module's interface, so that replacing it is changing one import in
:mod:`connectors.telephony.lease`. It keeps its own table (``telephony_leases``, not ``hub_leases``) so it
can never collide with the core's table and migration when they land; delete this file then.

A lease is one row per name: who holds it and until when. Taking, renewing and giving it up are each one
conditional UPDATE (or an INSERT for a name never leased), so two processes can never both succeed,
on SQLite, PostgreSQL and MariaDB alike. Times are the hub's UTC clock: hosts sharing a lease keep their
clocks in sync (NTP) to well under the TTL.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from hub.state.models import utcnow
from hub.state.store import StateStore

metadata = sa.MetaData()

leases_table = sa.Table(
    "telephony_leases", metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("holder", sa.String(128), nullable=False),
    sa.Column("expires_at", sa.DateTime, nullable=False),  # naive UTC, like every time in the hub database
)


@dataclass(frozen=True)
class LeaseHolder:
    holder: str
    expires_at: dt.datetime


class Leases:
    def __init__(self, store: StateStore):
        self.engine = store.engine
        metadata.create_all(self.engine, checkfirst=True)

    def acquire(self, name: str, holder: str, ttl_seconds: float) -> bool:
        """Take the lease if it is free, expired, or ours already; True if we hold it now."""
        now = utcnow()
        table = leases_table
        with self.engine.begin() as c:
            taken = c.execute(sa.update(table).where(
                table.c.name == name, sa.or_(table.c.holder == holder, table.c.expires_at < now))
                .values(holder=holder, expires_at=now + dt.timedelta(seconds=ttl_seconds))).rowcount
        if taken:
            return True
        try:
            with self.engine.begin() as c:
                c.execute(table.insert().values(name=name, holder=holder,
                                                expires_at=now + dt.timedelta(seconds=ttl_seconds)))
            return True
        except sa.exc.IntegrityError:  # somebody holds it (or took it a moment ago)
            return False

    def renew(self, name: str, holder: str, ttl_seconds: float) -> bool:
        """Extend our lease; False if it is not ours any more (it expired and another holder took it)."""
        now = utcnow()
        table = leases_table
        with self.engine.begin() as c:
            return bool(c.execute(sa.update(table).where(table.c.name == name, table.c.holder == holder)
                                  .values(expires_at=now + dt.timedelta(seconds=ttl_seconds))).rowcount)

    def release(self, name: str, holder: str) -> None:
        """Give the lease up (a clean stop): a standby may take it at once instead of after the TTL."""
        with self.engine.begin() as c:
            c.execute(sa.delete(leases_table).where(leases_table.c.name == name, leases_table.c.holder == holder))

    def holder(self, name: str) -> LeaseHolder | None:
        with self.engine.connect() as c:
            row = c.execute(sa.select(leases_table.c.holder, leases_table.c.expires_at)
                            .where(leases_table.c.name == name)).first()
        return LeaseHolder(row.holder, row.expires_at) if row is not None else None
