"""Leases in the hub database: one holder at a time, taken over only after it expired, on every database."""

from __future__ import annotations

import multiprocessing
import time

from sqlalchemy import text

from hub.state.leases import Leases
from hub.state.store import StateStore


def test_a_lease_has_one_holder_until_it_is_released(state_url: str) -> None:
    store = StateStore(state_url)
    leases = Leases(store)
    assert leases.holder("run:x") is None
    assert leases.acquire("run:x", "host-a:1", 30)
    assert not leases.acquire("run:x", "host-b:2", 30)
    assert leases.holder("run:x").holder == "host-a:1"
    assert leases.acquire("run:x", "host-a:1", 30)  # the holder asking again keeps it
    assert not leases.renew("run:x", "host-b:2", 30)
    leases.release("run:x", "host-b:2")  # not the holder: nothing happens
    assert leases.holder("run:x").holder == "host-a:1"
    leases.release("run:x", "host-a:1")
    assert leases.holder("run:x") is None
    assert leases.acquire("run:x", "host-b:2", 30)
    assert leases.acquire("other", "host-a:1", 30)  # names are independent
    store.close()


def test_an_expired_lease_is_taken_over_and_its_old_holder_learns_it_lost_it(state_url: str) -> None:
    store = StateStore(state_url)
    leases = Leases(store)
    assert leases.acquire("ami-listener", "a", 0.5)
    assert not leases.acquire("ami-listener", "b", 0.5)
    while not leases.acquire("ami-listener", "b", 30):  # "a" stopped renewing (it died)
        time.sleep(0.05)
    assert leases.holder("ami-listener").holder == "b"
    assert not leases.renew("ami-listener", "a", 30)
    assert leases.renew("ami-listener", "b", 30)
    store.close()


def test_expiry_is_read_from_the_database_clock(state_url: str) -> None:
    store = StateStore(state_url)
    leases = Leases(store)
    leases.acquire("x", "a", 60)
    expires = leases.holder("x").expires_at
    with store.engine.connect() as c:
        now = _database_now(c)
    # the lease ends 60 s after the database's "now", whatever this process's clock says
    assert abs((expires - now).total_seconds() - 60) < 5
    store.close()


def _database_now(c):  # type: ignore[no-untyped-def]
    queries = {"postgresql": "SELECT timezone('UTC', clock_timestamp())", "sqlite":
               "SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')", "mysql": "SELECT UTC_TIMESTAMP(6)"}
    import datetime as dt
    value = c.execute(text(queries.get(c.dialect.name, queries["mysql"]))).scalar_one()
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else value


def _contend(url: str, me: str, rounds: int, inside, overlaps, taken) -> None:  # type: ignore[no-untyped-def]
    """One process: take the lease ``rounds`` times; while holding it, be the only one inside."""
    store = StateStore(url, migrate=False)
    leases = Leases(store)
    done = 0
    while done < rounds:
        if not leases.acquire("shared", me, 5):
            time.sleep(0.002)
            continue
        with inside.get_lock():
            inside.value += 1
            if inside.value > 1:
                overlaps.value += 1
        time.sleep(0.005)
        with inside.get_lock():
            inside.value -= 1
        with taken.get_lock():
            taken.value += 1
        leases.release("shared", me)
        done += 1
    store.close()


def test_processes_racing_for_a_lease_never_hold_it_together(state_url: str) -> None:
    StateStore(state_url).close()  # migrated once, before the race
    context = multiprocessing.get_context("spawn")
    inside, overlaps, taken = context.Value("i", 0), context.Value("i", 0), context.Value("i", 0)
    workers = [context.Process(target=_contend, args=(state_url, f"p{n}", 15, inside, overlaps, taken))
               for n in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert [w.exitcode for w in workers] == [0, 0, 0, 0]
    assert taken.value == 60
    assert overlaps.value == 0
