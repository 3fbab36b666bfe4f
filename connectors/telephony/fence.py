"""What the AMI listener asks before and inside every write to the hub database, so that a listener that has
lost its lease (:mod:`.lease`) writes nothing more, even if it was frozen in the middle of a write.

Two checks:

* ``may_write()``: cheap, by the process's own clock, before a write is even prepared;
* ``holds(connection)``: inside the write's transaction, after its statements and before its COMMIT:
  is this listener still the lease's holder? On SQLite the transaction holds the database's write lock by
  then, and on PostgreSQL/MariaDB the lease row is read ``FOR SHARE``: either way nobody can take the lease
  over until this transaction has ended, so "still the holder" stays true up to the COMMIT. A holder that was
  replaced meanwhile rolls back instead.

``start(connection)`` opens the transaction: on PostgreSQL it limits how long the transaction may sit idle
(``idle_in_transaction_session_timeout`` = the lease TTL), so a holder frozen in the middle of a write (its
locks held) is cut off by the server and cannot block the listener that takes over.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import Connection


class LeaseLost(Exception):
    """The write was rolled back: this listener no longer holds its lease."""


class WriteFence(Protocol):
    def may_write(self) -> bool: ...

    def start(self, connection: Connection) -> None: ...

    def holds(self, connection: Connection) -> bool: ...


class NoFence:
    """A listener that runs without a lease (tests, embedding): always allowed to write."""

    def may_write(self) -> bool:
        return True

    def start(self, connection: Connection) -> None:
        pass

    def holds(self, connection: Connection) -> bool:
        return True
