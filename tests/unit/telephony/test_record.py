"""Building the call record: numbers, direction, the main CDR, times in the PBX's zone."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from connectors.telephony.record import NumberPlan, build_record, cdr_time, channel_number, main_cdr, oldest_uniqueid


@pytest.mark.parametrize(("raw", "normal"), [
    ("+79161234567", "+79161234567"),
    ("89161234567", "+79161234567"),  # the Russian trunk prefix
    ("9161234567", "+79161234567"),  # national number without the prefix
    ("101", "101"),  # an extension stays as it is
    ("<unknown>", None),
    ("anonymous", None),
    ("", None),
    ("trunk-gw", "trunk-gw"),  # not a phone number: kept as the PBX wrote it
])
def test_numbers_are_e164_outside_and_as_is_inside(plan: NumberPlan, raw: str, normal: str | None) -> None:
    assert plan.normalize(raw) == normal


@pytest.mark.parametrize(("channel", "number"), [
    ("PJSIP/101-0000002a", "101"), ("SIP/204-00000001", "204"), ("Local/101@hub-phones-0000000a;1", "101"),
    ("Local/101@hub-phones", "101"), ("", None),
])
def test_the_number_in_a_channel_name(channel: str, number: str | None) -> None:
    assert channel_number(channel) == number


def cdr(**fields: str) -> dict[str, str]:
    base = {"UniqueID": "1.1", "Source": "+79161234567", "Destination": "100", "StartTime": "2026-01-10 10:00:00",
            "AnswerTime": "", "EndTime": "2026-01-10 10:00:05", "Duration": "5", "BillableSeconds": "0",
            "Disposition": "NO ANSWER", "DestinationChannel": ""}
    return {**base, **fields}


def test_the_main_cdr_is_the_dialing_one_and_an_answered_one_wins() -> None:
    rang = cdr(UniqueID="1.1", DestinationChannel="PJSIP/101-1", LastApplication="Dial")
    answered = cdr(UniqueID="1.1", DestinationChannel="PJSIP/102-2", Disposition="ANSWERED",
                   StartTime="2026-01-10 10:00:06")
    after = cdr(UniqueID="1.1", LastApplication="Hangup")
    assert main_cdr([after, rang, answered], "1.0") is answered
    assert main_cdr([after, rang], "1.0") is rang
    longest = cdr(UniqueID="1.0", Duration="9")
    assert main_cdr([after, longest], "1.0") is longest, "no dial at all: the longest one"


def test_cdr_times_are_read_in_the_pbx_zone() -> None:
    moscow = ZoneInfo("Europe/Moscow")
    assert cdr_time("2026-01-10 10:00:00", moscow) == dt.datetime(2026, 1, 10, 7, 0, tzinfo=dt.UTC)
    assert cdr_time("", moscow) is None and cdr_time("garbage", moscow) is None


def test_a_record_from_the_cdr_alone(plan: NumberPlan) -> None:
    """What gap recovery commits for a call the stream never showed."""
    main = cdr(UniqueID="5.2", DestinationChannel="Local/103@phones-01;1", LastApplication="Queue",
               LastData="sales,r", Disposition="ANSWERED", AnswerTime="2026-01-10 10:00:02", BillableSeconds="3")
    record = build_record("5.1", None, [main, cdr(UniqueID="5.1")], plan, ZoneInfo("UTC"), "recovered", "pbx")
    assert (record["direction"], record["caller"], record["callee"], record["queue"], record["agent"]) == \
        ("inbound", "+79161234567", "100", "sales", "103")
    assert (record["disposition"], record["billsec"], record["hangup_cause"]) == ("answered", 3, None)
    assert record["uniqueids"] == ["5.1", "5.2"] and record["evidence"] == "recovered"


@pytest.mark.parametrize(("caller", "callee", "direction"), [
    ("+79161234567", "101", "inbound"), ("101", "+79161234567", "outbound"), ("101", "102", "internal"),
    ("<unknown>", "101", "inbound"),
])
def test_direction(plan: NumberPlan, caller: str, callee: str, direction: str) -> None:
    record = build_record("1.1", None, [cdr(Source=caller, Destination=callee)], plan, ZoneInfo("UTC"), "live", "p")
    assert record["direction"] == direction


def test_the_oldest_uniqueid_is_numeric_not_textual() -> None:
    assert oldest_uniqueid(["1700000000.10", "1700000000.9", "1700000001.0"]) == "1700000000.9"
