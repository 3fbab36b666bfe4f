"""``upsert_rows`` (hub.state): rows of every column type the hub's and the connectors' own tables use land
exactly as given, and a second upsert updates them in place, whether few (one statement) or many (on PostgreSQL:
binary COPY through a staging table), given as dicts or as value tuples (``Rows``, what a batch commit makes), in
every kind of hub database."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from hub.state import make_engine, upsert_rows
from hub.state.upsert import COPY_FROM_ROWS, Rows

METADATA = sa.MetaData()
TABLE = sa.Table("hub_test_upsert", METADATA, sa.Column("name", sa.String(64), primary_key=True),
                 sa.Column("rate", sa.Float), sa.Column("amount", sa.Numeric(14, 2)), sa.Column("note", sa.Text),
                 sa.Column("active", sa.Boolean), sa.Column("at", sa.DateTime), sa.Column("n", sa.BigInteger))


def rows(count: int, version: int) -> list[dict[str, object]]:
    at = dt.datetime(2026, 12, 3, 10, 0, 0)
    return [dict(name=f"row {i}", rate=i / 4 + version, amount=Decimal(i) / 100 + version,
                 note=None if i % 3 else f"note {i}\tтаб", active=bool(i % 2), at=at + dt.timedelta(seconds=i),
                 n=2**40 + i + version) for i in range(count)]


def as_tuples(given: list[dict[str, object]]) -> Rows:
    names = tuple(given[0])
    return Rows(names, [tuple(row[name] for name in names) for row in given])


@pytest.mark.parametrize("shape", [list, as_tuples], ids=["dicts", "tuples"])
@pytest.mark.parametrize("count", [3, COPY_FROM_ROWS + 50], ids=["few", "many"])
def test_rows_land_as_given_and_a_second_upsert_updates_them(state_url: str, count: int,
                                                          shape: Callable[[list[dict[str, object]]], Any]) -> None:
    engine = make_engine(state_url)
    try:
        METADATA.create_all(engine)
        for version in (1, 2):
            with engine.begin() as c:
                upsert_rows(c, TABLE, shape(rows(count, version)), ["name"],
                            ["rate", "amount", "note", "active", "at", "n"])
            with engine.connect() as c:
                stored = [dict(row._mapping) for row in c.execute(sa.select(TABLE).order_by(TABLE.c.n))]
            assert stored == rows(count, version)
    finally:
        METADATA.drop_all(engine)
        engine.dispose()
