"""A batch's first crossings (records the state store had no state for when the batch was read) get their state
and key-map rows inserted, not upserted (on PostgreSQL: straight into the table by COPY). Should a row exist after
all, as when another exchange linked the same object or an operator forgot a record whose link stayed, the batch
is upserted instead: nothing fails, nothing is written twice, and the rest of the batch's commit stands."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from hub.state.models import KeyMap, RecordLog, RecordState, table_of, utcnow
from hub.state.store import BatchCommit, KeyLink, PriorState, StateStore
from hub.state.upsert import COPY_FROM_ROWS, insert_new

MANY = COPY_FROM_ROWS + 50  # enough for the COPY path on PostgreSQL


def first_load(run_id: int, keys: list[str], exchange: str = "clients") -> BatchCommit:
    commit = BatchCommit(exchange, run_id, "v1")
    for key in keys:
        commit.states[key] = PriorState(f"hash {key}", None, f"t{key}", f"source {key}")
        commit.first_crossings.add(key)
        commit.links.append(KeyLink("client", "crm", key, "erp", f"t{key}"))
        commit.log.append(dict(source_key=key, target_key=f"t{key}", action="created", fields=None))
    return commit


def stored(store: StateStore) -> tuple[dict[str, tuple[object, ...]], dict[str, str], int]:
    with store.engine.connect() as c:
        states = {key: (content, target, seen) for key, content, target, seen in c.execute(
            sa.select(RecordState.source_key, RecordState.content_hash, RecordState.target_key, RecordState.seen_run))}
        links = dict(c.execute(sa.select(KeyMap.id_a, KeyMap.id_b)).all())
        logged = c.execute(sa.select(sa.func.count()).select_from(RecordLog)).scalar_one()
    return states, links, logged


@pytest.mark.parametrize("count", [3, MANY], ids=["few", "many"])
def test_a_first_load_lands_whole(state_url: str, count: int) -> None:
    store = StateStore(state_url)
    keys = [f"{n}" for n in range(count)]
    try:
        store.commit_batch(first_load(1, keys))
        states, links, logged = stored(store)
        assert states == {key: (f"hash {key}", f"t{key}", 1) for key in keys}
        assert links == {key: f"t{key}" for key in keys}
        assert logged == count
    finally:
        store.close()


@pytest.mark.parametrize("count", [3, MANY], ids=["few", "many"])
def test_rows_that_exist_after_all_are_updated_and_the_commit_stands(state_url: str, count: int) -> None:
    store = StateStore(state_url)
    keys = [f"{n}" for n in range(count)]
    try:
        store.commit_batch(first_load(1, keys[:2]))  # two of them crossed already: their state and link exist
        again = first_load(2, keys)
        again.links = [KeyLink("client", "crm", key, "erp", f"new {key}") for key in keys]
        store.commit_batch(again)
        states, links, logged = stored(store)
        assert states == {key: (f"hash {key}", f"t{key}", 2) for key in keys}  # the old two: run 2's state
        assert links == {key: f"new {key}" for key in keys}  # one link each, the newest
        assert logged == 2 + count  # the rest of the commit (the record log) is there
    finally:
        store.close()


def test_a_row_the_table_refuses_for_another_reason_fails_the_batch(state_url: str) -> None:
    store = StateStore(state_url)
    now = utcnow()
    rows = [dict(entity="client", system_a="crm", id_a=f"{n}", system_b="erp", id_b=f"t{n}", updated_at=now)
            for n in range(MANY)]
    rows[-1]["id_b"] = None  # NOT NULL: no upsert would take it either
    try:
        with pytest.raises(DBAPIError), store.engine.begin() as c:
            insert_new(c, table_of(KeyMap), rows, ["entity", "system_a", "id_a", "system_b"], ["id_b", "updated_at"])
        assert stored(store)[1] == {}
    finally:
        store.close()
