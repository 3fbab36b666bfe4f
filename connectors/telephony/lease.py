"""One AMI listener per PBX at a time: a lease in the hub database, the other listeners standing by.

``hub listen ami`` may run on several machines (an HA pair over one hub database). One of them holds the
lease ``ami-listener:<pbx>`` and listens; the others stand by **without logging in to the PBX**: every
``lease_renew_interval`` seconds they try to take the lease, nothing more. Logging in on standby would
double the events the PBX sends for nothing: a standby that takes over must recover the gap from the
PBX's CDR anyway (whatever the dead holder read but had not committed is lost with it), and that same
recovery also covers the few seconds it spends logging in.

The holder renews the lease every ``lease_renew_interval`` seconds for ``lease_ttl`` seconds. It writes to
the hub database (calls, originate results, its saved state) only while its own clock says the lease is
safely held: until ``lease_renew_interval`` seconds before the lease could expire, counted from the moment
the last successful renewal was *sent*. So a holder paused past its TTL (a VM freeze, SIGSTOP, a long GC)
writes nothing from the moment it wakes; its renewal then fails because another listener took the lease,
and it stops listening and stands by. The margin of ``lease_renew_interval`` seconds before the TTL is
there for a commit that was already under way.

When the holder dies, the lease expires ``lease_ttl`` seconds after its last renewal, and a standby takes
it at its next attempt: failover within ``lease_ttl + lease_renew_interval`` seconds (plus a login). The new
holder starts like a restarted listener: it restores the calls in flight the dead one saved, logs in, asks
the PBX for its live channels and reads the CDR for the gap (:mod:`.recovery`). A clean stop (SIGTERM)
gives the lease up, so a standby takes over at its next attempt.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable

from sqlalchemy import Connection, text

from connectors.telephony.config import PbxConfig
from connectors.telephony.listener import AmiListener
from hub.logs import get_logger
from hub.state import Leases, StateStore

log = get_logger(__name__)


def lease_name(config: PbxConfig) -> str:
    return f"ami-listener:{config.name}"


def new_holder_id() -> str:
    """Who a listener process is, for the lease row and the logs: host, pid and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class HeldLease:
    """The holder's view of its lease, as the listener's write fence (:mod:`.fence`)."""

    def __init__(self, name: str, holder: str, ttl: float, margin: float):
        self.name = name
        self.holder = holder
        self.ttl = ttl
        self.margin = margin
        self._safe_until = 0.0  # monotonic clock

    def renewed(self, sent_at: float) -> None:
        """A renewal (or the acquisition) sent at ``sent_at`` (monotonic) succeeded."""
        self._safe_until = max(self._safe_until, sent_at + self.ttl - self.margin)

    def lost(self) -> None:
        self._safe_until = 0.0

    def may_write(self) -> bool:
        return time.monotonic() < self._safe_until

    def start(self, connection: Connection) -> None:
        if connection.dialect.name == "postgresql":
            timeout = int(self.ttl * 1000)
            connection.execute(text(f"SET LOCAL idle_in_transaction_session_timeout = {timeout}"))

    def holds(self, connection: Connection) -> bool:
        return Leases.holds(connection, self.name, self.holder)


class LeasedListener:
    """Stand by until the lease is ours, listen while it is, stand by again if it is lost."""

    def __init__(self, config: PbxConfig, store: StateStore, make_listener: Callable[..., AmiListener],
                 holder: str | None = None):
        self.config = config
        self.leases = Leases(store)
        self.make_listener = make_listener  # (fence=..., holder=...) -> AmiListener
        self.holder = holder or new_holder_id()
        self.name = lease_name(config)

    def run(self, stop: threading.Event) -> None:
        waiting_logged = False
        while not stop.is_set():
            sent_at = time.monotonic()
            if self._try(lambda: self.leases.acquire(self.name, self.holder, self.config.lease_ttl)):
                waiting_logged = False
                self._hold(stop, sent_at)
                continue
            if not waiting_logged:
                current = self._try(lambda: self.leases.holder(self.name))
                log.info("standing by: another listener holds the lease", pbx=self.config.name, lease=self.name,
                         holder=getattr(current, "holder", None), me=self.holder)
                waiting_logged = True
            stop.wait(self.config.lease_renew_interval)

    def _hold(self, stop: threading.Event, acquired_at: float) -> None:
        lease = HeldLease(self.name, self.holder, self.config.lease_ttl, self.config.lease_renew_interval)
        lease.renewed(acquired_at)
        log.info("took the lease: listening", pbx=self.config.name, lease=self.name, holder=self.holder)
        listener = self.make_listener(fence=lease, holder=self.holder)
        stop_listening = threading.Event()
        failure: list[BaseException] = []
        thread = threading.Thread(target=self._listen, args=(listener, stop_listening, failure),
                                  name="ami-listener", daemon=True)
        thread.start()
        lost = False
        while thread.is_alive():
            if stop.wait(self.config.lease_renew_interval):
                break
            sent_at = time.monotonic()
            still_ours = self._try(lambda: self.leases.renew(self.name, self.holder, self.config.lease_ttl))
            if still_ours:
                lease.renewed(sent_at)
            elif still_ours is False:  # another listener has it: it was ours no longer
                lease.lost()
                lost = True
                log.error("lost the lease to another listener: stopped writing, standing by", pbx=self.config.name,
                          lease=self.name, holder=self.holder)
                break
            # None: the hub database did not answer; may_write() turns False on its own when the margin runs out
        stop_listening.set()
        thread.join()
        if not lost:
            self._try(lambda: self.leases.release(self.name, self.holder))
        if failure:  # a wrong password, a bad setting, a failed committer: standing by would not cure it
            raise failure[0]

    @staticmethod
    def _listen(listener: AmiListener, stop: threading.Event, failure: list[BaseException]) -> None:
        try:
            listener.run(stop)
        except BaseException as exc:  # handed to the lease thread, which gives the lease up and raises it
            failure.append(exc)

    def _try(self, action: Callable[[], object]) -> object | None:
        """A lease operation; None when the hub database cannot be reached (try again next interval)."""
        try:
            return action()
        except Exception as exc:  # the hub database is down: standing by or fenced is the safe state
            log.warning("lease operation failed", pbx=self.config.name, lease=self.name, error=type(exc).__name__)
            return None
