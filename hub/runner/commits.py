"""The order of a sweep's batch commits, so that the hub and the database server work at the same time.

Taking turns, a first load of 100,000 rows kept one of two cores busy: the hub mapped a batch while the server
waited, then the server stored the batch's state while the hub waited. Here a batch's commit goes to the state
store's commit thread (:meth:`StateStore.commit_in_background`) and runs while the hub maps and writes the next
batch. It is handed over only once the next batch's prior states are read: that lookup beside a commit into
the same index took ten times as long. A record whose key is still on its way to the store (the same key read
again in the next batch) has its batch committed first, so that the lookup sees it.

A kill loses at most the state of the two batches not committed yet: their writes are in the ledger and the
target, and the next run settles them as it does after any kill.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from hub.state.store import BatchCommit, StateStore


class Commits:
    def __init__(self, store: StateStore, done: Callable[[int], None]):
        self.store = store
        self.done = done  # told the number of dead letters each commit added, in the run's thread
        self.held: BatchCommit | None = None  # the last batch's commit, until the next batch's lookups are done
        self.on_the_way: set[str] = set()  # source keys in the held commit and the one in flight

    def now(self, commit: BatchCommit) -> None:
        """Commit after everything handed in before, and wait for it."""
        self.flush()
        self.done(self.store.commit_batch(commit))

    def later(self, commit: BatchCommit) -> None:
        """Commit once the next batch's prior states are read (:meth:`after_lookup`), or at :meth:`flush`."""
        if not self.store.commits_in_background:
            self.now(commit)
            return
        self.after_lookup()  # a batch held before: only if no lookup came between (it goes first)
        self.held = commit
        self.on_the_way.update(commit.states, commit.forget)

    def before_lookup(self, keys: Iterable[str]) -> None:
        """Before prior states of ``keys`` are read: one of them still on its way is committed first."""
        if self.on_the_way and not self.on_the_way.isdisjoint(keys):
            self.flush()

    def after_lookup(self) -> None:
        """Hand the held commit to the store's commit thread."""
        if self.held is None:
            return
        commit, self.held = self.held, None
        self.store.commit_in_background(commit, self.done)  # waits for the one in flight first
        self.on_the_way = set(commit.states) | set(commit.forget)

    def flush(self) -> None:
        """Every commit handed in has landed when this returns (or raised what failed)."""
        self.store.wait_for_commit()
        if self.held is not None:
            commit, self.held = self.held, None
            self.done(self.store.commit_batch(commit))
        self.on_the_way = set()
