"""A click-to-call the manager did not take is the hub's own outbound attempt, never a missed inbound call.

The recordings of a real Asterisk 22 show what such an attempt looks like: an Originate rings an extension
(``Local/200@hub-in``, ``Local/300@hub-in``) with the customer's number as caller ID, and nobody answers
(missed.txt) or the line is busy (busy.txt). Every CDR then reads "from +79161234567 to 200": exactly an
inbound missed call. What tells them apart is the Originate's request id, which Asterisk reports as a
``VarSet`` of the originated channel, like the recorded ``CALLER`` variable."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from connectors.telephony.callbacks import CallbackBook, CallbackOptions

CUSTOMER = "+79161234567"
EXTENSION = {"missed": "200", "busy": "300"}
DISPOSITION = {"missed": "no_answer", "busy": "busy"}


def with_request(events: list[dict[str, str]], request_id: str) -> list[dict[str, str]]:
    """The recording as it is when the Originate also carries ``Variable: HUB_REQUEST=<id>``: Asterisk sets
    each Originate variable on the channel and reports it with a VarSet, as it did for CALLER."""
    out = []
    for event in events:
        out.append(event)
        if event.get("Event") == "VarSet" and event.get("Variable") == "CALLER":
            out.append({**event, "Variable": "HUB_REQUEST", "Value": request_id})
    return out


def tasks_after_the_window(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    book = CallbackBook.from_checkpoint(None, CallbackOptions(window_minutes=10))
    for inbox_id, record in enumerate(records, start=1):
        book.add(inbox_id, record)
    book.due(max(r["ended_at"] for r in records) + dt.timedelta(hours=1))
    return book.take_changes()


@pytest.mark.parametrize("name", ["missed", "busy"])
def test_a_failed_click_to_call_is_an_outbound_attempt_by_the_manager(name: str, replay, recorded_events) -> None:
    (record,) = replay(with_request(recorded_events(name), "42"))
    assert record["request_id"] == "42"
    assert (record["direction"], record["caller"], record["callee"]) == ("outbound", EXTENSION[name], CUSTOMER)
    assert (record["external_number"], record["extension"], record["agent"]) == \
        (CUSTOMER, EXTENSION[name], EXTENSION[name])
    assert record["disposition"] == DISPOSITION[name], "what happened to the attempt is kept"


@pytest.mark.parametrize("name", ["missed", "busy"])
def test_a_failed_click_to_call_never_becomes_a_callback_task(name: str, replay, recorded_events) -> None:
    attempt = replay(with_request(recorded_events(name), "42"))
    assert tasks_after_the_window(attempt) == []
    # the same events without the request are a customer's missed call, and that one does need a task
    (task,) = tasks_after_the_window(replay(name))
    assert (task["phone"], task["status"]) == (CUSTOMER, "open")


def test_click_to_call_records_written_before_the_fix_make_no_task(replay, recorded_events) -> None:
    """Inbox records committed by an older listener still say inbound; their request id gives them away."""
    (record,) = replay(with_request(recorded_events("missed"), "42"))
    legacy = {**record, "direction": "inbound", "caller": CUSTOMER, "callee": "200"}
    assert tasks_after_the_window([legacy]) == []


def test_an_answered_click_to_call_stays_outbound(replay, recorded_events) -> None:
    """The manager answered (answered.txt: the extension picked up): the call is still the manager's."""
    (record,) = replay(with_request(recorded_events("answered"), "7"))
    assert (record["direction"], record["caller"], record["callee"], record["disposition"]) == \
        ("outbound", "100", CUSTOMER, "answered")
