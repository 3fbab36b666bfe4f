"""A sweep's batch commits run beside the next batch (hub.runner.commits): whatever the order of the calls, a
lookup sees every batch handed in before it that holds one of its keys, a failed commit fails the run at the next
wait with nothing reported as done. On SQLite and MariaDB (no background commits) the same calls commit at once."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy.exc import DBAPIError

from hub.runner.commits import Commits
from hub.state.store import BatchCommit, Failure, PriorState, StateStore
from hub.testing.databases import postgres_schema


def batch(run_id: int, *keys: str) -> BatchCommit:
    return BatchCommit("clients", run_id, "v1", states={k: PriorState(f"hash {k}", None, f"t{k}") for k in keys})


@pytest.fixture
def store(state_url: str) -> Iterator[StateStore]:
    store = StateStore(state_url)
    yield store
    store.close()


def test_a_key_still_on_its_way_is_committed_before_it_is_looked_up(store: StateStore) -> None:
    run_id = store.start_run("clients", "apply", "v1")
    added: list[int] = []
    commits = Commits(store, added.append)

    commits.later(batch(run_id, "1", "2"))  # held until the next batch's lookup
    commits.before_lookup(["3", "4"])  # other keys: nothing forced
    assert store.prior_states("clients", ["3", "4"]) == {}
    commits.after_lookup()  # batch 1 goes to the commit thread
    commits.later(batch(run_id, "3", "4"))
    commits.before_lookup(["2", "5"])  # "2" is in flight: committed before the lookup
    assert store.prior_states("clients", ["2", "5"]) == {"2": PriorState("hash 2", None, "t2")}
    commits.after_lookup()
    commits.flush()

    assert set(store.prior_states("clients", ["1", "2", "3", "4"])) == {"1", "2", "3", "4"}
    assert added == [0, 0]  # told of each commit once it landed


@pytest.mark.postgres
def test_a_failed_background_commit_fails_at_the_next_wait() -> None:
    with postgres_schema("hub_state") as url:
        store = StateStore(url)
        try:
            assert store.commits_in_background
            run_id = store.start_run("clients", "apply", "v1")
            added: list[int] = []
            commits = Commits(store, added.append)
            too_long = "x" * 300  # a source key longer than the state's column: the server refuses the batch
            commits.later(batch(run_id, too_long, *map(str, range(200))))
            commits.after_lookup()  # handed over: the call returns before the server refused it
            # another thread using the store waits for the commit, but its failure is the run's to hear of
            other = threading.Thread(target=store.dead_letter_count, args=("clients",))
            other.start()
            other.join()
            with pytest.raises(DBAPIError, match="too long"):
                commits.flush()
            assert added == []
            assert store.prior_states("clients", [too_long]) == {}
        finally:
            store.close()


def test_dead_letters_added_by_a_background_commit_are_reported(store: StateStore) -> None:
    run_id = store.start_run("clients", "apply", "v1")
    added: list[int] = []
    commits = Commits(store, added.append)
    letters = batch(run_id)
    letters.failures = [Failure("9", {"id": 9}, "DataError", "bad inn")]
    commits.later(letters)
    commits.flush()
    assert added == [1] and store.dead_letter_count("clients") == 1
