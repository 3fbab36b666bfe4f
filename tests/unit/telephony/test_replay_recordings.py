"""Each AMI session recorded from a real Asterisk 22 (sandbox/ami/recordings, verbatim copies of
reference/ami) replayed through the call assembler gives exactly the call record the reference describes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from connectors.telephony.assembler import CallAssembler

DAY = dt.datetime(2026, 11, 28, tzinfo=dt.UTC)


def at(hms: str) -> dt.datetime:
    hours, minutes, seconds = (int(part) for part in hms.split(":"))
    return DAY.replace(hour=hours, minute=minutes, second=seconds)


#: what each recording must produce (README "Main Cdr per scenario" + the events of each file)
EXPECTED: dict[str, dict[str, Any]] = {
    "answered": dict(call_id="1795885070.0", direction="inbound", caller="+79161234567", callee="100",
                     external_number="+79161234567", extension="100", agent="100", queue=None,
                     started_at=at("16:57:50"), answered_at=at("16:57:51"), ended_at=at("16:57:54"),
                     duration=4, billsec=3, disposition="answered", hangup_cause=16,
                     hangup_cause_text="Normal Clearing"),
    "missed": dict(call_id="1795885075.7", direction="inbound", caller="+79161234567", callee="200",
                   external_number="+79161234567", extension="200", agent=None, queue=None,
                   started_at=at("16:57:55"), answered_at=None, ended_at=at("16:58:00"),
                   duration=5, billsec=0, disposition="no_answer", hangup_cause=19),
    "busy": dict(call_id="1795885081.15", direction="inbound", caller="+79161234567", callee="300",
                 external_number="+79161234567", extension="300", agent=None, queue=None,
                 started_at=at("16:58:01"), answered_at=None, ended_at=at("16:58:01"),
                 duration=0, billsec=0, disposition="busy", hangup_cause=17),
    "queue-answered": dict(call_id="1795885088.34", direction="inbound", caller="+79161234567", callee="500",
                           external_number="+79161234567", extension="101", agent="101", queue="sales",
                           started_at=at("16:58:08"), answered_at=at("16:58:09"), ended_at=at("16:58:12"),
                           duration=4, billsec=3, disposition="answered", hangup_cause=16),
    "queue-missed": dict(call_id="1795885092.41", direction="inbound", caller="+79161234567", callee="501",
                         external_number="+79161234567", extension="501", agent=None, queue="support",
                         started_at=at("16:58:12"), answered_at=None, ended_at=at("16:58:17"),
                         duration=5, billsec=0, disposition="no_answer", hangup_cause=16),
    "outbound": dict(call_id="1795885081.23", direction="outbound", caller="101", callee="+74951234567",
                     external_number="+74951234567", extension="101", agent="101", queue=None,
                     started_at=at("16:58:01"), answered_at=at("16:58:02"), ended_at=at("16:58:05"),
                     duration=3, billsec=2, disposition="answered", hangup_cause=16),
    "demo": dict(call_id="1795885085.30", direction="inbound", caller="+79161234567", callee="100",
                 external_number="+79161234567", extension="100", agent=None, queue=None,
                 started_at=at("16:58:05"), answered_at=at("16:58:05"), ended_at=at("16:58:07"),
                 duration=1, billsec=1, disposition="answered", hangup_cause=16),
}
CALL_RECORDINGS = sorted(EXPECTED)


@pytest.mark.parametrize("name", CALL_RECORDINGS)
def test_recording_gives_the_reference_call_record(name: str, replay) -> None:
    records = replay(name)
    assert len(records) == 1, "one call, completed as soon as its last leg and last CDR are in"
    record = records[0]
    assert {key: record[key] for key in EXPECTED[name]} == EXPECTED[name]
    assert record["evidence"] == "live"
    assert record["recording"] is None and record["request_id"] is None  # MixMonitor is ExecIf(0?...) there
    linked = record["call_id"].rsplit(".", 1)[0]
    assert all(uid.startswith(linked + ".") for uid in record["uniqueids"]) and record["call_id"] in record["uniqueids"]


@pytest.mark.parametrize("name", CALL_RECORDINGS)
@pytest.mark.parametrize("where", ["first", "last"])
def test_cdr_before_or_after_hangup_gives_the_same_record(name: str, where: str, replay, recorded_events) -> None:
    events = recorded_events(name)
    cdrs = [e for e in events if e["Event"] == "Cdr"]
    others = [e for e in events if e["Event"] != "Cdr"]
    first_hangup = next(i for i, e in enumerate(others) if e["Event"] == "Hangup")
    moved = others[:first_hangup] + cdrs + others[first_hangup:] if where == "first" else others + cdrs
    assert replay(moved) == replay(events)


@pytest.mark.parametrize("name", CALL_RECORDINGS)
def test_without_any_cdr_the_events_still_give_the_call(name: str, replay, recorded_events) -> None:
    """cdr_manager off: the call completes cdr_wait seconds after its last hangup, from the events alone."""
    events = [e for e in recorded_events(name) if e["Event"] != "Cdr"]
    assert replay(events) == [], "without CDRs, the call waits for them first"
    (record,) = replay(events, then_wait=CallAssembler().cdr_wait)
    expected = EXPECTED[name]
    for key in ("call_id", "direction", "caller", "callee", "external_number", "agent", "queue", "disposition",
                "hangup_cause"):
        assert record[key] == expected[key], key
    assert abs((record["started_at"] - expected["started_at"]).total_seconds()) <= 1
    assert abs(record["duration"] - expected["duration"]) <= 1


def test_newchannel_says_unknown_but_the_caller_number_comes_later(recorded_events, replay) -> None:
    events = recorded_events("answered")
    newchannels = [e for e in events if e["Event"] == "Newchannel"]
    assert {e["CallerIDNum"] for e in newchannels} == {"<unknown>"}
    assert replay(events)[0]["caller"] == "+79161234567"


def test_only_the_main_cdr_describes_the_call(recorded_events, replay) -> None:
    """busy.txt has four CDRs (one leg has two: the Dial segment and a post-Dial segment with the same
    UniqueID); the main one is the one with a DestinationChannel."""
    cdrs = [e for e in recorded_events("busy") if e["Event"] == "Cdr"]
    assert len(cdrs) == 4 and len({c["UniqueID"] for c in cdrs}) == 3
    assert [c["UniqueID"] for c in cdrs if c["DestinationChannel"]] == ["1795885081.16"]
    assert replay("busy")[0]["disposition"] == "busy"


def test_misc_session_live_channels_describe_a_call_in_flight(recorded_events) -> None:
    """misc.txt lists a live call (CoreShowChannels, Status): what the listener learns after a reconnect."""
    assembler = CallAssembler()
    listed = [e for e in recorded_events("misc") if e["Event"] in ("CoreShowChannel", "Status")]
    for channel in listed:
        assembler.add_live_channel(channel, now=1000.0)
    assert list(assembler.calls) == ["1795885107.49"]
    call = assembler.calls["1795885107.49"]
    assert sorted(call.legs) == ["1795885107.49", "1795885107.50", "1795885107.51", "1795885107.52"]
    assert call.legs["1795885107.49"].caller == "+79161234567"
    assert call.legs["1795885107.49"].exten == "100"
    assert assembler.tick(2000.0) == [], "live channels have not hung up: the call goes on"
