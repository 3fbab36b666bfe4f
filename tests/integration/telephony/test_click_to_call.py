"""Click-to-call: a call request row in the CRM becomes one AMI Originate, and what happened to it is
written back to the request. A re-run never rings anybody twice."""

from __future__ import annotations

import datetime as dt
import json

import sqlalchemy as sa

from connectors.telephony.state import OriginateJournal
from hub.errors import RetriableError
from hub.testing.network import free_port
from sandbox.ami.server import CallSpec

from .conftest import Pbx, wait_for

ANSWERS = "+74951234567"
BUSY = "+74957654321"


def request(request_id: int, phone: str, extension: str) -> dict[str, object]:
    return {"id": request_id, "phone": phone, "extension": extension, "manager_id": int(extension) - 100,
            "status": "new", "requested_at": dt.datetime(2026, 3, 2, 9, 0), "updated_at": dt.datetime(2026, 3, 2, 9, 0)}


def test_a_request_is_dialed_once_and_its_outcome_written_back(pbx: Pbx) -> None:
    listener = pbx.listen()
    pbx.sim.set_outcome(BUSY, "busy")
    pbx.insert("call_requests", [request(1, "8 (495) 123-45-67", "101"), request(2, BUSY, "103"),
                                 {**request(3, ANSWERS, "104"), "status": "done"}])  # handled already: not again

    report = pbx.hub.run("click_to_call", triggered_by="test")
    assert (report.counts.created, report.counts.filtered, report.counts.rejected) == (2, 0, 0)
    assert pbx.sim.stats()["originates"] == 2

    results = pbx.wait_inbox(2, stream="originate_results")
    assert {r["request_id"]: r["outcome"] for r in results} == {"1": "answered", "2": "busy"}
    outcome = pbx.hub.run("click_to_call_outcome", triggered_by="test")
    assert outcome.counts.updated == 2
    rows = {r["id"]: r for r in pbx.rows("call_requests")}
    assert (rows[1]["status"], rows[1]["outcome"]) == ("done", "answered")
    assert (rows[2]["status"], rows[2]["outcome"]) == ("failed", "busy")
    assert rows[3]["status"] == "done" and rows[3]["outcome"] is None

    # the call itself is in the call log, tied to the request by the correlation variable
    calls = pbx.wait_inbox(2)
    answered = next(c for c in calls if c["request_id"] == "1")
    assert (answered["direction"], answered["caller"], answered["callee"], answered["disposition"]) == \
        ("outbound", "101", ANSWERS, "answered")
    assert pbx.hub.run("click_to_call_calls", triggered_by="test").counts.updated == 2
    rows = {r["id"]: r for r in pbx.rows("call_requests")}
    assert rows[1]["call_id"] == answered["call_id"], "the request points at the call it produced"
    assert listener.stats.originate_results == 2
    wait_for(lambda: {"hub://inbox/calls", "hub://inbox/originate_results"} <= set(pbx.waker.woken), 5,
             "the wake-ups of both exchanges")

    again = pbx.hub.run("click_to_call", triggered_by="test")
    assert again.counts.created == 0
    pbx.insert("call_requests", [request(4, ANSWERS, "105")])
    third = pbx.hub.run("click_to_call", triggered_by="test")
    assert third.counts.created == 1
    wait_for(lambda: pbx.sim.stats()["originates"] == 3, 5, "the new request's Originate")
    assert pbx.sim.stats()["originates"] == 3, "only the new request rang"


def test_a_request_that_cannot_be_dialed_goes_to_dead_letters_and_nothing_rings(pbx: Pbx) -> None:
    pbx.insert("call_requests", [request(1, "not a phone", "101")])
    report = pbx.hub.run("click_to_call", triggered_by="test")
    assert report.counts.rejected == 1 and pbx.sim.stats()["originates"] == 0
    (letter,) = pbx.store.dead_letters("click_to_call")
    assert letter.error_class == "DataError" and "not a phone number" in letter.message


def test_with_the_pbx_down_nothing_is_sent_and_the_request_is_retried_next_run(pbx: Pbx) -> None:
    pbx.insert("call_requests", [request(1, ANSWERS, "101")])
    reachable = pbx.env["AIRFLOW_CONN_PBX"]
    pbx.env["AIRFLOW_CONN_PBX"] = json.dumps({**json.loads(reachable), "port": free_port()})
    report = pbx.hub.run("click_to_call", triggered_by="test")
    assert report.counts.rejected == 1 and pbx.sim.stats()["originates"] == 0
    (letter,) = pbx.store.dead_letters("click_to_call")
    assert letter.error_class == "DependencyMissing" and "nothing was sent" in letter.message

    pbx.env["AIRFLOW_CONN_PBX"] = reachable  # the PBX is back: the next run replays the request, once
    retried = pbx.hub.run("click_to_call", triggered_by="test")
    assert retried.counts.created == 1 and pbx.sim.stats()["originates"] == 1
    assert pbx.store.dead_letters("click_to_call") == []
    assert pbx.hub.run("click_to_call", triggered_by="test").counts.created == 0


def test_an_unreachable_pbx_is_a_retriable_error_for_the_session(pbx: Pbx) -> None:
    connector = pbx.hub.connector("telephony_ami", "pbx")
    assert "AMI login and ping work" in connector.check()
    bad = connector.connection.model_copy(update={"port": free_port()})
    try:
        type(connector)(bad, pbx.hub.settings).check()
    except RetriableError as exc:
        assert "cannot connect" in str(exc) and "hubsecret" not in str(exc)
    else:
        raise AssertionError("an unreachable PBX must raise")


def test_a_request_edited_after_it_was_dialed_does_not_ring_again(pbx: Pbx) -> None:
    """A request still waiting for its outcome is re-read with new content (a manager reassigned it): it was
    dialed already, so it is found and left alone, whatever the effect ledger knows."""
    pbx.insert("call_requests", [request(1, ANSWERS, "101")])
    assert pbx.hub.run("click_to_call", triggered_by="test").counts.created == 1
    with pbx.crm.begin() as conn:
        conn.execute(sa.text("UPDATE call_requests SET extension = '102' WHERE id = 1"))
    report = pbx.hub.run("click_to_call", triggered_by="test")
    assert (report.counts.read, report.counts.created, report.counts.unchanged) == (1, 0, 1)
    assert pbx.sim.stats()["originates"] == 1


def test_a_dial_interrupted_before_the_pbx_confirmed_it_is_left_to_an_operator(pbx: Pbx) -> None:
    """The hub claimed the request and was killed before the PBX answered: it may have rung, so it is not sent
    again; the request goes to dead letters saying so."""
    pbx.insert("call_requests", [request(1, ANSWERS, "101")])
    OriginateJournal(pbx.store.engine, "pbx").claim("1", "hub-c2c:1:lost", "101", ANSWERS)
    report = pbx.hub.run("click_to_call", triggered_by="test")
    assert report.counts.rejected == 1 and pbx.sim.stats()["originates"] == 0
    (letter,) = pbx.store.dead_letters("click_to_call")
    assert letter.error_class == "OutcomeUnknown" and "not sent again" in letter.message


def test_a_click_to_call_nobody_took_is_an_outbound_attempt_joined_to_its_request(pbx: Pbx) -> None:
    """The manager does not answer, or is busy: the PBX rang only the manager's phone, showing the customer's
    number. That is logged as the manager's outbound attempt, not as the customer's missed call (no callback
    task for a customer who never called), and every request is joined to its call, whatever the outcome."""
    pbx.listen()
    pbx.sim.set_outcome("102", "no_answer")  # the manager at 102 does not pick up
    pbx.sim.set_outcome(BUSY, "busy")
    pbx.insert("call_requests", [request(1, ANSWERS, "101"), request(2, "+79165550002", "102"),
                                 request(3, BUSY, "103")])
    assert pbx.hub.run("click_to_call", triggered_by="test").counts.created == 3
    calls = {c["request_id"]: c for c in pbx.wait_inbox(3)}
    pbx.wait_inbox(3, stream="originate_results")
    for name in ("calls_to_crm", "missed_calls_to_tasks", "click_to_call_outcome", "click_to_call_calls"):
        report = pbx.hub.run(name, triggered_by="test")
        assert report.counts.rejected == 0, name

    assert pbx.rows("tasks") == [], "nobody called in: no callback task"
    logged = {c["call_id"]: c for c in pbx.rows("calls")}
    expected = {"1": ("101", ANSWERS, "ANSWERED"), "2": ("102", "+79165550002", "NO ANSWER"),
                "3": ("103", BUSY, "BUSY")}
    for request_id, (extension, number, disposition) in expected.items():
        call = logged[calls[request_id]["call_id"]]
        assert (call["direction"], call["caller"], call["callee"], call["disposition"]) == \
            ("outbound", extension, number, disposition)
        assert call["manager_id"] == int(extension) - 100
    rows = {r["id"]: r for r in pbx.rows("call_requests")}
    assert {i: (r["status"], r["outcome"]) for i, r in rows.items()} == \
        {1: ("done", "answered"), 2: ("failed", "no_answer"), 3: ("failed", "busy")}
    assert {i: r["call_id"] for i, r in rows.items()} == {int(k): c["call_id"] for k, c in calls.items()}, \
        "each request is joined to the call in the call log"


def test_a_click_to_call_recovered_from_the_cdr_is_still_the_managers_attempt(pbx: Pbx) -> None:
    """The listener was down while the manager's phone rang unanswered: the call comes back from Master.csv,
    which has no channel variables and reads "from the customer to 102". The hub knows it dialed that: the
    call is the request's outbound attempt, with no callback task, joined to its request."""
    pbx.listen()
    pbx.sim.play([CallSpec("answered", caller="+79160000001", callee="101")])
    pbx.wait_inbox(1)
    pbx.stop_listeners()  # a clean stop: the next start recovers the gap from the last event it saw
    pbx.sim.set_outcome("102", "no_answer")
    pbx.insert("call_requests", [request(1, "+79165550002", "102")])
    assert pbx.hub.run("click_to_call", triggered_by="test").counts.created == 1
    pbx.sim.wait_played()
    listener = pbx.listen()
    (call,) = [c for c in pbx.wait_inbox(2) if c["call_id"] != pbx.inbox()[0]["call_id"]]
    assert listener.stats.recovered == 1 and call["evidence"] == "recovered"
    assert (call["request_id"], call["direction"], call["caller"], call["callee"], call["disposition"]) == \
        ("1", "outbound", "102", "+79165550002", "no_answer")
    for name in ("calls_to_crm", "missed_calls_to_tasks", "click_to_call_calls"):
        assert pbx.hub.run(name, triggered_by="test").counts.rejected == 0
    assert pbx.rows("tasks") == []
    (row,) = pbx.rows("call_requests")
    assert row["call_id"] == call["call_id"]
