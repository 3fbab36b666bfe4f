"""Turn what is known about a finished call into the one record the inbox stores (stream ``calls``).

Two kinds of evidence, one builder, so a call gives the same record whichever way it reached the hub:

* the PBX's own call detail records (the ``Cdr`` events live, or the CDR file/table after a gap): the
  main CDR is the one with a ``DestinationChannel`` (the Dial/Queue segment; an answered one if there are
  several); it gives the parties, times, durations and disposition;
* the channel events (always, when seen live): the hangup cause, the queue and the agent who answered,
  the recording file, the click-to-call request; and, when no CDR came at all, everything else.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Literal
from zoneinfo import ZoneInfo

from connectors.telephony.calls import Call, Cdr, Leg
from hub.expr.functions import phone

Direction = Literal["inbound", "outbound", "internal"]
Disposition = Literal["answered", "no_answer", "busy", "failed"]
#: live: assembled from the event stream; recovered: from the PBX's CDR after a gap in the stream;
#: partial: from events only, because the call's end was lost and the CDR has no trace of it
Evidence = Literal["live", "recovered", "partial"]

CDR_DISPOSITIONS: dict[str, Disposition] = {
    "ANSWERED": "answered", "NO ANSWER": "no_answer", "BUSY": "busy", "FAILED": "failed", "CONGESTION": "failed",
}
_UNKNOWN = {"", "<unknown>", "unknown", "anonymous", "<anonymous>"}
_CHANNEL_NUMBER = re.compile(r"^[A-Za-z0-9_]+/([^@/;\-]+)")
_BUSY_CAUSES = {17}
_FAILED_CAUSES = {1, 3, 21, 27, 28, 34, 38, 41, 42}
_FAILED_STATUSES = {"CONGESTION", "CHANUNAVAIL", "INVALIDARGS"}


@dataclass(frozen=True)
class NumberPlan:
    """Which numbers are internal extensions, and how outside numbers become E.164."""

    region: str
    extension_pattern: str

    def is_extension(self, number: str | None) -> bool:
        return bool(number) and re.match(self.extension_pattern, number) is not None  # type: ignore[arg-type]

    def normalize(self, raw: str | None) -> str | None:
        """An extension as is, an outside number in E.164, ``None`` for an unknown/withheld number;
        a number that cannot be read as a phone number is kept as the PBX wrote it."""
        text = (raw or "").strip()
        if text.lower() in _UNKNOWN:
            return None
        if self.is_extension(text):
            return text
        # with a region given, phone() needs no evaluation context (and caches the numbers it has seen)
        return phone(None, text, self.region) or text  # type: ignore[arg-type]


def channel_number(channel: str | None) -> str | None:
    """The number in a channel name: ``PJSIP/101-0000002a`` and ``Local/101@phones-00000001;1`` give 101."""
    found = _CHANNEL_NUMBER.match(channel or "")
    return found.group(1) if found else None


def main_cdr(cdrs: list[Cdr], linkedid: str) -> Cdr | None:
    """The CDR that describes the call: the Dial/Queue segment (it has a ``DestinationChannel``), an answered
    one first; without any, the longest (a call that never dialed anyone, e.g. an IVR)."""
    if not cdrs:
        return None
    dialed = [c for c in cdrs if c.get("DestinationChannel")]
    if dialed:
        answered = [c for c in dialed if c.get("Disposition") == "ANSWERED"]
        return min(answered or dialed, key=lambda c: c.get("StartTime", ""))
    return max(cdrs, key=lambda c: (_int(c.get("Duration")), c.get("UniqueID") == linkedid))


def build_record(linkedid: str, call: Call | None, cdrs: list[Cdr], plan: NumberPlan, zone: ZoneInfo,
                 evidence: Evidence, pbx: str) -> dict[str, Any]:
    main = main_cdr(cdrs, linkedid)
    facts = _from_cdr(main, zone) if main is not None else _from_events(call)
    caller = plan.normalize(facts["caller"])
    callee = plan.normalize(facts["callee"])
    direction = _direction(plan, caller, callee)
    request_id = call.request_id if call is not None else None
    if request_id:
        caller, callee = _click_to_call_parties(plan, call, caller, callee)
        direction = "outbound"
    answered = facts["disposition"] == "answered"
    agent = _agent(plan, call, main, answered) if direction == "inbound" else (
        caller if direction == "outbound" or plan.is_extension(caller) else None)
    queue = call.queue if call is not None and call.queue else _queue_of(main)
    cause, cause_text = _hangup_cause(call, main, linkedid)
    return {
        "call_id": linkedid,
        "pbx": pbx,
        "direction": direction,
        "caller": caller,
        "callee": callee,
        "external_number": caller if direction == "inbound" else callee if direction == "outbound" else None,
        "extension": agent or (callee if direction == "inbound" and plan.is_extension(callee) else None),
        "agent": agent,
        "queue": queue,
        "started_at": facts["started_at"],
        "answered_at": facts["answered_at"],
        "ended_at": facts["ended_at"],
        "duration": facts["duration"],
        "billsec": facts["billsec"],
        "disposition": facts["disposition"],
        "hangup_cause": cause,
        "hangup_cause_text": cause_text,
        "recording": call.recording if call is not None else None,
        "request_id": request_id,
        "uniqueids": sorted(set(call.uniqueids() if call is not None else [])
                            | {c["UniqueID"] for c in cdrs if c.get("UniqueID")}, key=_uid_order),
        "evidence": evidence,
    }


# -- facts from the main CDR ---------------------------------------------------------------------------

def cdr_time(value: str | None, zone: ZoneInfo) -> dt.datetime | None:
    """A CDR time (naive, in the PBX's zone) as an aware UTC datetime."""
    if not value or not value.strip():
        return None
    try:
        local = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if local.tzinfo is None:
        local = local.replace(tzinfo=zone)
    return local.astimezone(dt.UTC)


def _from_cdr(cdr: Cdr, zone: ZoneInfo) -> dict[str, Any]:
    disposition = CDR_DISPOSITIONS.get((cdr.get("Disposition") or "").upper(), "failed")
    return {
        "caller": cdr.get("Source"), "callee": cdr.get("Destination"),
        "started_at": cdr_time(cdr.get("StartTime"), zone),
        "answered_at": cdr_time(cdr.get("AnswerTime"), zone) if disposition == "answered" else None,
        "ended_at": cdr_time(cdr.get("EndTime"), zone),
        "duration": _int(cdr.get("Duration")), "billsec": _int(cdr.get("BillableSeconds")),
        "disposition": disposition,
    }


# -- facts from channel events only (no CDR reached us) ------------------------------------------------

def _from_events(call: Call | None) -> dict[str, Any]:
    if call is None or not call.legs:
        raise ValueError("a call record needs a CDR or channel events")
    first = call.legs.get(call.linkedid) or min(call.legs.values(), key=lambda leg: leg.created_at or 1e18)
    times = [leg.created_at for leg in call.legs.values() if leg.created_at is not None]
    ends = [leg.hangup_at for leg in call.legs.values() if leg.hangup_at is not None]
    ups = [leg.up_at for leg in call.legs.values() if leg.up_at is not None]
    start = min(times) if times else None
    end = max(ends) if ends else None
    answer = call.answered_at or (min(ups) if ups else None)
    disposition = _event_disposition(call, answer is not None)
    return {
        "caller": first.caller or next((leg.caller for leg in call.legs.values() if leg.caller), None),
        "callee": first.exten or None,
        "started_at": _epoch(start), "answered_at": _epoch(answer) if disposition == "answered" else None,
        "ended_at": _epoch(end),
        "duration": round(end - start) if start is not None and end is not None else 0,
        "billsec": round(end - answer) if disposition == "answered" and end is not None and answer else 0,
        "disposition": disposition,
    }


def _event_disposition(call: Call, answered: bool) -> Disposition:
    if answered:
        return "answered"
    causes = {leg.cause for leg in call.legs.values() if leg.cause}
    statuses = set(call.dial_statuses)
    if "BUSY" in statuses or causes & _BUSY_CAUSES:
        return "busy"
    if statuses & _FAILED_STATUSES or (causes & _FAILED_CAUSES and not statuses):
        return "failed"
    return "no_answer"


def _epoch(value: float | None) -> dt.datetime | None:
    # whole seconds, truncated, as the CDR writes them
    return None if value is None else dt.datetime.fromtimestamp(int(value), dt.UTC)


# -- the rest -------------------------------------------------------------------------------------------

def _direction(plan: NumberPlan, caller: str | None, callee: str | None) -> Direction:
    caller_internal, callee_internal = plan.is_extension(caller), plan.is_extension(callee)
    if caller_internal and callee_internal:
        return "internal"
    if caller_internal:
        return "outbound"
    return "inbound"


def _click_to_call_parties(plan: NumberPlan, call: Call | None, caller: str | None,
                           callee: str | None) -> tuple[str | None, str | None]:
    """(manager's extension, customer's number) of a click-to-call. The Originate rings the manager first with
    the customer's number as caller ID, so when the manager does not answer (or is busy) the CDR reads like an
    inbound call from the customer (busy.txt, missed.txt): the parties are taken by what they are, not where the
    CDR puts them. The extension is in the originated channel's name if neither number is one."""
    numbers = [caller, callee]
    extension = next((n for n in numbers if plan.is_extension(n)), None)
    if extension is None and call is not None:
        first = call.legs.get(call.linkedid)
        found = channel_number(first.channel if first is not None else None)
        extension = found if plan.is_extension(found) else None
    outside = next((n for n in [callee, caller] if n and not plan.is_extension(n)), None)
    return extension, outside


def _agent(plan: NumberPlan, call: Call | None, main: Cdr | None, answered: bool) -> str | None:
    if not answered:
        return None
    candidates = [call.agent_interface if call is not None else None,
                  main.get("DestinationChannel") if main is not None else None]
    for channel in candidates:
        number = channel_number(channel)
        if plan.is_extension(number):
            return number
    return None


def _queue_of(main: Cdr | None) -> str | None:
    if main is not None and main.get("LastApplication") == "Queue":
        return (main.get("LastData") or "").split(",")[0] or None
    return None


def _hangup_cause(call: Call | None, main: Cdr | None, linkedid: str) -> tuple[int | None, str | None]:
    if call is None:
        return None, None
    order: list[Leg] = []
    if main is not None and main.get("UniqueID") in call.legs:
        order.append(call.legs[main["UniqueID"]])
    if linkedid in call.legs:
        order.append(call.legs[linkedid])
    order.extend(call.legs.values())
    for leg in order:
        if leg.cause:
            return leg.cause, leg.cause_text or None
    hung = next((leg for leg in order if leg.cause is not None), None)
    return (hung.cause, hung.cause_text or None) if hung else (None, None)


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


def _uid_order(uniqueid: str) -> tuple[float, int]:
    """Uniqueids are ``<epoch>.<sequence>``: sort numerically (``.10`` after ``.9``)."""
    head, _, tail = uniqueid.partition(".")
    try:
        return float(head), int(tail or 0)
    except ValueError:
        return float("inf"), 0


def oldest_uniqueid(uniqueids: list[str]) -> str:
    """The Linkedid of a call is the Uniqueid of its oldest channel."""
    return min(uniqueids, key=_uid_order)
