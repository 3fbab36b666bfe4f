"""The inbox is read in commit order: a reader following a stream that several processes write to at once
(intake replicas, an AMI listener pair) reads every committed event exactly once, on every database."""

from __future__ import annotations

import multiprocessing
import random
import time

import sqlalchemy as sa
from alembic import command

from hub.state.migrate import alembic_config
from hub.state.store import InboxItem, StateStore


def _write(url: str, writer: int, groups: int, group_size: int) -> None:
    store = StateStore(url, migrate=False)
    # a busy server: some time passes between a transaction's inserts and its commit (the fsync, the network),
    # so that another writer's later inserts can commit first
    delays = random.Random(writer)
    sa.event.listen(store.engine, "commit", lambda _connection: time.sleep(delays.random() * 0.004))
    for group in range(groups):
        store.inbox_put_many([InboxItem("forms", f"w{writer}-{group}-{n}", {"writer": writer, "n": n})
                              for n in range(group_size)])
    store.close()


def test_a_reader_following_concurrent_writers_misses_nothing_and_reads_nothing_twice(state_url: str) -> None:
    store = StateStore(state_url)
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_write, args=(state_url, w, 60, 7)) for w in range(4)]
    for writer in writers:
        writer.start()
    seen: list[str] = []
    after = 0
    while True:  # like a run in a loop: read what is there, checkpoint on the last position read
        writing = any(w.is_alive() for w in writers)
        events = store.inbox_read("forms", after, 50)
        seen.extend(f"{p['writer']}-{p['n']}-{position}" for position, p, _, _ in events)
        if events:
            after = events[-1][0]
        elif not writing:
            break
        else:
            time.sleep(0.001)
    assert [w.exitcode for w in writers] == [0, 0, 0, 0]
    with store.engine.connect() as c:
        stored = c.execute(sa.text("SELECT count(*) FROM hub_inbox WHERE stream = 'forms'")).scalar_one()
    assert stored == 4 * 60 * 7
    assert len(seen) == stored  # every committed event read ...
    assert len(set(seen)) == stored  # ... once
    store.close()


def test_streams_have_their_own_positions_and_a_repeat_takes_none(state_url: str) -> None:
    store = StateStore(state_url)
    store.inbox_put_many([InboxItem("calls", "c1", {"n": 1}), InboxItem("forms", "f1", {"n": 1}),
                          InboxItem("calls", "c2", {"n": 2})])
    store.inbox_put_many([InboxItem("calls", "c2", {"n": 2}), InboxItem("calls", "c3", {"n": 3})])
    assert [(position, p["n"]) for position, p, _, _ in store.inbox_read("calls", 0, 10)] == [(1, 1), (2, 2), (3, 3)]
    assert [position for position, *_ in store.inbox_read("forms", 0, 10)] == [1]
    assert [p["n"] for _, p, _, _ in store.inbox_read("calls", 2, 10)] == [3]
    store.close()


def test_events_stored_before_the_upgrade_keep_their_ids_as_positions(state_url: str) -> None:
    engine = sa.create_engine(state_url)
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0003")
    with engine.begin() as c:
        for n, stream in enumerate(["forms", "calls", "forms"], start=1):
            c.execute(sa.text("INSERT INTO hub_inbox (stream, dedup_key, payload, received_at) "
                              "VALUES (:s, :k, :p, '2026-01-01 00:00:00')"), {"s": stream, "k": f"k{n}", "p": "{}"})
    engine.dispose()
    store = StateStore(state_url)  # upgrades
    assert [position for position, *_ in store.inbox_read("forms", 0, 10)] == [1, 3]
    assert [position for position, *_ in store.inbox_read("forms", 1, 10)] == [3]  # an old checkpoint still fits
    store.inbox_put_many([InboxItem("forms", "new", {})])
    assert [position for position, *_ in store.inbox_read("forms", 3, 10)] == [4]
    store.close()
