"""The call assembler's promises beyond a clean recording: late and early CDRs, stragglers, calls that
continue across a listener restart, calls whose end was lost; and the listener's saved state."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import sqlalchemy as sa

from connectors.telephony.assembler import CallAssembler
from connectors.telephony.calls import Call
from connectors.telephony.state import ListenerState, Snapshot, legs_table
from hub.state.store import StateStore


def test_a_late_second_cdr_of_a_completed_call_is_ignored(recorded_events) -> None:
    assembler = CallAssembler()
    events = recorded_events("busy")
    done = [c for e in events for c in assembler.feed(dict(e), now=1.0)]
    assert len(done) == 1
    straggler = next(e for e in reversed(events) if e["Event"] == "Cdr")  # the post-Dial Busy() segment
    assert assembler.feed(dict(straggler), now=2.0) == []
    assert assembler.calls == {}, "a late event must not start a new call"
    assert assembler.stats.ignored >= 1


def test_a_cdr_seen_before_any_event_of_its_leg_waits_for_the_leg(recorded_events, replay) -> None:
    """After a restart the listener may see a CDR first; it is kept until the leg's Linkedid is known."""
    events = recorded_events("missed")
    main = next(e for e in events if e["Event"] == "Cdr" and e["DestinationChannel"])
    reordered = [main] + [e for e in events if e is not main]
    assert replay(reordered) == replay(events)


def test_an_orphan_cdr_is_dropped_after_orphan_wait() -> None:
    assembler = CallAssembler(orphan_wait=30)
    assembler.feed({"Event": "Cdr", "UniqueID": "1.99", "Disposition": "ANSWERED"}, now=100.0)
    assert assembler.tick(120.0) == [] and assembler.stats.orphan_cdrs_dropped == 0
    assembler.tick(131.0)
    assert assembler.stats.orphan_cdrs_dropped == 1


def test_state_saved_mid_call_and_restored_gives_the_same_record(recorded_events, replay) -> None:
    """A listener restarted in the middle of a call goes on from the saved state (what the snapshot keeps)."""
    events = recorded_events("queue-answered")
    middle = len(events) // 2
    first = CallAssembler()
    for event in events[:middle]:
        assert first.feed(dict(event), now=1.0) == []
    changed, gone = first.changes()
    saved = [json.loads(json.dumps(state)) for state in changed.values()]  # through JSON, as stored
    assert len(saved) == 1 and not gone
    second = CallAssembler()
    second.restore(saved)
    assert replay(events[middle:], assembler=second) == replay(events)


def test_changes_report_each_call_once_and_finished_calls_as_gone(recorded_events) -> None:
    assembler = CallAssembler()
    events = recorded_events("answered")
    for event in events[:10]:
        assembler.feed(dict(event), now=1.0)
    changed, gone = assembler.changes()
    assert list(changed) == ["1795885070.0"] and gone == set()
    assert assembler.changes() == ({}, set()), "nothing changed since"
    for event in events[10:]:
        assembler.feed(dict(event), now=2.0)
    changed, gone = assembler.changes()
    assert changed == {} and gone == {"1795885070.0"}


def test_calls_the_pbx_no_longer_has_are_marked_dead_and_finished_from_the_cdr(recorded_events) -> None:
    events = recorded_events("answered")
    cut = next(i for i, e in enumerate(events) if e["Event"] == "Hangup")
    assembler = CallAssembler()
    for event in events[:cut]:
        assembler.feed(dict(event), now=10.0)
    assert assembler.mark_dead(live_linkedids={"someone-else"}, before=5.0) == [], "seen since: not dead"
    dead = assembler.mark_dead(live_linkedids=set(), before=20.0)
    assert [call.linkedid for call in dead] == ["1795885070.0"]
    cdrs = [{k: v for k, v in e.items() if k != "Event"} for e in events if e["Event"] == "Cdr"]
    finished = assembler.finish("1795885070.0", cdrs, "recovered")
    assert finished is not None and finished.evidence == "recovered"
    assert finished.call.cdrs and assembler.calls == {}
    assert assembler.is_done("1795885070.3"), "its legs' late events are ignored from now on"


def test_a_call_known_only_from_the_cdr_is_adopted() -> None:
    assembler = CallAssembler()
    done = assembler.adopt("7.1", [{"UniqueID": "7.1", "Disposition": "ANSWERED"}])
    assert isinstance(done.call, Call) and done.evidence == "recovered" and assembler.is_done("7.1")


def test_saved_state_round_trips_and_old_legs_are_forgotten(tmp_path: Path) -> None:
    store = StateStore(f"sqlite:///{tmp_path / 'hub.db'}")
    state = ListenerState(store.engine, "pbx")
    state.save(Snapshot.encode({"1.0": {"linkedid": "1.0", "legs": {}}}, set(), {"0.5": "0.4"}, 123.5))
    state.save(Snapshot.encode({"2.0": {"linkedid": "2.0", "legs": {}}}, {"1.0"}, {}, 124.0))
    assert state.load() == (124.0, [{"linkedid": "2.0", "legs": {}}])
    assert state.committed(["0.5", "9.9"]) == {"0.5": "0.4"}
    with store.engine.begin() as conn:
        conn.execute(sa.update(legs_table).values(committed_at=dt.datetime(2000, 1, 1)))
    assert state.forget_legs(older_than_days=3) == 1 and state.committed(["0.5"]) == {}
    other = ListenerState(store.engine, "another-pbx")
    assert other.load() == (None, []), "each PBX has its own state"
    store.close()


def test_a_leg_whose_hangup_was_lost_is_closed_by_the_live_channel_list(recorded_events, replay) -> None:
    """The link dropped while one leg hung up; after the reconnect the PBX lists the call's other legs as live:
    the missing leg is over, and the call completes when the others end."""
    events = recorded_events("answered")
    lost = next(e for e in events if e["Event"] == "Hangup")  # the first leg to hang up
    cut = events.index(lost)
    assembler = CallAssembler(cdr_wait=10)
    for event in events[:cut]:
        assembler.feed(dict(event), now=1.0)
    call = assembler.calls["1795885070.0"]
    live = set(call.legs) - {lost["Uniqueid"]}
    assert assembler.close_missing_legs(live, pbx_now=float(lost["Timestamp"]) + 2, now=2.0) == 1
    rest = [e for e in events[cut + 1:] if not (e["Event"] == "Cdr" and e["UniqueID"] == lost["Uniqueid"])]
    done = [c for e in rest for c in assembler.feed(dict(e), now=3.0)] + assembler.tick(20.0)
    assert [c.call.linkedid for c in done] == ["1795885070.0"]


def test_legs_created_just_before_the_list_are_not_closed(recorded_events) -> None:
    events = recorded_events("answered")
    assembler = CallAssembler()
    for event in events[:20]:
        assembler.feed(dict(event), now=1.0)
    call = assembler.calls["1795885070.0"]
    newest = max(call.legs.values(), key=lambda leg: leg.created_at or 0)
    live = set(call.legs) - {newest.uniqueid}
    assert assembler.close_missing_legs(live, pbx_now=(newest.created_at or 0) + 0.5, now=2.0) == 0


def test_a_call_that_ended_while_reconnecting_is_not_left_waiting(recorded_events) -> None:
    """The reconnect lands in the middle of a call's end: one leg's Hangup (and the CDRs) fell in the gap, the
    other legs' Hangups arrived, and the PBX lists none of its channels any more."""
    events = recorded_events("answered")
    lost = next(e for e in events if e["Event"] == "Hangup")
    assembler = CallAssembler(cdr_wait=10)
    for event in events:
        if event is not lost and event["Event"] != "Cdr":
            assembler.feed(dict(event), now=5.0)
    assert assembler.mark_dead(set(), before=1.0) == [], "its other legs were seen after the reconnect"
    assembler.close_missing_legs(set(), pbx_now=float(lost["Timestamp"]) + 1.5, now=6.0)
    assert [c.call.linkedid for c in assembler.tick(16.0)] == ["1795885070.0"]
