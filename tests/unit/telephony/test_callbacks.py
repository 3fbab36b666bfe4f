"""Which missed calls become callback tasks, and when a task is closed."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from connectors.telephony.callbacks import CallbackBook, CallbackOptions

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
CLIENT = "+79161234567"
_ids = itertools.count(1)


def call(direction: str, disposition: str, minute: float, number: str = CLIENT, length: float = 0.5,
         extension: str = "101") -> dict[str, Any]:
    start = T0 + dt.timedelta(minutes=minute)
    return {"call_id": f"17.{next(_ids)}", "direction": direction, "disposition": disposition,
            "external_number": number, "started_at": start, "ended_at": start + dt.timedelta(minutes=length),
            "extension": extension, "queue": None}


def run(calls: list[dict[str, Any]], now_minute: float, window: float = 10,
        book: CallbackBook | None = None) -> tuple[list[dict[str, Any]], CallbackBook]:
    book = book or CallbackBook.from_checkpoint(None, CallbackOptions(window_minutes=window))
    for inbox_id, item in enumerate(calls, start=book.after + 1):
        book.add(inbox_id, item)
    book.due(T0 + dt.timedelta(minutes=now_minute))
    return book.take_changes(), book


def test_a_missed_call_becomes_a_task_once_the_window_has_passed() -> None:
    missed = call("inbound", "no_answer", 0)
    changes, book = run([missed], now_minute=5)
    assert changes == [], "still within the window: somebody may call back"
    changes, _ = run([], now_minute=11, book=book)
    assert [(c["missed_call_id"], c["status"], c["phone"]) for c in changes] == [(missed["call_id"], "open", CLIENT)]
    assert changes[0]["due_at"] == missed["ended_at"] + dt.timedelta(minutes=10)


def test_a_callback_within_the_window_means_no_task() -> None:
    changes, book = run([call("inbound", "busy", 0), call("outbound", "answered", 3)], now_minute=30)
    assert changes == [] and book.open == {}


def test_the_customer_calling_again_and_getting_through_also_counts() -> None:
    changes, _ = run([call("inbound", "no_answer", 0), call("inbound", "answered", 2)], now_minute=30)
    assert changes == []


def test_an_unanswered_callback_does_not_count() -> None:
    changes, _ = run([call("inbound", "no_answer", 0), call("outbound", "no_answer", 2)], now_minute=30)
    assert [c["status"] for c in changes] == ["open"]


def test_a_later_answered_call_closes_the_task() -> None:
    missed = call("inbound", "no_answer", 0)
    changes, book = run([missed], now_minute=20)
    assert [c["status"] for c in changes] == ["open"]
    back = call("outbound", "answered", 45)
    changes, book = run([back], now_minute=50, book=book)
    assert [(c["missed_call_id"], c["status"], c["closed_by_call"]) for c in changes] == \
        [(missed["call_id"], "done", back["call_id"])]
    assert book.open == {}


def test_more_missed_calls_from_the_same_number_fold_into_one_task() -> None:
    first = call("inbound", "no_answer", 0)
    changes, book = run([first], now_minute=20)
    changes, book = run([call("inbound", "no_answer", 25), call("inbound", "busy", 26)], now_minute=27, book=book)
    assert [(c["missed_call_id"], c["missed_count"], c["status"]) for c in changes] == [(first["call_id"], 3, "open")]


def test_calls_from_other_numbers_and_internal_calls_do_not_interfere() -> None:
    changes, _ = run([call("inbound", "no_answer", 0), call("outbound", "answered", 3, number="+74950000000"),
                      call("internal", "no_answer", 4, number=None)], now_minute=30)
    assert [c["phone"] for c in changes] == [CLIENT]


def test_a_callback_that_reached_the_inbox_first_still_counts() -> None:
    """A long missed call ends (and reaches the inbox) after the callback that followed its start."""
    missed = call("inbound", "no_answer", 0, length=4)
    back = call("outbound", "answered", 2, length=1)
    changes, _ = run([back, missed], now_minute=60)
    assert changes == []


def test_an_answered_call_before_the_missed_one_does_not_close_it() -> None:
    changes, _ = run([call("inbound", "answered", -30), call("inbound", "no_answer", 0)], now_minute=20)
    assert [c["status"] for c in changes] == ["open"]


def test_the_checkpoint_carries_open_callbacks_to_the_next_run() -> None:
    missed = call("inbound", "no_answer", 0)
    _, book = run([missed], now_minute=5)
    resumed = CallbackBook.from_checkpoint(book.checkpoint(), CallbackOptions(window_minutes=10))
    assert resumed.after == 1
    changes, _ = run([], now_minute=11, book=resumed)
    assert [c["missed_call_id"] for c in changes] == [missed["call_id"]]


def test_open_tasks_are_followed_for_close_within_days_only() -> None:
    book = CallbackBook.from_checkpoint(None, CallbackOptions(window_minutes=1, close_within_days=1))
    changes, book = run([call("inbound", "no_answer", 0)], now_minute=10, book=book)
    assert changes and book.open
    run([], now_minute=2 * 24 * 60, book=book)
    assert book.open == {}
