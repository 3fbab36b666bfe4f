"""Assemble calls from the AMI event stream: pure logic, no I/O, driven by events and a clock.

Rules taken from the recorded sessions (``sandbox/ami/recordings``):

* a call's legs share a ``Linkedid``; ``Cdr`` events carry only ``UniqueID``, so they are attached through
  the legs already seen (a CDR for a leg not seen yet waits as an orphan for a while);
* the caller number comes from ``NewCallerid`` and later events (``Newchannel`` says ``<unknown>``);
* a call is complete when every leg has hung up and every leg has its CDR (its own, or as the
  ``DestinationChannel`` of another's): CDRs arrive before or after the ``Hangup``. If the CDRs do not all
  come (CDR disabled for a channel, cdr_manager off), the call completes ``cdr_wait`` seconds after the
  last hangup with what is known;
* events for a call already completed (a late second CDR segment) are ignored.

Times: data times are the PBX's (event ``Timestamp``); timeouts use the local wall clock passed in.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from connectors.telephony.calls import CDR_FIELDS, Call, Cdr
from connectors.telephony.record import Evidence

Event = dict[str, str]
_NOT_A_NUMBER = {"", "<unknown>"}
_MIXMONITOR = re.compile(r"^(?:(?P<cond>[^?]*)\?)?MixMonitor\((?P<file>[^,)]+)")


@dataclass
class Completed:
    """A finished call, ready to become a record."""

    call: Call
    evidence: Evidence
    arrival: float | None = None  # perf_counter() of the event that completed it (None: a timeout)


@dataclass
class AssemblerStats:
    events: int = 0
    ignored: int = 0  # events of calls already completed
    orphan_cdrs_dropped: int = 0
    completed_without_cdr: int = 0


@dataclass
class CallAssembler:
    cdr_wait: float = 10.0
    orphan_wait: float = 30.0
    correlation_variable: str = "HUB_REQUEST"
    remember: int = 200_000  # completed calls remembered, to ignore their late events
    calls: dict[str, Call] = field(default_factory=dict)  # in flight, by Linkedid
    stats: AssemblerStats = field(default_factory=AssemblerStats)

    def __post_init__(self) -> None:
        self._linked_by_uid: dict[str, str] = {}  # Uniqueid -> Linkedid, for legs in flight
        self._done: OrderedDict[str, None] = OrderedDict()  # completed Linkedids and their Uniqueids
        self._orphans: dict[str, list[tuple[float, Cdr]]] = {}  # CDRs waiting for their leg, by Uniqueid
        self._dirty: set[str] = set()  # calls changed since the last snapshot
        self._gone: set[str] = set()  # calls finished since the last snapshot
        self._handlers: dict[str, Callable[[Event, float, float], Call | None]] = {
            "Newchannel": self._channel, "NewCallerid": self._channel, "Newstate": self._newstate,
            "Hangup": self._hangup, "Cdr": self._cdr, "VarSet": self._varset, "Newexten": self._newexten,
            "DialBegin": self._dial, "DialEnd": self._dial_end, "BridgeEnter": self._channel,
            "QueueCallerJoin": self._queue_join, "QueueCallerAbandon": self._queue_abandon,
            "AgentConnect": self._agent_connect, "MixMonitorStart": self._mixmonitor,
        }

    # -- input ---------------------------------------------------------------------------------------------

    def feed(self, event: Event, now: float, arrival: float | None = None) -> list[Completed]:
        """Apply one event (``now``: local wall clock; ``arrival``: perf_counter when it was read)."""
        handler = self._handlers.get(event.get("Event", ""))
        if handler is None:
            return []
        self.stats.events += 1
        call = handler(event, _pbx_time(event, now), now)
        if call is None:
            return []
        call.last_seen = now
        self._dirty.add(call.linkedid)
        if call.all_hung_up and call.cdrs and call.covered():
            return [self._finish(call, "live", arrival)]
        return []

    def tick(self, now: float) -> list[Completed]:
        """Complete calls whose CDRs did not all come in time; drop orphans kept too long."""
        done = []
        for call in list(self.calls.values()):
            if call.hungup_seen is not None and now - call.hungup_seen >= self.cdr_wait and not call.dead:
                if not call.cdrs:
                    self.stats.completed_without_cdr += 1
                done.append(self._finish(call, "live"))
        for uid, waiting in list(self._orphans.items()):
            kept = [(at, cdr) for at, cdr in waiting if now - at < self.orphan_wait]
            self.stats.orphan_cdrs_dropped += len(waiting) - len(kept)
            if kept:
                self._orphans[uid] = kept
            else:
                del self._orphans[uid]
        return done

    # -- what the listener asks after a gap -----------------------------------------------------------------

    def mark_dead(self, live_linkedids: set[str], before: float) -> list[Call]:
        """Calls the PBX no longer has and that saw no event since ``before``: their end was lost."""
        dead = []
        for call in self.calls.values():
            if call.linkedid not in live_linkedids and call.last_seen < before and not call.dead:
                call.dead = True
                self._dirty.add(call.linkedid)
                dead.append(call)
        return dead

    def add_live_channel(self, snapshot: Event, now: float) -> None:
        """A channel the PBX reports as live (CoreShowChannel / Status) after a gap."""
        linkedid = snapshot.get("Linkedid")
        if not linkedid or linkedid in self._done:
            return
        call = self._call(linkedid, now)
        self._update_leg(call, snapshot, None)
        self._dirty.add(linkedid)

    def close_missing_legs(self, live_uniqueids: set[str], pbx_now: float, now: float) -> int:
        """Legs the PBX no longer has hung up while their Hangup was lost: close them, so the call completes when
        its other legs end (or at once if none is left). Legs created just before ``pbx_now`` may not be
        listed yet; calls marked dead are left to gap recovery."""
        closed = 0
        for call in self.calls.values():
            if call.dead:
                continue
            for uid, leg in call.legs.items():
                if uid not in live_uniqueids and not leg.hung_up and leg.created_at is not None \
                        and leg.created_at < pbx_now - 1.0:
                    leg.hangup_at = pbx_now
                    closed += 1
                    self._dirty.add(call.linkedid)
            if call.all_hung_up and call.hungup_seen is None:
                call.hungup_seen = now
        return closed

    def finish(self, linkedid: str, cdrs: list[Cdr], evidence: Evidence) -> Completed | None:
        """Complete a call in flight from the PBX's CDR rows (found by gap recovery) or as it is."""
        call = self.calls.get(linkedid)
        if call is None:
            return None
        known = {(c.get("UniqueID"), c.get("StartTime"), c.get("DestinationChannel")) for c in call.cdrs}
        call.cdrs.extend(c for c in cdrs if (c.get("UniqueID"), c.get("StartTime"), c.get("DestinationChannel"))
                         not in known)
        return self._finish(call, evidence)

    def adopt(self, linkedid: str, cdrs: list[Cdr]) -> Completed:
        """A call known only from the PBX's CDR rows (it happened entirely during a gap)."""
        call = Call(linkedid, cdrs=list(cdrs))
        return self._finish(call, "recovered")

    def in_flight_for(self, uniqueids: Iterable[str]) -> Call | None:
        for uid in uniqueids:
            linkedid = self._linked_by_uid.get(uid)
            if linkedid is not None:
                return self.calls.get(linkedid)
        return None

    def is_done(self, key: str) -> bool:
        """A Linkedid or Uniqueid of a call completed recently."""
        return key in self._done

    # -- persistence ----------------------------------------------------------------------------------------

    def changes(self) -> tuple[dict[str, dict[str, Any]], set[str]]:
        """(state of calls changed since the last call, Linkedids finished since) and forget both."""
        changed = {lid: self.calls[lid].to_state() for lid in self._dirty if lid in self.calls}
        gone = set(self._gone)
        self._dirty.clear()
        self._gone.clear()
        return changed, gone

    def restore(self, states: Iterable[dict[str, Any]]) -> None:
        for state in states:
            call = Call.from_state(dict(state))
            self.calls[call.linkedid] = call
            for uid in call.legs:
                self._linked_by_uid[uid] = call.linkedid

    # -- handlers -------------------------------------------------------------------------------------------

    def _call(self, linkedid: str, now: float) -> Call:
        call = self.calls.get(linkedid)
        if call is None:
            call = self.calls[linkedid] = Call(linkedid, first_seen=now, last_seen=now)
        return call

    def _leg_event(self, event: Event, at: float, now: float) -> Call | None:
        """The call of a channel event (created if new), with the leg's snapshot fields updated."""
        linkedid = event.get("Linkedid")
        if not linkedid or linkedid in self._done or event.get("Uniqueid") in self._done:
            self.stats.ignored += bool(linkedid)
            if linkedid and linkedid not in self._done:  # a leg of a call recovered from the CDR: all of it is done
                self._forget(linkedid)
            return None
        call = self._call(linkedid, now)
        self._update_leg(call, event, at)
        return call

    def _update_leg(self, call: Call, event: Event, at: float | None, prefix: str = "") -> None:
        uid = event.get(prefix + "Uniqueid")
        if not uid:
            return
        if uid not in call.legs:
            call.hungup_seen = None  # a new channel joined: the call is not over
        leg = call.leg(uid)
        if uid not in self._linked_by_uid:
            self._linked_by_uid[uid] = call.linkedid
            self._adopt_orphans(call, uid)
        leg.channel = event.get(prefix + "Channel") or leg.channel
        if not leg.context:
            leg.context = event.get(prefix + "Context", "")
        if not leg.exten:
            leg.exten = event.get(prefix + "Exten", "")
        number = event.get(prefix + "CallerIDNum", "")
        if number not in _NOT_A_NUMBER:
            leg.caller = number
        if leg.created_at is None and at is not None:
            leg.created_at = at

    def _adopt_orphans(self, call: Call, uid: str) -> None:
        for _, cdr in self._orphans.pop(uid, []):
            call.cdrs.append(cdr)

    def _channel(self, event: Event, at: float, now: float) -> Call | None:
        return self._leg_event(event, at, now)

    def _newstate(self, event: Event, at: float, now: float) -> Call | None:
        call = self._leg_event(event, at, now)
        if call is not None and event.get("ChannelStateDesc") == "Up":
            leg = call.legs[event["Uniqueid"]]
            leg.up_at = leg.up_at or at
        return call

    def _hangup(self, event: Event, at: float, now: float) -> Call | None:
        call = self._leg_event(event, at, now)
        if call is None:
            return None
        leg = call.legs[event["Uniqueid"]]
        leg.hangup_at = at
        leg.cause = _int(event.get("Cause"))
        leg.cause_text = event.get("Cause-txt", "")
        if call.all_hung_up:
            call.hungup_seen = now
        return call

    def _cdr(self, event: Event, at: float, now: float) -> Call | None:
        uid = event.get("UniqueID", "")
        cdr = {name: event[name] for name in CDR_FIELDS if name in event}
        linkedid = self._linked_by_uid.get(uid)
        if linkedid is None:
            if uid in self._done:
                self.stats.ignored += 1
            elif uid:
                self._orphans.setdefault(uid, []).append((now, cdr))
            return None
        call = self.calls[linkedid]
        call.cdrs.append(cdr)
        return call

    def _varset(self, event: Event, at: float, now: float) -> Call | None:
        name = event.get("Variable", "")
        if name == "MIXMONITOR_FILENAME":
            call = self._leg_event(event, at, now)
            if call is not None and event.get("Value"):
                call.recording = event["Value"]
            return call
        if name.lstrip("_") == self.correlation_variable:
            call = self._leg_event(event, at, now)
            if call is not None and event.get("Value"):
                call.request_id = event["Value"]
            return call
        return None  # the many other variables say nothing about the call

    def _newexten(self, event: Event, at: float, now: float) -> Call | None:
        application, data = event.get("Application", ""), event.get("AppData", "")
        if application == "MixMonitor":
            data = "MixMonitor(" + data + ")"
        elif application != "ExecIf" or "MixMonitor(" not in data:
            return None
        found = _MIXMONITOR.match(data)
        if found is None or (found.group("cond") is not None and found.group("cond").strip() in ("", "0")):
            return None  # ExecIf(0?MixMonitor(...)): not recording
        call = self._leg_event(event, at, now)
        if call is not None and not call.recording:
            call.recording = found.group("file").strip()
        return call

    def _mixmonitor(self, event: Event, at: float, now: float) -> Call | None:
        call = self._leg_event(event, at, now)
        name = event.get("MixMonitorFilename") or event.get("Filename") or event.get("File")
        if call is not None and name:
            call.recording = name
        return call

    def _dial(self, event: Event, at: float, now: float) -> Call | None:
        """DialBegin: the dialed channel belongs to the call (Originate's own dial has only Dest* fields)."""
        linkedid = event.get("Linkedid") or event.get("DestLinkedid")
        if not linkedid or linkedid in self._done:
            return None
        call = self._call(linkedid, now)
        self._update_leg(call, event, at)
        self._update_leg(call, event, at, prefix="Dest")
        return call

    def _dial_end(self, event: Event, at: float, now: float) -> Call | None:
        call = self._dial(event, at, now)
        if call is None or not event.get("Channel"):
            return call  # the Originate's own dial: says nothing about the call's outcome
        status = event.get("DialStatus", "")
        call.dial_statuses.append(status)
        if status == "ANSWER" and call.answered_at is None:
            call.answered_at = at
            call.agent_interface = call.agent_interface or event.get("DestChannel")
        return call

    def _queue_join(self, event: Event, at: float, now: float) -> Call | None:
        call = self._leg_event(event, at, now)
        if call is not None:
            call.queue = event.get("Queue") or call.queue
        return call

    def _queue_abandon(self, event: Event, at: float, now: float) -> Call | None:
        call = self._queue_join(event, at, now)
        if call is not None:
            call.queue_abandoned = True
        return call

    def _agent_connect(self, event: Event, at: float, now: float) -> Call | None:
        call = self._queue_join(event, at, now)
        if call is not None:
            call.agent_interface = event.get("Interface") or event.get("DestChannel") or call.agent_interface
            call.answered_at = call.answered_at or at
        return call

    # -- completion -----------------------------------------------------------------------------------------

    def _finish(self, call: Call, evidence: Evidence, arrival: float | None = None) -> Completed:
        self._forget(call.linkedid, call.uniqueids())
        return Completed(call, evidence, arrival)

    def _forget(self, linkedid: str, uniqueids: Iterable[str] = ()) -> None:
        """The call is done: drop its state and remember its ids, so its late events are ignored."""
        call = self.calls.pop(linkedid, None)
        if call is not None:
            uniqueids = [*uniqueids, *call.uniqueids()]
            self._gone.add(linkedid)
        self._dirty.discard(linkedid)
        for key in (linkedid, *uniqueids):
            self._linked_by_uid.pop(key, None)
            self._orphans.pop(key, None)
            self._done[key] = None
        while len(self._done) > self.remember:
            self._done.popitem(last=False)


def _pbx_time(event: Event, now: float) -> float:
    stamp = event.get("Timestamp")
    if stamp:
        try:
            return float(stamp)
        except ValueError:
            pass
    return now


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None
