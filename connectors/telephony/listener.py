"""The AMI listener: turns the PBX's event stream into call records committed durably to the inbox.

Threads, so that Asterisk is never blocked by the hub (a session that stops reading is dropped by it):

* reader (one per session, from ``asterisk-ami``): socket -> parsed event -> in-memory queue. Nothing else.
* committer: queue -> :class:`CallAssembler` -> completed calls -> one inbox transaction per batch (group
  commit) -> wake the ``calls`` exchange (through the waker thread: never on this path). Every
  ``snapshot_interval`` it saves the calls in flight and the watermark (:mod:`.state`).
* supervisor (the caller's thread): connect, log in, ping every ``ping_interval``; after a drop or an
  Asterisk restart, reconnect with exponential backoff; after each (re)connect, ask the PBX which channels
  are live (calls whose end was lost are finished from the CDR) and request recovery of the gap.
* recovery: reads the CDR for a gap (after ``recovery_settle`` seconds, so the PBX has written it) and
  hands the calls found to the committer, which commits those not committed yet.

Nothing acknowledged is lost: an event is only "done" once its call is in the inbox; a listener killed in
between restarts from the saved calls in flight and recovers everything after its watermark from the CDR.
"""

from __future__ import annotations

import datetime as dt
import queue
import random
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from sqlalchemy import Connection

from connectors.telephony.assembler import CallAssembler, Completed
from connectors.telephony.calls import Call, Cdr
from connectors.telephony.client import AmiSession
from connectors.telephony.config import PbxConfig
from connectors.telephony.fence import LeaseLost, NoFence, WriteFence
from connectors.telephony.record import NumberPlan, build_record, cdr_time, main_cdr
from connectors.telephony.recovery import CdrSource, group_calls
from connectors.telephony.state import ListenerState, OriginateJournal, Snapshot
from hub import metrics
from hub.errors import AuthError, ConfigError, FatalError, HubError, RetriableError
from hub.logs import get_logger
from hub.state import InboxItem, StateStore, Stored
from hub.wakeup import NullWaker, Waker, inbox_asset

log = get_logger(__name__)

ORIGINATE_OUTCOMES = {"4": "answered", "5": "busy", "3": "no_answer", "0": "no_answer", "1": "failed",
                      "8": "failed"}


@dataclass
class ListenerStats:
    events: int = 0
    calls: int = 0  # committed (new) call records
    duplicates: int = 0  # completed calls the inbox had already (a replay after restart)
    recovered: int = 0  # calls backfilled from the CDR
    partial: int = 0  # calls finished from events alone (end lost, not in the CDR)
    originate_results: int = 0
    unbuildable: int = 0  # calls whose record could not be built (a bug: logged with the call id)
    connects: int = 0
    commit_errors: int = 0
    fenced: int = 0  # commits withheld because the lease was not held
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=200_000))  # event -> commit, s


@dataclass
class _Live:
    """What the PBX said right after a (re)connect, or at a periodic check."""

    channels: list[dict[str, str]] | None  # None: the PBX did not say (CoreShowChannels failed)
    since: float  # local time: calls silent since then and not among the channels have ended
    pbx_now: float


@dataclass(frozen=True)
class _Recovery:
    """A gap to read from the CDR: ``start``..``end`` (PBX time), not before ``not_before`` (monotonic)."""

    start: float
    end: float
    not_before: float
    dead: tuple[str, ...]  # calls in flight whose end was lost: finished from the CDR, or as they are


@dataclass
class _Recovered:
    request: _Recovery
    calls: list[tuple[str, list[Cdr]]] | None  # None: the CDR could not be read


# what the reader, the checks and the recovery thread hand the committer, in one queue (one order)
@dataclass(frozen=True)
class _Event:
    event: dict[str, str]
    wall: float  # time.time() when read
    perf: float  # time.perf_counter() when read


@dataclass(frozen=True)
class _Disconnected:
    at: float  # local time: the stream stops here, a gap begins


@dataclass(frozen=True)
class _Stop:
    pass


_Message = _Event | _Live | _Disconnected | _Recovered | _Stop


class AmiListener:
    def __init__(self, config: PbxConfig, store: StateStore, *, stream: str = "calls",
                 originate_stream: str = "originate_results", waker: Waker | None = None,
                 cdr_source: CdrSource | None = None, fence: WriteFence | None = None, holder: str | None = None):
        self.config = config
        self.store = store
        self.stream = stream
        self.originate_stream = originate_stream
        self.waker = waker or NullWaker()
        self.cdr_source = cdr_source
        # asked before and inside every write to the hub database (fence.py): a listener that lost its lease
        # (lease.py) writes nothing more, even before it has stopped
        self.fence: WriteFence = fence or NoFence()
        self.holder = holder  # who this listener is (recorded with each call it commits)
        self.stats = ListenerStats()
        self.plan = NumberPlan(config.region, config.extension_pattern)
        self.assembler = CallAssembler(cdr_wait=config.cdr_wait, orphan_wait=config.orphan_wait,
                                       correlation_variable=config.correlation_variable)
        self.state = ListenerState(store.engine, config.name)
        self.journal = OriginateJournal(store.engine, config.name)  # what click-to-call dialed
        self.connected = threading.Event()
        self._queue: queue.SimpleQueue[_Message] = queue.SimpleQueue()
        self._recoveries: queue.SimpleQueue[_Recovery | None] = queue.SimpleQueue()
        self._snapshots: queue.SimpleQueue[Snapshot | None] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._woken: set[str] = set()  # inbox streams with new events since the last wake-up
        self._stop = threading.Event()
        self._committer_done = threading.Event()
        self._watermark: float | None = None  # PBX time of the last event applied
        self._gap_from: float | None = None  # PBX time the event stream stopped (None: no gap to recover)
        self._clock_offset = 0.0  # PBX clock minus local clock, from the last ping
        self._legs: dict[str, str] = {}  # committed calls' Uniqueids not saved yet
        self.failure: BaseException | None = None  # what stopped the committer, if anything

    # -- running ------------------------------------------------------------------------------------------

    def run(self, stop: threading.Event | None = None) -> None:
        """Listen until ``stop`` is set (or :meth:`stop` is called).

        AuthError/ConfigError end it at once; so does a failure of the committer (FatalError), after the
        other threads have finished their work.
        """
        if stop is not None:
            self._stop = stop
        self._restore()
        saver = threading.Thread(target=self._save_loop, name="ami-saver", daemon=True)
        saver.start()
        threads = [threading.Thread(target=self._commit_loop, name="ami-committer", daemon=True),
                   threading.Thread(target=self._recovery_loop, name="ami-recovery", daemon=True),
                   threading.Thread(target=self._wake_loop, name="ami-waker", daemon=True)]
        for thread in threads:
            thread.start()
        try:
            self._supervise(self._stop)
        finally:
            self._queue.put(_Stop())
            self._recoveries.put(None)
            self._committer_done.wait(30)
            self._snapshots.put(None)
            saver.join(30)
            self._wake.set()
        if self.failure is not None:
            raise FatalError(f"{self.config.where}: the call committer failed: {self.failure!r}") from self.failure

    def stop(self) -> None:
        self._stop.set()

    def _restore(self) -> None:
        watermark, states = self.state.load()
        self.assembler.restore(states)
        self._watermark = watermark
        self._gap_from = watermark  # a previous run stopped here: recover from there
        if states or watermark:
            log.info("resuming", pbx=self.config.name, calls_in_flight=len(states),
                     saved_up_to=_clock(watermark) if watermark else None)

    # -- supervisor: connect, ping, reconnect --------------------------------------------------------------

    def _supervise(self, stop: threading.Event) -> None:
        delay = self.config.reconnect_initial
        while not stop.is_set():
            try:
                self._session_lifetime(stop)
                delay = self.config.reconnect_initial  # it was up: start backing off from scratch
            except (AuthError, ConfigError):
                raise
            except HubError as exc:
                log.warning("ami session ended", pbx=self.config.name, error=str(exc))
            self.connected.clear()
            if stop.wait(delay * random.uniform(0.8, 1.2)):
                break
            delay = min(delay * 2, self.config.reconnect_max)

    def _session_lifetime(self, stop: threading.Event) -> None:
        dropped = threading.Event()
        session = AmiSession(self.config, on_event=self._on_event, on_disconnect=lambda error: dropped.set())
        session.open()
        try:
            self.stats.connects += 1
            since = time.time()
            pbx_now = session.ping()
            self._clock_offset = pbx_now - time.time()
            log.info("connected", pbx=self.config.name, host=self.config.host, port=self.config.port)
            self.connected.set()
            metrics.listener_connected(self.config.name, True)
            self._check_live(session, since, pbx_now)
            next_check = time.monotonic() + self.config.reconcile_interval
            while not stop.is_set() and not dropped.is_set():
                if stop.wait(self.config.ping_interval) or dropped.is_set():
                    break
                pbx_now = session.ping()  # RetriableError when the link is dead: reconnect
                self._clock_offset = pbx_now - time.time()
                if time.monotonic() >= next_check:
                    self._check_live(session, time.time() - self.config.ping_interval, pbx_now)
                    next_check = time.monotonic() + self.config.reconcile_interval
            if dropped.is_set() and not stop.is_set():
                log.warning("connection lost", pbx=self.config.name)
        finally:
            metrics.listener_connected(self.config.name, False)
            # after every event read before it (same queue): the stream stops here, a gap begins
            self._queue.put(_Disconnected(time.time() + self._clock_offset))
            session.close(logoff=stop.is_set())

    def _check_live(self, session: AmiSession, since: float, pbx_now: float) -> None:
        try:
            channels: list[dict[str, str]] | None = session.list_action(
                "CoreShowChannels", timeout=self.config.connect_timeout * 4)
        except RetriableError as exc:
            log.warning("cannot list live channels; calls whose end was lost wait for the next check",
                        pbx=self.config.name, error=str(exc))
            channels = None
        self._queue.put(_Live(channels, since, pbx_now))

    def _on_event(self, event: dict[str, str], wall: float, perf: float) -> None:
        """On the reader thread: hand over and return at once."""
        self._queue.put(_Event(event, wall, perf))

    # -- committer ----------------------------------------------------------------------------------------

    def _commit_loop(self) -> None:
        completed: list[Completed] = []
        originates: list[InboxItem] = []
        next_tick = next_snapshot = time.time()
        stopping = False
        try:
            while not stopping:
                if self._stop.is_set() and not self.fence.may_write():
                    break  # the lease is lost: whatever is still queued is the new holder's to recover
                batch = self._drain()
                now = time.time()
                for message in batch:
                    if isinstance(message, _Event):
                        event = message.event
                        self.stats.events += 1
                        if event.get("Event") == "OriginateResponse":
                            result = self._originate_result(event)
                            if result is not None:
                                originates.append(result)
                            continue
                        completed.extend(self.assembler.feed(event, message.wall, message.perf))
                        self._advance_watermark(event)
                    elif isinstance(message, _Live):
                        self._apply_live(message, now)
                    elif isinstance(message, _Disconnected):
                        if self._gap_from is None:
                            self._gap_from = self._watermark if self._watermark is not None else message.at
                    elif isinstance(message, _Recovered):
                        completed.extend(self._apply_recovered(message))
                    else:  # _Stop
                        stopping = True
                if now >= next_tick:
                    completed.extend(self.assembler.tick(now))
                    next_tick = now + 0.2
                if completed or originates:
                    if self._commit(completed, originates):
                        completed, originates = [], []
                    else:
                        time.sleep(0.5)  # the hub database is unavailable: keep the calls, try again
                # only with every finished call in the inbox: a snapshot drops them from the calls in flight
                if (now >= next_snapshot or stopping) and not completed and not originates:
                    self._snapshot()
                    next_snapshot = now + self.config.snapshot_interval
        except Exception as exc:  # a bug must not silently stop the listener: stop it loudly
            log.exception("the call committer failed", pbx=self.config.name)
            self.failure = exc
            self._stop.set()
        finally:
            self._committer_done.set()

    def _drain(self, limit: int = 5000) -> list[_Message]:
        try:
            batch = [self._queue.get(timeout=0.05)]
        except queue.Empty:
            return []
        while len(batch) < limit:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _advance_watermark(self, event: dict[str, str]) -> None:
        stamp = event.get("Timestamp")
        if stamp:
            try:
                value = float(stamp)
            except ValueError:
                return
            if self._watermark is None or value > self._watermark:
                self._watermark = value

    def _commit(self, completed: list[Completed], originates: list[InboxItem]) -> bool:
        if not self.fence.may_write():
            self.stats.fenced += 1
            return False  # kept: committed once the lease is renewed, or by the new holder from the CDR
        items: list[InboxItem] = []
        built: list[Completed] = []
        for done in completed:
            call = done.call
            try:
                record = build_record(call.linkedid, call, call.cdrs, self.plan, self.config.zone, done.evidence,
                                      self.config.name)
            except Exception:  # a bug for one call must not stop all the others; the CDR still has it
                self.stats.unbuildable += 1
                log.exception("cannot build the record of a call", pbx=self.config.name, call_id=call.linkedid)
                continue
            built.append(done)
            meta = {"pbx": self.config.name, "evidence": done.evidence}
            items.append(InboxItem(self.stream, call.linkedid, record,
                                   {**meta, "listener": self.holder} if self.holder else meta))
        try:
            results = self._put(items + originates)
        except LeaseLost:
            self.stats.fenced += 1
            return False
        except Exception as exc:  # the database is down or locked: nothing is lost, the loop retries
            self.stats.commit_errors += 1
            log.error("cannot commit calls to the inbox; retrying", pbx=self.config.name, calls=len(items),
                      error=type(exc).__name__)
            return False
        committed_at = time.perf_counter()
        for done, item, stored in zip(built, items, results, strict=False):
            if stored.created:
                self.stats.calls += 1
                self.stats.recovered += done.evidence == "recovered"
                self.stats.partial += done.evidence == "partial"
            else:
                self.stats.duplicates += 1
            if done.arrival is not None:
                self.stats.latencies.append(committed_at - done.arrival)
            for uid in item.payload["uniqueids"]:
                self._legs[uid] = done.call.linkedid
        self.stats.originate_results += sum(stored.created for stored in results[len(items):])
        self._woken.update({self.stream} if items else set())
        self._woken.update({self.originate_stream} if originates else set())
        self._wake.set()
        return True

    def _put(self, items: list[InboxItem]) -> list[Stored]:
        """``StateStore.inbox_put_many``, with the write fence inside its transaction."""
        return self.store.inbox_put_many(items, on_begin=self.fence.start, before_commit=self._confirm_lease)

    def _confirm_lease(self, connection: Connection) -> None:
        if not self.fence.holds(connection):
            raise LeaseLost(self.holder)  # rolls the inserts back

    def _snapshot(self) -> None:
        """Encode what changed now (cheap); the saver thread writes it (the database write is not)."""
        changed, gone = self.assembler.changes()
        legs, self._legs = self._legs, {}
        self._snapshots.put(Snapshot.encode(changed, gone, legs, self._watermark))

    def _save_loop(self) -> None:
        """Write snapshots in order; one that fails is merged into the next and written with it. Once an hour,
        forget the legs of calls committed more than ``legs_retention_days`` ago."""
        unsaved: Snapshot | None = None
        next_prune = time.monotonic()
        while True:
            if time.monotonic() >= next_prune:
                next_prune = time.monotonic() + 3600
                try:
                    if self.fence.may_write():
                        self.state.forget_legs(self.config.legs_retention_days)
                except Exception as exc:  # housekeeping: try again in an hour
                    log.warning("cannot prune old call legs", pbx=self.config.name, error=type(exc).__name__)
            try:
                snapshot = self._snapshots.get(timeout=2.0)
            except queue.Empty:
                snapshot = Snapshot() if unsaved is not None else None
                if snapshot is None:
                    continue
            if snapshot is None:
                return
            if unsaved is not None:
                snapshot = unsaved.then(snapshot)
            if not self.fence.may_write():  # the new holder's state must not be overwritten by ours
                unsaved = snapshot
                continue
            try:
                self.state.save(snapshot, self.fence)
                unsaved = None
            except LeaseLost:
                unsaved = snapshot
            except Exception as exc:
                log.error("cannot save the calls in flight; retrying", pbx=self.config.name,
                          error=type(exc).__name__)
                unsaved = snapshot

    def _originate_result(self, event: dict[str, str]) -> InboxItem | None:
        """The outcome of one of the hub's own Originate actions (click-to-call), for the write-back."""
        action_id = event.get("ActionID", "")
        prefix = self.config.originate_prefix + ":"
        if not action_id.startswith(prefix):
            return None
        request_id = action_id[len(prefix):].rsplit(":", 1)[0]
        reason = event.get("Reason", "")
        success = event.get("Response", "").lower() == "success"
        uniqueid = event.get("Uniqueid", "")
        return InboxItem(self.originate_stream, action_id, {
            "request_id": request_id, "action_id": action_id, "response": event.get("Response", ""),
            "reason": reason, "outcome": "answered" if success else ORIGINATE_OUTCOMES.get(reason, "failed"),
            "call_id": uniqueid if uniqueid and uniqueid != "<unknown>" else None,
            "channel": event.get("Channel", ""), "pbx": self.config.name,
        }, {"pbx": self.config.name})

    # -- gaps ---------------------------------------------------------------------------------------------

    def _apply_live(self, live: _Live, now: float) -> None:
        dead = []
        if live.channels is not None:
            for channel in live.channels:
                self.assembler.add_live_channel(channel, now)
            dead = self.assembler.mark_dead({c.get("Linkedid", "") for c in live.channels}, live.since)
            self.assembler.close_missing_legs({c.get("Uniqueid", "") for c in live.channels}, live.pbx_now, now)
        starts = [leg.created_at for call in dead for leg in call.legs.values() if leg.created_at is not None]
        begin = min([*starts, *([self._gap_from] if self._gap_from is not None else [])], default=None)
        self._gap_from = None
        if begin is None:
            return
        if dead:
            log.info("calls ended while their events were lost", pbx=self.config.name, calls=len(dead))
        # up to the reconnect only: later calls are seen live, and a call ending while the CDR is read could be
        # there with only some of its rows (its Linkedid, the oldest Uniqueid, would then be wrong)
        self._recoveries.put(_Recovery(begin - self.config.recovery_slack, live.pbx_now,
                                       time.monotonic() + self.config.recovery_settle,
                                       tuple(call.linkedid for call in dead)))

    def _apply_recovered(self, found: _Recovered) -> list[Completed]:
        completed: list[Completed] = []
        backfill: list[tuple[str, list[Cdr]]] = []
        for linkedid, cdrs in found.calls or []:
            uids = [c["UniqueID"] for c in cdrs]
            call = self.assembler.calls.get(linkedid) or self.assembler.in_flight_for(uids)
            if call is not None:
                if call.dead:
                    finished = self.assembler.finish(call.linkedid, cdrs, "recovered")
                    if finished is not None:
                        completed.append(finished)
                continue  # still live: its own events will finish it
            if self.assembler.is_done(linkedid) or any(self.assembler.is_done(uid) for uid in uids):
                continue
            backfill.append((linkedid, cdrs))
        known = self.state.committed([c["UniqueID"] for _, cdrs in backfill for c in cdrs]) if backfill else {}
        adopted = [self.assembler.adopt(linkedid, cdrs) for linkedid, cdrs in backfill
                   if not any(c["UniqueID"] in known for c in cdrs)]
        self._find_click_to_calls([done.call for done in adopted])
        completed.extend(adopted)
        for linkedid in found.request.dead:
            call = self.assembler.calls.get(linkedid)
            if call is not None and call.dead:
                finished = self.assembler.finish(linkedid, [], "partial")  # not in the CDR: what the events say
                if finished is not None:
                    completed.append(finished)
        log.info("gap recovered from the CDR", pbx=self.config.name, start=_clock(found.request.start),
                 end=_clock(found.request.end), cdr_calls=len(found.calls or []), finished=len(completed))
        return completed

    def _find_click_to_calls(self, calls: list[Call]) -> None:
        """Calls recovered from the CDR have no channel variables, hence no request id, and a click-to-call the
        manager did not take reads there like the customer's missed call. The hub knows what it dialed
        (``telephony_originates``): a call between that extension and that number, started within
        ``recovery_slack`` seconds of the Originate, is that request's."""
        wanted: list[tuple[Call, tuple[str, str, dt.datetime]]] = []
        for call in calls:
            main = main_cdr(call.cdrs, call.linkedid)
            start = cdr_time(main.get("StartTime"), self.config.zone) if main is not None else None
            if main is None or start is None:
                continue
            numbers = [self.plan.normalize(main.get("Source")), self.plan.normalize(main.get("Destination"))]
            extension = next((n for n in numbers if self.plan.is_extension(n)), None)
            outside = next((n for n in numbers if n and not self.plan.is_extension(n)), None)
            if extension and outside:
                wanted.append((call, (extension, outside, start)))
        if not wanted:
            return
        try:
            found = self.journal.requests_near([key for _, key in wanted], self.config.recovery_slack)
        except Exception as exc:  # the calls are still committed; they may then read as inbound
            log.warning("cannot look up the click-to-calls of recovered calls", pbx=self.config.name,
                        error=type(exc).__name__)
            return
        for (call, _), request_id in zip(wanted, found, strict=True):
            call.request_id = request_id or call.request_id

    def _recovery_loop(self) -> None:
        while True:
            request = self._recoveries.get()
            if request is None:
                return
            delay = request.not_before - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                return
            self._queue.put(_Recovered(request, self._read_cdr(request.start, request.end)))

    def _read_cdr(self, start: float, end: float) -> list[tuple[str, list[Cdr]]] | None:
        if self.cdr_source is None:
            log.warning("no CDR source configured (cdr_csv or cdr_connection): calls in the gap cannot be "
                        "recovered", pbx=self.config.name, start=_clock(start), end=_clock(end))
            return None
        for attempt in range(3):
            try:
                return group_calls(self.cdr_source.rows(start, end), self.config.zone)
            except RetriableError as exc:
                log.warning("reading the CDR failed", pbx=self.config.name, error=str(exc), attempt=attempt + 1)
                if self._stop.wait(2.0 * (attempt + 1)):
                    return None
            except ConfigError as exc:
                log.error("gap recovery is impossible", pbx=self.config.name, error=str(exc))
                return None
        return None

    # -- waking the exchange, off the hot path -------------------------------------------------------------

    def _wake_loop(self) -> None:
        while not self._committer_done.is_set() or self._wake.is_set():
            if not self._wake.wait(0.5):
                continue
            self._wake.clear()
            streams, self._woken = self._woken, set()
            for stream in sorted(streams):
                asset = inbox_asset(stream)
                try:
                    self.waker.wake(asset)
                except Exception as exc:  # a wake-up is a hint: the exchange's schedule picks the calls up anyway
                    log.warning("wake-up failed", pbx=self.config.name, asset=asset, error=type(exc).__name__)
            time.sleep(0.2)  # at most a few wake-ups a second, however many calls


def _clock(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(epoch))

