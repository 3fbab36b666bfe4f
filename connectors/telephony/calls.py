"""What the hub knows about a call while it is in progress: its channels (legs) and the PBX's records.

A call is every channel sharing one ``Linkedid`` (the Uniqueid of the call's oldest channel). The state
is plain data so it can be saved as JSON between events (:meth:`Call.to_state` / :meth:`Call.from_state`)
and a restarted listener goes on where the previous one stopped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: the fields of a CDR kept per call, named as in the AMI ``Cdr`` event (CSV and SQL rows are renamed to these)
CDR_FIELDS = ("UniqueID", "LinkedID", "Source", "Destination", "DestinationContext", "CallerID", "Channel",
              "DestinationChannel", "LastApplication", "LastData", "StartTime", "AnswerTime", "EndTime", "Duration",
              "BillableSeconds", "Disposition", "AccountCode", "UserField")

Cdr = dict[str, str]


@dataclass
class Leg:
    """One channel of a call."""

    uniqueid: str
    channel: str = ""
    context: str = ""
    exten: str = ""  # the extension the channel was created for (Newchannel), not where the dialplan moved on
    caller: str = ""  # the last real CallerIDNum seen (Newchannel says <unknown>; NewCallerid brings the number)
    created_at: float | None = None  # PBX time (event Timestamp)
    up_at: float | None = None
    hangup_at: float | None = None
    cause: int | None = None
    cause_text: str = ""

    @property
    def hung_up(self) -> bool:
        return self.hangup_at is not None


@dataclass
class Call:
    linkedid: str
    legs: dict[str, Leg] = field(default_factory=dict)  # by Uniqueid
    cdrs: list[Cdr] = field(default_factory=list)
    queue: str | None = None
    queue_abandoned: bool = False
    agent_interface: str | None = None  # the queue member or dialed channel that answered
    answered_at: float | None = None  # PBX time of the first answer (DialEnd ANSWER / AgentConnect)
    dial_statuses: list[str] = field(default_factory=list)  # DialEnd statuses of the dialplan's Dial/Queue
    recording: str | None = None
    request_id: str | None = None  # the click-to-call request that originated it (correlation variable)
    first_seen: float = 0.0  # local wall-clock time of the first event (timeouts use the local clock)
    last_seen: float = 0.0
    hungup_seen: float | None = None  # local time when the last leg hung up
    dead: bool = False  # the PBX no longer has its channels, but its end was not seen (events lost)

    def leg(self, uniqueid: str) -> Leg:
        found = self.legs.get(uniqueid)
        if found is None:
            found = self.legs[uniqueid] = Leg(uniqueid)
        return found

    @property
    def all_hung_up(self) -> bool:
        return bool(self.legs) and all(leg.hung_up for leg in self.legs.values())

    def covered(self) -> bool:
        """Every leg has its CDR: its own, or it is the destination of another leg's CDR (a dialed channel
        has no CDR of its own in Asterisk 12+; it is the ``DestinationChannel`` of the caller's)."""
        have = {cdr.get("UniqueID", "") for cdr in self.cdrs}
        destinations = {cdr.get("DestinationChannel", "") for cdr in self.cdrs} - {""}
        return all(uid in have or leg.channel in destinations for uid, leg in self.legs.items())

    def uniqueids(self) -> list[str]:
        ids = dict.fromkeys(self.legs)
        ids.update(dict.fromkeys(cdr["UniqueID"] for cdr in self.cdrs if cdr.get("UniqueID")))
        return list(ids)

    def to_state(self) -> dict[str, Any]:
        """Plain data for JSON (shares the lists and dicts: encode it before the call changes again)."""
        state = dict(vars(self))
        state["legs"] = {uid: vars(leg) for uid, leg in self.legs.items()}
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Call:
        legs = {uid: Leg(**leg) for uid, leg in state.pop("legs", {}).items()}
        return cls(legs=legs, **state)
