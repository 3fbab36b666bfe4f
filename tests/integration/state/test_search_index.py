"""The search index in each supported hub database: written with a batch's state in its transaction, one row
per value and record (a later write points it at the later run), pruned by age."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from hub.state.store import BatchCommit, PriorState, StateStore


def commit(store: StateStore, run_id: int, rows: list[tuple[str, str, str, str | None]]) -> None:
    store.commit_batch(BatchCommit("website_leads", run_id, "v1", states={"tilda:id:1": PriorState("h", None, "42")},
                                   search=rows))


def test_values_are_written_with_the_batch_refreshed_by_later_runs_and_pruned_by_age(state_url: str) -> None:
    store = StateStore(state_url)
    try:
        first = store.start_run("website_leads", "apply", "v1")
        row = ("tilda:id:1", "phone", "+74951234567", "42")
        commit(store, first, [row, ("tilda:id:1", "email", "a@b.ru", "42")])
        second = store.start_run("website_leads", "apply", "v1")
        commit(store, second, [row])
        found = store.search_by_value([("phone", "+74951234567"), ("email", "a@b.ru")])
        assert sorted((e.kind, e.run_id) for e in found) == [("email", first), ("phone", second)]
        assert {(e.exchange, e.source_key, e.target_key) for e in found} == {("website_leads", "tilda:id:1", "42")}
        assert len(store.search_of_records([("website_leads", "tilda:id:1")])) == 2

        with store.engine.begin() as c:
            c.execute(sa.text("UPDATE hub_search_index SET at = :old WHERE kind = 'email'"),
                      {"old": dt.datetime(2020, 1, 1)})
        assert store.prune_search_index(90) == 1
        assert [e.kind for e in store.search_by_value([("phone", "+74951234567"), ("email", "a@b.ru")])] == ["phone"]
    finally:
        store.close()
