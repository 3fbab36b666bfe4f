"""Gap recovery: the PBX's own call detail records are the system of record for calls the AMI stream missed.

AMI has no replay: whatever happens while the connection is down (or the listener is stopped) never
arrives. Asterisk still writes a CDR for every call leg, so after a gap the listener reads the CDRs that
ended in the gap (with some slack for clock skew) and backfills the calls that are not in the inbox yet.

Sources (connection extras of the PBX):

* ``cdr_csv``: cdr_csv's ``Master.csv`` (read from its end backwards: the file only grows);
* ``cdr_connection`` + ``cdr_table``: a CDR table (cdr_adaptive_odbc, cdr_pgsql, cdr_mysql) through
  SQLAlchemy.

Rows of one call are grouped by ``linkedid`` when the source has it (a CDR table; Master.csv with
``newcdrcolumns=yes``). Plain Master.csv has no linkedid: its rows are grouped by the channels they share
(``channel``/``dstchannel``, both halves of a Local channel counted as one) while their times overlap, and
the call's Linkedid is its oldest Uniqueid, which is what a Linkedid is.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from connectors.telephony.calls import Cdr
from connectors.telephony.config import PbxConfig
from connectors.telephony.record import cdr_time, oldest_uniqueid
from hub.connections import ConnectionResolver
from hub.errors import ConfigError, RetriableError
from hub.sql import engine_url

#: Master.csv columns in order (cdr.conf [csv] loguniqueid=yes, loguserfield=yes; newcdrcolumns adds 3)
CSV_COLUMNS = ("AccountCode", "Source", "Destination", "DestinationContext", "CallerID", "Channel",
               "DestinationChannel", "LastApplication", "LastData", "StartTime", "AnswerTime", "EndTime",
               "Duration", "BillableSeconds", "Disposition", "AMAFlags", "UniqueID", "UserField",
               "PeerAccount", "LinkedID", "Sequence")
#: a CDR table's columns -> the Cdr event's field names
SQL_COLUMNS = {"clid": "CallerID", "src": "Source", "dst": "Destination", "dcontext": "DestinationContext",
               "channel": "Channel", "dstchannel": "DestinationChannel", "lastapp": "LastApplication",
               "lastdata": "LastData", "duration": "Duration", "billsec": "BillableSeconds",
               "disposition": "Disposition", "amaflags": "AMAFlags", "accountcode": "AccountCode",
               "uniqueid": "UniqueID", "userfield": "UserField", "linkedid": "LinkedID"}
#: rows are appended when a leg ends; how far out of order they may be (CDR batch mode waits up to 300 s)
OUT_OF_ORDER = 3600.0
#: the longest call whose rows a table query looks back for
LONGEST_CALL = 6 * 3600.0


class CdrSource(Protocol):
    def rows(self, start: float, end: float) -> list[Cdr]:
        """CDR rows of legs that ended between ``start`` and ``end`` (PBX epoch seconds)."""
        ...


def row_end(row: Cdr, zone: ZoneInfo) -> float | None:
    end = cdr_time(row.get("EndTime"), zone)
    if end is not None:
        return end.timestamp()
    start = cdr_time(row.get("StartTime"), zone)
    return None if start is None else start.timestamp() + float(row.get("Duration") or 0)


class CsvCdrSource:
    def __init__(self, path: Path, zone: ZoneInfo):
        self.path = path
        self.zone = zone

    def rows(self, start: float, end: float) -> list[Cdr]:
        if not self.path.exists():
            raise RetriableError(f"the CDR file {self.path} does not exist (is cdr_csv loaded?)")
        found = []
        for line in _lines_backwards(self.path):
            values = next(csv.reader([line]), [])
            if len(values) < 17:
                if values:
                    raise ConfigError(f"{self.path}: rows have {len(values)} columns; gap recovery needs the "
                                      "uniqueid column (cdr.conf [csv] loguniqueid=yes)")
                continue
            row = dict(zip(CSV_COLUMNS, values, strict=False))
            finished = row_end(row, self.zone)
            if finished is None:
                continue
            if finished < start - OUT_OF_ORDER:
                break
            if start <= finished <= end:
                found.append(row)
        found.reverse()
        return found


def _lines_backwards(path: Path, chunk: int = 1 << 20) -> Iterator[str]:
    """The file's lines, last first, reading only as much of its end as needed."""
    with path.open("rb") as handle:
        handle.seek(0, 2)
        position = handle.tell()
        rest = b""
        while position > 0:
            size = min(chunk, position)
            position -= size
            handle.seek(position)
            lines = (handle.read(size) + rest).split(b"\n")
            rest = lines[0]
            for line in reversed(lines[1:]):
                if line.strip():
                    yield line.decode("utf-8", "replace")
        if rest.strip():
            yield rest.decode("utf-8", "replace")


class SqlCdrSource:
    def __init__(self, engine: sa.Engine, table: str, zone: ZoneInfo, where: str):
        self.engine = engine
        self.zone = zone
        self.where = where
        self._table_name = table
        self._table: sa.Table | None = None

    def _reflect(self) -> sa.Table:
        if self._table is None:
            try:
                self._table = sa.Table(self._table_name, sa.MetaData(), autoload_with=self.engine)
            except sa.exc.NoSuchTableError:
                raise ConfigError(f"{self.where}: CDR table {self._table_name!r} does not exist") from None
            except sa.exc.OperationalError as exc:
                raise RetriableError(f"{self.where}: CDR database unreachable ({type(exc.orig).__name__})") from None
        return self._table

    def rows(self, start: float, end: float) -> list[Cdr]:
        table = self._reflect()
        columns = table.c
        begin = columns["start"] if "start" in columns else columns["calldate"]
        low = self._local(start - LONGEST_CALL)
        high = self._local(end)
        query = sa.select(table).where(begin >= low, begin <= high)
        try:
            with self.engine.connect() as conn:
                result = [dict(row) for row in conn.execute(query).mappings()]
        except sa.exc.OperationalError as exc:
            raise RetriableError(f"{self.where}: CDR database unreachable ({type(exc.orig).__name__})") from None
        rows = [self._cdr(row) for row in result]
        return [row for row in rows if (finished := row_end(row, self.zone)) is not None and start <= finished <= end]

    def _local(self, epoch: float) -> dt.datetime:
        return dt.datetime.fromtimestamp(epoch, self.zone).replace(tzinfo=None)

    def _cdr(self, row: dict[str, object]) -> Cdr:
        cdr = {name: "" if row.get(column) is None else str(row[column]) for column, name in SQL_COLUMNS.items()
               if column in row}
        begin = row.get("start") or row.get("calldate")
        cdr["StartTime"] = _text_time(begin)
        if "end" in row:
            cdr["EndTime"] = _text_time(row.get("end"))
            cdr["AnswerTime"] = _text_time(row.get("answer"))
        elif isinstance(begin, dt.datetime):
            duration, billsec = int(cdr.get("Duration") or 0), int(cdr.get("BillableSeconds") or 0)
            cdr["EndTime"] = _text_time(begin + dt.timedelta(seconds=duration))
            cdr["AnswerTime"] = _text_time(begin + dt.timedelta(seconds=duration - billsec)) if billsec else ""
        return cdr


def _text_time(value: object) -> str:
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return "" if value is None else str(value)


# -- grouping rows into calls ------------------------------------------------------------------------------

def group_calls(rows: list[Cdr], zone: ZoneInfo) -> list[tuple[str, list[Cdr]]]:
    """(Linkedid, the call's rows) for each call among ``rows``."""
    calls: dict[str, list[Cdr]] = defaultdict(list)
    anonymous: list[Cdr] = []
    for row in rows:
        if not row.get("UniqueID"):
            continue
        if row.get("LinkedID"):
            calls[row["LinkedID"]].append(row)
        else:
            anonymous.append(row)
    for component in _components(anonymous, zone):
        calls[oldest_uniqueid([r["UniqueID"] for r in component])].extend(component)
    return list(calls.items())


def _components(rows: list[Cdr], zone: ZoneInfo) -> list[list[Cdr]]:
    parent = list(range(len(rows)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    spans = [_span(row, zone) for row in rows]
    by_channel: dict[str, list[int]] = defaultdict(list)
    for index, row in enumerate(rows):
        for name in {_channel_key(row.get("Channel")), _channel_key(row.get("DestinationChannel"))} - {""}:
            by_channel[name].append(index)
    for members in by_channel.values():
        for position, first in enumerate(members):
            for second in members[position + 1:]:
                if _overlap(spans[first], spans[second]):
                    parent[root(second)] = root(first)
    groups: dict[int, list[Cdr]] = defaultdict(list)
    for index, row in enumerate(rows):
        groups[root(index)].append(row)
    return list(groups.values())


def _channel_key(channel: str | None) -> str:
    """A channel's name, with both halves of a Local channel (``;1``, ``;2``) as one."""
    name = (channel or "").strip()
    if name.startswith("Local/") and name[-2:] in (";1", ";2"):
        return name[:-2]
    return name


def _span(row: Cdr, zone: ZoneInfo) -> tuple[float, float]:
    start = cdr_time(row.get("StartTime"), zone)
    end = row_end(row, zone)
    begin = start.timestamp() if start is not None else (end or 0.0)
    return begin, end if end is not None else begin


def _overlap(a: tuple[float, float], b: tuple[float, float], slack: float = 2.0) -> bool:
    return a[0] <= b[1] + slack and b[0] <= a[1] + slack


def cdr_source(config: PbxConfig, resolver: ConnectionResolver) -> CdrSource | None:
    """The PBX's CDR as configured on its connection, or None (gap recovery then cannot backfill)."""
    if config.cdr_csv is not None:
        return CsvCdrSource(config.cdr_csv, config.zone)
    if config.cdr_connection:
        connection = resolver.get(config.cdr_connection)
        engine = sa.create_engine(engine_url(connection), pool_pre_ping=True, hide_parameters=True)
        return SqlCdrSource(engine, config.cdr_table, config.zone, f"CDR database {connection.describe()}")
    return None
