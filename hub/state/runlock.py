"""One run of an exchange at a time, however it was started (Airflow, ``hub run``, cron, two hosts at once).

The lock lives in the hub database, where every runner of the exchange meets:

* PostgreSQL: a session advisory lock on a connection kept for the run. The server drops it the moment
  the process dies (its connection closes), so a killed run never blocks the next one.
* SQLite and MariaDB: a lease (:mod:`hub.state.leases`) named ``run:<exchange>``, renewed by a background
  thread while the run lasts. A killed run stops renewing; its lease expires after ``ttl_seconds`` (30 s by
  default, the setting ``HUB_RUN_LOCK_TTL``).

``plan`` takes no lock: it writes nothing. A second run either waits for the lock (``wait_seconds``) or
fails with :class:`~hub.errors.ExchangeBusy`, one line naming the run that holds it.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from types import TracebackType

from sqlalchemy import Connection, text

from hub.errors import ExchangeBusy
from hub.logs import get_logger
from hub.state import runlog
from hub.state.leases import Leases
from hub.state.store import StateStore

log = get_logger("hub.runlock")
POLL_SECONDS = 0.5  # how often a waiting run tries again
#: the advisory lock's 64-bit key: advisory locks are per database, so the schema (several hubs may share
#: one database, each in its own schema) is part of what is hashed
ADVISORY_KEY = "hashtextextended('hub:' || current_schema() || ':' || :name, 0)"


def this_process() -> str:
    """How a lock holder is named: the host, the process id, and a token (two threads are two holders)."""
    return f"{socket.gethostname()} pid {os.getpid()} #{uuid.uuid4().hex[:8]}"


class RunLock:
    """``with RunLock(store, exchange, wait_seconds):`` holds the exchange's lock for the block."""

    def __init__(self, store: StateStore, exchange: str, wait_seconds: float = 0.0, ttl_seconds: float = 30.0):
        self.store = store
        self.exchange = exchange
        self.wait_seconds = wait_seconds
        self.ttl_seconds = ttl_seconds
        self.name = f"run:{exchange}"
        self.me = this_process()
        self._connection: Connection | None = None  # PostgreSQL: the session that holds the advisory lock
        self._leases: Leases | None = None
        self._stop_renewing = threading.Event()
        self._renewer: threading.Thread | None = None

    def __enter__(self) -> RunLock:
        deadline = time.monotonic() + self.wait_seconds
        while not self._try_acquire():
            if time.monotonic() >= deadline:
                raise ExchangeBusy(self._busy_message())
            time.sleep(POLL_SECONDS)
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        if self._connection is not None:
            try:  # the pooled session lives on after close(): the lock must be given back explicitly
                self._connection.execute(text(f"SELECT pg_advisory_unlock({ADVISORY_KEY})"), {"name": self.name})
            finally:
                self._connection.close()
                self._connection = None
        if self._leases is not None:
            self._stop_renewing.set()
            if self._renewer is not None:
                self._renewer.join()
            self._leases.release(self.name, self.me)

    # -- acquiring ---------------------------------------------------------------------------------------------

    def _try_acquire(self) -> bool:
        if self.store.engine.dialect.name == "postgresql":
            return self._try_advisory_lock()
        self._leases = self._leases or Leases(self.store)
        if not self._leases.acquire(self.name, self.me, self.ttl_seconds):
            return False
        self._renewer = threading.Thread(target=self._renew, name=f"run-lock-{self.exchange}", daemon=True)
        self._renewer.start()
        return True

    def _try_advisory_lock(self) -> bool:
        # autocommit: the session holds the lock without holding a transaction open for the whole run
        connection = self.store.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        if connection.execute(text(f"SELECT pg_try_advisory_lock({ADVISORY_KEY})"), {"name": self.name}).scalar():
            self._connection = connection
            return True
        connection.close()
        return False

    def _renew(self) -> None:
        while not self._stop_renewing.wait(self.ttl_seconds / 3):
            try:
                if not self._leases.renew(self.name, self.me, self.ttl_seconds):  # type: ignore[union-attr]
                    log.error("run lock lost: another run of the exchange may start", exchange=self.exchange)
                    return
            except Exception as exc:  # the database is away for a moment: the next renewal tries again
                log.warning("run lock renewal failed", exchange=self.exchange, error=type(exc).__name__)

    # -- naming the holder -------------------------------------------------------------------------------------

    def _busy_message(self) -> str:
        running = runlog.running_holder(self.store, self.exchange)
        if running is not None:
            holder = (f"run {running.id} on {running.host or '?'} pid {running.pid or '?'} since "
                      f"{running.started_at:%Y-%m-%d %H:%M:%S} UTC")
        else:  # between taking the lock and logging its run, or a lease of a process not yet in the run log
            lease = self._leases.holder(self.name) if self._leases else None
            holder = lease.holder if lease else "another process"
        waited = f" (waited {self.wait_seconds:g} s)" if self.wait_seconds else ""
        return f"{self.exchange} is already running: {holder}{waited}; try again later or pass --wait SECONDS"


__all__ = ["RunLock", "this_process"]
