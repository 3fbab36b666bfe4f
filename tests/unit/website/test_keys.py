"""Submission keys: the sender's id when it has one, else the content within a window; always <= 64 chars."""

from __future__ import annotations

import datetime as dt

from connectors.website.formats.base import Submission
from connectors.website.keys import MAX_KEY, sender_time, submission_keys

T0 = dt.datetime(2025, 3, 3, 7, 0, tzinfo=dt.UTC)


def sub(source: str = "landing", **values: str) -> Submission:
    return Submission(source, "plain", {"name": "Анна", "phone": "+79160000000", **values})


def test_sender_id_makes_the_key_whatever_the_time_or_content() -> None:
    one = submission_keys(sub(submission_id="4561237:84"), T0, 600)
    later = submission_keys(sub(submission_id="4561237:84", comment="edited"), T0 + dt.timedelta(days=3), 600)
    assert one == later == ("landing:id:4561237:84", ())
    long_id = submission_keys(sub(source="a" * 24, submission_id="x" * 200), T0, 600)[0]
    assert len(long_id) <= MAX_KEY and long_id.startswith("a" * 24 + ":id#")


def test_content_key_covers_any_two_equal_submissions_less_than_a_window_apart() -> None:
    window = 600
    for offset in (1, 299, 599):
        first_key, _ = submission_keys(sub(), T0 + dt.timedelta(seconds=590), window)
        second_key, second_seen = submission_keys(sub(), T0 + dt.timedelta(seconds=590 + offset), window)
        assert first_key == second_key or first_key in second_seen
    far_key, far_seen = submission_keys(sub(), T0 + dt.timedelta(seconds=590 + 2 * window), window)
    assert submission_keys(sub(), T0 + dt.timedelta(seconds=590), window)[0] not in (far_key, *far_seen)


def test_content_key_ignores_what_differs_between_two_sends_and_not_what_the_visitor_typed() -> None:
    base = submission_keys(sub(), T0, 600)[0]
    assert submission_keys(sub(sender_ip="1.2.3.4", user_agent="x"), T0, 600)[0] == base
    assert submission_keys(sub(comment="другое"), T0, 600)[0] != base
    assert submission_keys(sub(source="tilda"), T0, 600)[0] != base
    # the sender's own time, when it sends one, places the window: a retry days later is still the same
    stamped = sub(submitted_at="2025-03-03T07:00:00Z")
    assert submission_keys(stamped, T0, 600) == submission_keys(stamped, T0 + dt.timedelta(days=2), 600)


def test_keys_stay_short_enough_for_the_leads_source_ref() -> None:
    key, seen = submission_keys(sub(source="s" * 24), T0, 1)
    assert max(len(key), *(len(k) for k in seen)) <= MAX_KEY


def test_sender_times_in_common_formats() -> None:
    assert sender_time("2025-03-03T07:20:12.345Z") == dt.datetime(2025, 3, 3, 7, 20, 12, 345000, tzinfo=dt.UTC)
    assert sender_time("03.03.2025 10:21") == dt.datetime(2025, 3, 3, 10, 21, tzinfo=dt.UTC)
    assert sender_time("March 3, 2025 10:32 am") == dt.datetime(2025, 3, 3, 10, 32, tzinfo=dt.UTC)
    assert sender_time("2025-03-03 07:41:12") == dt.datetime(2025, 3, 3, 7, 41, 12, tzinfo=dt.UTC)
    assert sender_time("вчера") is None and sender_time(None) is None
