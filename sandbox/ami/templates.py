"""Call templates made from the recorded sessions: the simulator replays a real Asterisk's exact events
for a new call by substituting what differs between calls.

A recording's events (everything the PBX sent between the Originate's answer and the Logoff) become
format strings: Uniqueids, channel sequence numbers, bridge ids, the caller/callee/agent numbers, the
correlation tag and every time become placeholders. Rendering a call is then one ``format_map`` per event:
cheap enough to play thousands of calls a second.

What the recordings cannot show is added the way Asterisk does it: MixMonitor (``ExecIf(1?MixMonitor())``,
a ``MIXMONITOR_FILENAME`` VarSet and a ``MixMonitorStart`` event), and the caller's Originate variables
(a VarSet per variable on the originated channel). The recording setup's own ``HubTag`` CDR field is
dropped: a stock Asterisk does not send it.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass, field
from typing import Literal
from zoneinfo import ZoneInfo

from sandbox.ami.transcript import Message, load_recording

Kind = Literal["answered", "missed", "busy", "queue-answered", "queue-missed", "outbound", "demo"]
KINDS: tuple[Kind, ...] = ("answered", "missed", "busy", "queue-answered", "queue-missed", "outbound", "demo")

#: per recording: (the caller, the callee, the queue member) numbers as recorded
RECORDED_PARTIES: dict[str, tuple[str, str, str | None]] = {
    "answered": ("+79161234567", "100", None),
    "missed": ("+79161234567", "200", None),
    "busy": ("+79161234567", "300", None),
    "queue-answered": ("+79161234567", "500", "101"),
    "queue-missed": ("+79161234567", "501", "201"),
    "outbound": ("101", "+74951234567", None),
    "demo": ("+79161234567", "100", None),
}
RECORDING_DIR = "/var/spool/asterisk/monitor"

_UID_FIELDS = re.compile(r"(?:Uniqueid|Linkedid|UniqueID|LinkedID)$")
_DATETIME_FIELDS = {"EventTime", "StartTime", "AnswerTime", "EndTime"}
_NO_NUMBERS = re.compile(r"(?:Uniqueid|Linkedid|UniqueID|LinkedID|Priority|ChannelState|Timestamp|Time|Duration|"
                         r"BillableSeconds|Cause|Reason|Position|Count|HoldTime|RingTime|TalkTime|LoginTime|LastCall|"
                         r"LastPause|CallsTaken|InCall|Penalty|Paused|Status|Wrapuptime|Ringinuse|BridgeNumChannels)$")
_CHANNEL_SEQ = re.compile(r"-([0-9a-f]{8})(?=;|\b)")
_BRIDGE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_DROPPED_EVENTS = {"SuccessfulAuth", "FullyBooted"}


@dataclass(frozen=True)
class TemplateMessage:
    offset: float  # seconds after the call's start
    fmt: str  # the message, CRLF framed, with placeholders
    times: tuple[tuple[str, float], ...]  # placeholder -> offset of a datetime/epoch value
    event: str
    origin_vars: bool = False  # the VarSet of an Originate variable: repeated once per caller variable
    mixmonitor: bool = False  # the ExecIf(0?MixMonitor(...)) step: where recording starts if enabled
    originate_response: bool = False


@dataclass(frozen=True)
class LegTemplate:
    """One channel of the call, for CoreShowChannels: when it exists and what it looks like."""

    uid: str  # placeholder name of its Uniqueid ("u0")
    channel: str  # channel name with placeholders
    context: str
    exten: str
    caller: str
    created: float
    hangup: float


@dataclass(frozen=True)
class Template:
    kind: str
    messages: tuple[TemplateMessage, ...]
    legs: tuple[LegTemplate, ...]
    uids: int  # how many Uniqueids a call uses
    seqs: int  # how many channel sequence numbers
    bridges: int
    length: float  # seconds from the first to the last event


@dataclass
class Substitutions:
    """The values that make one rendered call different from the recording."""

    caller: str
    callee: str
    agent: str
    tag: str
    start: float  # the PBX's epoch time of the call's first event
    zone: ZoneInfo
    uids: list[str]
    seqs: list[str]
    bridges: list[str]
    action_id: str = ""
    values: dict[str, str] = field(default_factory=dict)

    def base(self) -> dict[str, str]:
        values = {"caller": self.caller, "callee": self.callee, "agent": self.agent, "tag": self.tag,
                  "action_id": self.action_id}
        values.update({f"u{i}": uid for i, uid in enumerate(self.uids)})
        values.update({f"c{i}": seq for i, seq in enumerate(self.seqs)})
        values.update({f"b{i}": bridge for i, bridge in enumerate(self.bridges)})
        return values


def recorded_call(kind: str) -> tuple[list[Message], Substitutions]:
    """The call events of a recording, and the values that rendering its template with gives them back."""
    messages = load_recording(kind)
    originate = next(m for m in messages if m.direction == "sent" and m.kind == "Action:Originate")
    tag = next((v.split("=", 1)[1] for k, v in originate.pairs if k == "Variable" and v.startswith("HUBTAG=")), "")
    events = [m for m in messages if m.direction == "received" and m.pairs and m.pairs[0][0] == "Event"
              and m.fields["Event"] not in _DROPPED_EVENTS]
    caller, callee, agent = RECORDED_PARTIES[kind]
    return events, Substitutions(
        caller=caller, callee=callee, agent=agent or "", tag=tag, start=float(events[0].fields["Timestamp"]),
        zone=ZoneInfo("UTC"), uids=_ordered_uids(events),
        seqs=_ordered(_CHANNEL_SEQ.findall(" ".join(v for m in events for k, v in m.pairs if "Channel" in k))),
        bridges=_ordered(_BRIDGE.findall(" ".join(v for m in events for _, v in m.pairs))),
        action_id=originate.get("ActionID") or "")


def build_template(kind: str) -> Template:
    events, recorded = recorded_call(kind)
    caller, callee, agent = RECORDED_PARTIES[kind]
    numbers = [(caller, "{caller}"), (callee, "{callee}")] + ([(agent, "{agent}")] if agent else [])
    uids, seqs, bridges = recorded.uids, recorded.seqs, recorded.bridges
    out = [_template_message(message, recorded.start, uids, seqs, bridges, numbers, recorded.tag, recorded.action_id)
           for message in events]
    legs = _legs(events, recorded.start, uids, seqs, numbers)
    return Template(kind, tuple(out), legs, len(uids), len(seqs), len(bridges), out[-1].offset)


def _ordered(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _ordered_uids(events: list[Message]) -> list[str]:
    found = {v for m in events for k, v in m.pairs if _UID_FIELDS.search(k) and re.fullmatch(r"\d+\.\d+", v)}
    return sorted(found, key=lambda u: (float(u.split(".")[0]), int(u.split(".")[1])))


def _template_message(message: Message, start: float, uids: list[str], seqs: list[str], bridges: list[str],
                      numbers: list[tuple[str, str]], tag: str, action_id: str) -> TemplateMessage:
    stamp = message.fields.get("Timestamp")
    offset = (float(stamp) if stamp else message.at) - start
    times: list[tuple[str, float]] = []
    lines = []
    name = message.fields["Event"]
    for key, value in message.pairs:
        if key == "HubTag":
            continue
        if key == "Timestamp":
            times.append(("t", offset))
            lines.append(f"{key}: {{t}}")
            continue
        if key in _DATETIME_FIELDS and value:
            placeholder = f"d_{key}"
            times.append((placeholder, _local_epoch(value) - start))
            lines.append(f"{key}: {{{placeholder}}}")
            continue
        lines.append(f"{key}: {_value_template(key, value, uids, seqs, bridges, numbers, tag, action_id)}")
    fields = message.fields
    return TemplateMessage(
        offset=offset, fmt="\r\n".join(lines) + "\r\n\r\n", times=tuple(times), event=name,
        origin_vars=name == "VarSet" and fields.get("Variable") == "CALLER",
        mixmonitor=name == "Newexten" and "MixMonitor(" in fields.get("AppData", ""),
        originate_response=name == "OriginateResponse")


def _value_template(key: str, value: str, uids: list[str], seqs: list[str], bridges: list[str],
                    numbers: list[tuple[str, str]], tag: str, action_id: str) -> str:
    text = value.replace("{", "{{").replace("}", "}}")
    if action_id and value == action_id:
        return "{action_id}"
    if tag and tag in text:
        text = text.replace(tag, "{tag}")
    for index, uid in enumerate(reversed(uids)):  # longest-sequence first: .10 before .1
        text = re.sub(rf"(?<![\d.]){re.escape(uid)}(?!\d)", f"{{u{len(uids) - 1 - index}}}", text)
    text = _CHANNEL_SEQ.sub(lambda m: f"-{{c{seqs.index(m.group(1))}}}" if m.group(1) in seqs else m.group(0), text)
    text = _BRIDGE.sub(lambda m: f"{{b{bridges.index(m.group(0))}}}" if m.group(0) in bridges else m.group(0), text)
    if not _NO_NUMBERS.search(key):
        for number, placeholder in numbers:
            text = re.sub(rf"(?<![\w+{{]){re.escape(number)}(?![\w}}])", placeholder, text)
    return text


def _local_epoch(value: str) -> float:
    """Times in the recordings are the PBX's local time, which was UTC."""
    return dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC).timestamp()


def _legs(events: list[Message], start: float, uids: list[str], seqs: list[str],
          numbers: list[tuple[str, str]]) -> tuple[LegTemplate, ...]:
    legs = []
    for index, uid in enumerate(uids):
        mine = [m for m in events if m.fields.get("Uniqueid") == uid]
        created = next((m for m in mine if m.fields["Event"] == "Newchannel"), None)
        hangup = next((m for m in mine if m.fields["Event"] == "Hangup"), None)
        if created is None or hangup is None:
            continue
        callers = [m.fields.get("CallerIDNum", "") for m in mine if m.fields.get("CallerIDNum") not in ("", None)]
        caller = next((c for c in reversed(callers) if c != "<unknown>"), "<unknown>")
        legs.append(LegTemplate(
            uid=f"u{index}",
            channel=_value_template("Channel", created.fields["Channel"], uids, seqs, [], numbers, "", ""),
            context=created.fields.get("Context", ""),
            exten=_value_template("Exten", created.fields.get("Exten", ""), uids, seqs, [], numbers, "", ""),
            caller=_value_template("CallerIDNum", caller, uids, seqs, [], numbers, "", ""),
            created=float(created.fields["Timestamp"]) - start, hangup=float(hangup.fields["Timestamp"]) - start))
    return tuple(legs)


# -- rendering ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RenderedMessage:
    offset: float
    data: bytes
    event: str


def render(template: Template, subs: Substitutions, recording: bool = False,
           variables: dict[str, str] | None = None) -> list[RenderedMessage]:
    values = subs.base()
    out: list[RenderedMessage] = []
    for message in template.messages:
        if message.originate_response and not subs.action_id:
            continue  # nobody originated this call: there is no OriginateResponse
        values.update(_times(message, subs))
        if message.origin_vars and variables:
            for name, value in variables.items():
                text = message.fmt.format_map(values).replace("Variable: CALLER\r\n", f"Variable: {name}\r\n")
                text = re.sub(r"Value: [^\r]*\r\n", lambda _m, v=value: f"Value: {v}\r\n", text, count=1)
                out.append(RenderedMessage(message.offset, text.encode(), message.event))
            continue
        text = message.fmt.format_map(values)
        if message.mixmonitor and recording:
            text = text.replace("AppData: 0?MixMonitor(", "AppData: 1?MixMonitor(")
            out.append(RenderedMessage(message.offset, text.encode(), message.event))
            out.extend(_mixmonitor_events(text, message.offset))
            continue
        out.append(RenderedMessage(message.offset, text.encode(), message.event))
    return out


def _times(message: TemplateMessage, subs: Substitutions) -> dict[str, str]:
    values = {}
    for placeholder, offset in message.times:
        moment = subs.start + offset
        if placeholder == "t":
            values["t"] = f"{moment:.6f}"
        else:
            values[placeholder] = dt.datetime.fromtimestamp(int(moment), subs.zone).strftime("%Y-%m-%d %H:%M:%S")
    return values


def _mixmonitor_events(newexten: str, offset: float) -> list[RenderedMessage]:
    """What MixMonitor adds when it starts: the filename variable, then MixMonitorStart (channel snapshot)."""
    fields = dict(line.split(": ", 1) for line in newexten.strip().split("\r\n") if ": " in line)
    found = re.search(r"MixMonitor\(([^,)]+)", fields.get("AppData", ""))
    filename = f"{RECORDING_DIR}/{found.group(1) if found else 'recording.wav'}"
    snapshot = [(k, fields.get(k, "")) for k in ("Channel", "ChannelState", "ChannelStateDesc", "CallerIDNum",
                                                 "CallerIDName", "ConnectedLineNum", "ConnectedLineName", "Language",
                                                 "AccountCode", "Context", "Exten", "Priority", "Uniqueid", "Linkedid")]
    stamp = fields.get("Timestamp", "")
    varset = [("Event", "VarSet"), ("Privilege", "dialplan,all"), ("Timestamp", stamp), *snapshot,
              ("Variable", "MIXMONITOR_FILENAME"), ("Value", filename)]
    start = [("Event", "MixMonitorStart"), ("Privilege", "call,all"), ("Timestamp", stamp), *snapshot]
    return [RenderedMessage(offset, frame(varset), "VarSet"), RenderedMessage(offset, frame(start), "MixMonitorStart")]


def frame(pairs: list[tuple[str, str]]) -> bytes:
    """One AMI message: ``Key: Value`` lines, CRLF, and an empty line."""
    return ("".join(f"{k}: {v}\r\n" for k, v in pairs) + "\r\n").encode()


def new_bridge_ids(count: int) -> list[str]:
    return [str(uuid.uuid4()) for _ in range(count)]
