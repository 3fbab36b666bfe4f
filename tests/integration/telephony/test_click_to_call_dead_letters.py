"""A call request whose number is not a phone number waits in dead letters saying what was typed in the CRM,
not what the conversion left of it."""

from __future__ import annotations

import datetime as dt

from .conftest import Pbx


def test_the_dead_letter_of_a_bad_number_shows_the_number_as_typed(pbx: Pbx) -> None:
    pbx.insert("call_requests", [{"id": 1, "phone": "12", "extension": "101", "manager_id": 1, "status": "new",
                                  "requested_at": dt.datetime(2026, 3, 2, 9, 0),
                                  "updated_at": dt.datetime(2026, 3, 2, 9, 0)}])
    report = pbx.hub.run("click_to_call", triggered_by="test")
    assert report.counts.rejected == 1 and pbx.sim.stats()["originates"] == 0
    (letter,) = pbx.store.dead_letters("click_to_call")
    assert (letter.error_class, letter.message) == ("DataError", "field 'number': '12' is not a phone number "
                                                                  "(no number to call)")
