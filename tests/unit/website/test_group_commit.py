"""Group commit of intake submissions: every submission committed exactly once, many per transaction
under load, and a failing database turns into Unavailable (503), never a lost acknowledgement."""

from __future__ import annotations

import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import event, text

from connectors.website.committer import InboxCommitter, Unavailable
from hub.state.store import InboxItem, StateStore


@pytest.fixture
def store(tmp_path: Path) -> StateStore:
    state = StateStore(f"sqlite:///{tmp_path / 'hub.db'}")
    yield state
    state.close()


def item(key: str, *seen_as: str, stream: str = "website") -> InboxItem:
    return InboxItem(stream, key, {"source": "t", "n": key}, {"via": "test", "client": "x"}, seen_as)


def test_put_many_stores_each_key_once_in_order(store: StateStore) -> None:
    first = store.inbox_put_many([item("a"), item("b"), item("a"), item("c", "b"), item("a", stream="calls")])
    assert [stored.created for stored in first] == [True, True, False, False, True]
    assert first[2] == (first[0].id, False, "a") and first[3] == (first[1].id, False, "b")  # repeats: the stored one
    again = store.inbox_put_many([item("b"), item("d", "zz"), item("e", "a")])
    assert again[0] == (first[1].id, False, "b") and again[1].created and again[2] == (first[0].id, False, "a")
    events = store.inbox_read("website", 0, 100)
    assert [payload["n"] for _, payload, _, _ in events] == ["a", "b", "d"]


def test_two_writers_racing_on_the_same_keys_store_each_once(tmp_path: Path) -> None:
    stores = [StateStore(f"sqlite:///{tmp_path / 'hub.db'}") for _ in range(2)]
    keys = [f"k{i}" for i in range(60)]
    try:
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(
                lambda n: stores[n % 2].inbox_put_many([item(k) for k in keys[n::2] + keys[:10]]), range(8)))
        ids: dict[str, set[int]] = {}
        for batch, n in zip(results, range(8), strict=True):
            for key, stored in zip(keys[n::2] + keys[:10], batch, strict=True):
                ids.setdefault(key, set()).add(stored.id)
        assert all(len(found) == 1 for found in ids.values())
        assert len(stores[0].inbox_read("website", 0, 1000)) == len(keys)
    finally:
        for s in stores:
            s.close()


def test_committer_groups_submissions_that_arrive_during_a_commit(store: StateStore, tmp_path: Path) -> None:
    commits = []
    event.listen(store.engine, "commit", lambda conn: commits.append(1))
    blocker = sqlite3.connect(tmp_path / "hub.db", timeout=30, check_same_thread=False)
    blocker.execute("BEGIN IMMEDIATE")  # the first commit waits for this lock while the others queue
    committer = InboxCommitter(store)
    futures = [committer.submit(item(f"s{i}")) for i in range(50)]
    release = threading.Timer(0.3, blocker.rollback)
    release.start()
    results = [f.result(timeout=30) for f in futures]
    committer.close()
    release.join()
    blocker.close()
    assert sorted(stored.id for stored in results) == list(range(1, 51))
    assert all(stored.created for stored in results)
    assert len(commits) < 50  # many submissions per transaction


def test_committer_answers_unavailable_when_the_database_fails(store: StateStore) -> None:
    committed: list[InboxItem] = []
    committer = InboxCommitter(store, on_committed=committed.extend)
    assert committer.submit(item("ok")).result(timeout=10) == (1, True, "ok")
    with store.engine.begin() as c:
        c.execute(text("ALTER TABLE hub_inbox RENAME TO hub_inbox_away"))
    failed = [committer.submit(item(f"x{i}")) for i in range(3)]
    for future in failed:
        with pytest.raises(Unavailable):
            future.result(timeout=10)
    with store.engine.begin() as c:
        c.execute(text("ALTER TABLE hub_inbox_away RENAME TO hub_inbox"))
    assert committer.submit(item("x0")).result(timeout=10).created  # the sender's retry is stored
    committer.close()
    assert [i.dedup_key for i in committed] == ["ok", "x0"]


def test_a_request_that_gave_up_waiting_does_not_stop_the_committer(store: StateStore, tmp_path: Path) -> None:
    """The intake stops waiting for a slow commit (it answers 503 and cancels the request's future): the committer
    goes on serving everyone else; the cancelled submission is stored only if its commit had already begun."""
    blocker = sqlite3.connect(tmp_path / "hub.db", timeout=30, check_same_thread=False)
    blocker.execute("BEGIN IMMEDIATE")  # the first commit waits for this lock
    committer = InboxCommitter(store)
    first = committer.submit(item("first"))
    gave_up = committer.submit(item("gave-up"))
    cancelled = gave_up.cancel()  # what asyncio.wait_for does to the request's future when it times out
    blocker.rollback()
    blocker.close()
    assert committer.submit(item("after")).result(timeout=10).created
    committer.close()
    assert first.result(timeout=10).created
    stored = [payload["n"] for _, payload, _, _ in store.inbox_read("website", 0, 10)]
    assert stored == (["first", "after"] if cancelled else ["first", "gave-up", "after"])
