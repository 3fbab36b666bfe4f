"""Rows the hub only ever inserts (the record log) land exactly as given, in one go, in every kind of hub database
(on PostgreSQL they go by binary COPY: hub.state.upsert.insert_rows)."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from hub.state.models import RecordLog, table_of, utcnow
from hub.state.store import StateStore
from hub.state.upsert import insert_rows


def log_rows(store: StateStore) -> list[tuple[object, ...]]:
    with store.engine.connect() as c:
        return [tuple(row) for row in c.execute(select(RecordLog.run_id, RecordLog.exchange, RecordLog.source_key,
                                                             RecordLog.target_key, RecordLog.action, RecordLog.fields,
                                                             RecordLog.at).order_by(RecordLog.id))]


def test_rows_read_back_as_written(state_url: str) -> None:
    store = StateStore(state_url)
    now = utcnow().replace(microsecond=0)  # MariaDB keeps whole seconds
    odd = "tab\tquote' back\\slash ключ"  # what a text COPY would have to escape
    rows = [dict(run_id=7, exchange="clients", at=now, source_key=f"{n}", target_key=None if n % 2 else f"t{n}",
                 action="created", fields="name,inn" if n % 3 else None) for n in range(1200)]
    rows.append(dict(run_id=7, exchange="clients", at=now, source_key=odd, target_key=odd, action="updated",
                     fields=odd))
    try:
        with store.engine.begin() as c:
            insert_rows(c, table_of(RecordLog), rows)
        assert log_rows(store) == [(r["run_id"], r["exchange"], r["source_key"], r["target_key"], r["action"],
                                    r["fields"], now) for r in rows]
    finally:
        store.close()


def test_a_bad_row_fails_the_whole_batch_as_a_database_error(state_url: str) -> None:
    store = StateStore(state_url)
    now = utcnow()
    good = dict(run_id=1, exchange="clients", at=now, source_key="1", target_key="1", action="created", fields=None)
    try:
        with pytest.raises(DBAPIError), store.engine.begin() as c:
            insert_rows(c, table_of(RecordLog), [good, {**good, "action": None}])  # the column is NOT NULL
        assert log_rows(store) == []
        with store.engine.begin() as c:  # the connection the failure happened on is fine for the next batch
            insert_rows(c, table_of(RecordLog), [good])
        assert len(log_rows(store)) == 1
    finally:
        store.close()
