"""Reading the PBX's Master.csv and grouping its rows into calls without a linkedid column."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from connectors.telephony.recovery import CsvCdrSource, group_calls
from hub.errors import ConfigError, RetriableError
from sandbox.ami.cdr import csv_line
from sandbox.ami.transcript import load_recording, received_events

UTC = ZoneInfo("UTC")
CALLS = ("answered", "missed", "busy", "queue-answered", "queue-missed", "outbound", "demo")
LINKEDIDS = {"answered": "1795885070.0", "missed": "1795885075.7", "busy": "1795885081.15",
             "queue-answered": "1795885088.34", "queue-missed": "1795885092.41", "outbound": "1795885081.23",
             "demo": "1795885085.30"}


def recorded_cdrs(name: str) -> list[dict[str, str]]:
    return [e for e in received_events(load_recording(name)) if e["Event"] == "Cdr"]


def write_master_csv(path: Path, newcdrcolumns: bool = False) -> None:
    with path.open("w", encoding="utf-8") as out:
        for name in CALLS:
            for cdr in recorded_cdrs(name):
                out.write(csv_line(cdr, LINKEDIDS[name] if newcdrcolumns else None, 1))


def epoch(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()


@pytest.mark.parametrize("newcdrcolumns", [False, True])
def test_the_rows_of_each_recorded_call_group_into_that_call(tmp_path: Path, newcdrcolumns: bool) -> None:
    path = tmp_path / "Master.csv"
    write_master_csv(path, newcdrcolumns)
    rows = CsvCdrSource(path, UTC).rows(epoch("2026-11-28 16:00:00"), epoch("2026-11-28 18:00:00"))
    assert len(rows) == sum(len(recorded_cdrs(name)) for name in CALLS)
    calls = dict(group_calls(rows, UTC))
    assert set(calls) == set(LINKEDIDS.values()), "plain Master.csv: the Linkedid is the oldest Uniqueid of a call"
    for name, linkedid in LINKEDIDS.items():
        assert sorted(r["UniqueID"] for r in calls[linkedid]) == sorted(c["UniqueID"] for c in recorded_cdrs(name))


def test_rows_are_parsed_as_cdr_csv_writes_them(tmp_path: Path) -> None:
    path = tmp_path / "Master.csv"
    write_master_csv(path)
    row = next(r for r in CsvCdrSource(path, UTC).rows(0, 4e9) if r["UniqueID"] == "1795885070.1")
    main = next(c for c in recorded_cdrs("answered") if c["UniqueID"] == "1795885070.1")
    for key in ("CallerID", "Channel", "DestinationChannel", "LastData", "StartTime", "AnswerTime", "EndTime",
                "Duration", "BillableSeconds", "Disposition"):
        assert row[key] == main[key], key
    assert row["CallerID"] == '"+79161234567" <+79161234567>', "quotes inside a field survive"


def test_only_rows_that_ended_in_the_window_are_read(tmp_path: Path) -> None:
    path = tmp_path / "Master.csv"
    write_master_csv(path)
    rows = CsvCdrSource(path, UTC).rows(epoch("2026-11-28 16:58:04"), epoch("2026-11-28 16:58:08"))
    assert {r["EndTime"] for r in rows} == {"2026-11-28 16:58:05", "2026-11-28 16:58:07"}


def test_the_file_is_read_from_its_end_and_old_rows_are_not_even_parsed(tmp_path: Path) -> None:
    path = tmp_path / "Master.csv"
    path.write_text('"broken","row"\n' + csv_line(recorded_cdrs("demo")[0]) * 1, encoding="utf-8")
    old = dict(recorded_cdrs("answered")[0], StartTime="2026-11-01 10:00:00", EndTime="2026-11-01 10:00:05")
    with path.open("a", encoding="utf-8") as out:  # an old row after the broken one stops the backward read
        out.write(csv_line(old))
        for cdr in recorded_cdrs("demo"):
            out.write(csv_line(cdr))
    rows = CsvCdrSource(path, UTC).rows(epoch("2026-11-28 16:00:00"), epoch("2026-11-28 18:00:00"))
    assert len(rows) == 2


def test_a_master_csv_without_uniqueids_cannot_be_reconciled(tmp_path: Path) -> None:
    path = tmp_path / "Master.csv"
    path.write_text(",".join(['"x"'] * 16) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="loguniqueid=yes"):
        CsvCdrSource(path, UTC).rows(0, 4e9)


def test_a_missing_file_is_retried_later(tmp_path: Path) -> None:
    with pytest.raises(RetriableError, match="does not exist"):
        CsvCdrSource(tmp_path / "nope.csv", UTC).rows(0, 1)
