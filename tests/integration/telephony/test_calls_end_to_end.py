"""A busy PBX against the listener and the exchanges: 1,000 concurrent calls of the recorded scenarios become
exactly 1,000 CRM call rows and the right callback tasks; dropped connections and an Asterisk restart in
the middle change nothing, because gap recovery backfills from the PBX's CDR without duplicates."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from sandbox.ami.plan import EXPECTED_DISPOSITION, mixed_plan
from sandbox.ami.server import CallSpec

from .conftest import Pbx, wait_for

CALLS = 1000
MISSED_KINDS = ("missed", "busy", "queue-missed")
CRM_DISPOSITION = {"answered": "ANSWERED", "no_answer": "NO ANSWER", "busy": "BUSY", "failed": "FAILED"}


def expected_calls(pbx: Pbx, plan: list[CallSpec], linkedids: list[str]) -> dict[str, CallSpec]:
    assert len(set(linkedids)) == len(plan)
    return dict(zip(linkedids, plan, strict=True))


def check_inbox(records: list[dict], expected: dict[str, CallSpec]) -> None:
    assert len(records) == len(expected), "exactly one record per call"
    by_id = {r["call_id"]: r for r in records}
    assert set(by_id) == set(expected)
    for call_id, spec in expected.items():
        record = by_id[call_id]
        assert record["disposition"] == EXPECTED_DISPOSITION[spec.kind], (call_id, spec.kind)
        if spec.kind == "outbound":
            assert (record["direction"], record["caller"], record["callee"]) == ("outbound", spec.caller, spec.callee)
        else:
            assert (record["direction"], record["caller"]) == ("inbound", spec.caller)


@pytest.mark.parametrize("pbx", ["sqlite", pytest.param("firebird", marks=pytest.mark.firebird)], indirect=True)
def test_a_thousand_concurrent_calls_become_a_thousand_crm_rows_and_the_right_tasks(pbx: Pbx) -> None:
    listener = pbx.listen()
    plan = mixed_plan(CALLS, seed=7)
    expected = expected_calls(pbx, plan, pbx.sim.play(plan, rate=200))
    pbx.sim.wait_played()
    records = pbx.wait_inbox(CALLS)
    time.sleep(0.5)  # nothing more may come
    records = pbx.inbox()
    check_inbox(records, expected)
    assert listener.stats.duplicates == 0

    report = pbx.hub.run("calls_to_crm", triggered_by="test")
    assert (report.counts.created, report.counts.rejected) == (CALLS, 0)
    rows = pbx.rows("calls")
    assert len(rows) == CALLS
    for row in rows:
        spec = expected[row["call_id"]]
        assert row["disposition"] == CRM_DISPOSITION[EXPECTED_DISPOSITION[spec.kind]]
        assert row["direction"] == ("outbound" if spec.kind == "outbound" else "inbound")
    answered_queue = [r for r in rows if expected[r["call_id"]].kind == "queue-answered"]
    assert all(r["queue"] == "sales" and r["agent"] == expected[r["call_id"]].agent for r in answered_queue)
    assert all(r["manager_id"] == int(r["agent"]) - 100 for r in answered_queue), "the manager who took it"
    recorded = [r for r in rows if expected[r["call_id"]].recording and expected[r["call_id"]].kind == "answered"]
    assert recorded and all(r["recording"].startswith("/var/spool/asterisk/monitor/hub-") for r in recorded)

    # every missed inbound call is a task for a manager, with its number
    report = pbx.hub.run("missed_calls_to_tasks", triggered_by="test")
    missed = {cid: spec for cid, spec in expected.items() if spec.kind in MISSED_KINDS}
    assert report.counts.created == len(missed) > 0
    tasks = {t["call_id"]: t for t in pbx.rows("tasks", kind="callback")}
    assert set(tasks) == set(missed)
    assert all(t["status"] == "open" and t["phone"] == missed[cid].caller and t["manager_id"] is not None
               for cid, t in tasks.items())

    # managers call back a third of them: exactly those tasks are closed
    called_back = sorted(missed)[::3]
    returns = [CallSpec("outbound", caller="101", callee=missed[cid].caller) for cid in called_back]
    pbx.sim.play(returns, rate=200)
    pbx.wait_inbox(CALLS + len(returns))
    pbx.hub.run("calls_to_crm", triggered_by="test")
    report = pbx.hub.run("missed_calls_to_tasks", triggered_by="test")
    assert (report.counts.updated, report.counts.created) == (len(called_back), 0)
    statuses = Counter((cid in called_back, t["status"]) for cid, t in
                       ((t["call_id"], t) for t in pbx.rows("tasks", kind="callback")))
    assert statuses == {(True, "done"): len(called_back), (False, "open"): len(missed) - len(called_back)}
    assert len(pbx.rows("calls")) == CALLS + len(returns)

    # a second run of everything writes nothing
    for exchange in ("calls_to_crm", "missed_calls_to_tasks"):
        again = pbx.hub.run(exchange, triggered_by="test").counts
        assert (again.created, again.updated) == (0, 0)


def test_two_dropped_connections_lose_no_call_and_duplicate_none(pbx: Pbx) -> None:
    listener = pbx.listen()
    plan = mixed_plan(CALLS, seed=8)
    expected = expected_calls(pbx, plan, pbx.sim.play(plan, rate=200))
    time.sleep(1.2)
    pbx.sim.drop_connections()  # the TCP session dies; Asterisk goes on
    wait_for(lambda: listener.stats.connects >= 2, 10, "a reconnect")
    time.sleep(1.0)
    pbx.sim.restart(downtime=1.0)  # Asterisk's manager goes away and comes back
    wait_for(lambda: listener.stats.connects >= 3, 15, "a reconnect after the restart")
    pbx.sim.wait_played()
    records = pbx.wait_inbox(CALLS, timeout=60)
    time.sleep(1.0)  # a duplicate would show up now
    records = pbx.inbox()
    check_inbox(records, expected)
    evidence = Counter(r["evidence"] for r in records)
    assert evidence["recovered"] > 0, "some calls were only in the CDR: recovered, not lost"
    assert listener.stats.calls == CALLS

    report = pbx.hub.run("calls_to_crm", triggered_by="test")
    assert report.counts.created == CALLS
    rows = pbx.rows("calls")
    assert len(rows) == CALLS == len({r["call_id"] for r in rows})
