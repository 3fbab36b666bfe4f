"""Gap recovery from a CDR table (cdr_pgsql / cdr_adaptive_odbc) on the real PostgreSQL: the rows of the
recorded calls, read back for a time window and grouped by their linkedid column, give the recorded calls."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from connectors.telephony.config import pbx_config
from connectors.telephony.record import NumberPlan, build_record
from connectors.telephony.recovery import SqlCdrSource, cdr_source, group_calls
from hub.connections import Connection, ConnectionResolver
from hub.errors import ConfigError
from hub.settings import HubSettings
from hub.testing.databases import postgres_schema
from sandbox.ami.transcript import load_recording, received_events

pytestmark = pytest.mark.postgres
LINKEDIDS = {"answered": "1795885070.0", "missed": "1795885075.7", "busy": "1795885081.15",
             "queue-answered": "1795885088.34", "queue-missed": "1795885092.41", "outbound": "1795885081.23"}
DISPOSITIONS = {"answered": "answered", "missed": "no_answer", "busy": "busy", "queue-answered": "answered",
                "queue-missed": "no_answer", "outbound": "answered"}
#: the standard table of cdr_pgsql (Asterisk's contrib/scripts), times in the PBX's zone
CDR_TABLE = """CREATE TABLE cdr (calldate timestamp NOT NULL, clid varchar(80), src varchar(80), dst varchar(80),
    dcontext varchar(80), channel varchar(80), dstchannel varchar(80), lastapp varchar(80), lastdata varchar(80),
    duration integer, billsec integer, disposition varchar(45), amaflags integer, accountcode varchar(20),
    uniqueid varchar(150), userfield varchar(255), peeraccount varchar(20), linkedid varchar(150), sequence integer)"""


@pytest.fixture
def cdr_url() -> Iterator[str]:
    with postgres_schema("hub_cdr") as url:
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.execute(sa.text(CDR_TABLE))
            for name, linkedid in LINKEDIDS.items():
                for cdr in (e for e in received_events(load_recording(name)) if e["Event"] == "Cdr"):
                    conn.execute(sa.text(
                        "INSERT INTO cdr (calldate, clid, src, dst, dcontext, channel, dstchannel, lastapp, lastdata,"
                        " duration, billsec, disposition, amaflags, accountcode, uniqueid, userfield, linkedid)"
                        " VALUES (:start, :clid, :src, :dst, :ctx, :ch, :dch, :app, :data, :dur, :bill, :disp, 3, '',"
                        " :uid, '', :linkedid)"),
                        dict(start=cdr["StartTime"], clid=cdr["CallerID"], src=cdr["Source"], dst=cdr["Destination"],
                             ctx=cdr["DestinationContext"], ch=cdr["Channel"], dch=cdr["DestinationChannel"],
                             app=cdr["LastApplication"], data=cdr["LastData"], dur=int(cdr["Duration"]),
                             bill=int(cdr["BillableSeconds"]), disp=cdr["Disposition"], uid=cdr["UniqueID"],
                             linkedid=linkedid))
        engine.dispose()
        yield url


def epoch(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()


def test_calls_are_read_back_from_the_cdr_table(cdr_url: str) -> None:
    pbx = Connection(conn_id="pbx", login="hub", extra={"cdr_connection": "pbx_cdr", "cdr_timezone": "UTC"})
    resolver = ConnectionResolver(env={"AIRFLOW_CONN_PBX_CDR": json.dumps({"conn_type": "postgres",
                                                                           "extra": {"url": cdr_url}})})
    source = cdr_source(pbx_config(pbx, HubSettings()), resolver)
    assert isinstance(source, SqlCdrSource)
    try:
        rows = source.rows(epoch("2026-11-28 16:57:00"), epoch("2026-11-28 16:58:30"))
        calls = dict(group_calls(rows, ZoneInfo("UTC")))
        assert set(calls) == set(LINKEDIDS.values())
        plan = NumberPlan("RU", r"^\d{2,6}$")
        for name, linkedid in LINKEDIDS.items():
            record = build_record(linkedid, None, calls[linkedid], plan, ZoneInfo("UTC"), "recovered", "pbx")
            assert record["disposition"] == DISPOSITIONS[name], name
        answered = build_record("1795885070.0", None, calls["1795885070.0"], plan, ZoneInfo("UTC"), "recovered", "pbx")
        assert (answered["duration"], answered["billsec"], answered["agent"]) == (4, 3, "100")
        assert answered["answered_at"] == dt.datetime(2026, 11, 28, 16, 57, 51, tzinfo=dt.UTC), "answer = end - billsec"

        narrow = source.rows(epoch("2026-11-28 16:58:04"), epoch("2026-11-28 16:58:06"))
        assert {r["UniqueID"] for r in narrow} == {"1795885081.23", "1795885081.24", "1795885081.26"}
    finally:
        source.engine.dispose()


def test_a_missing_cdr_table_is_a_config_error(cdr_url: str) -> None:
    source = SqlCdrSource(sa.create_engine(cdr_url), "no_such_table", ZoneInfo("UTC"), "CDR database test")
    try:
        with pytest.raises(ConfigError, match="'no_such_table' does not exist"):
            source.rows(0, 1)
    finally:
        source.engine.dispose()
