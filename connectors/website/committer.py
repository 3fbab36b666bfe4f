"""Durable inbox commits for the intake, grouped: one transaction for every submission that arrived while
the previous transaction was being written (group commit).

A request waits for its submission's commit before it is answered, so an acknowledged submission is on
disk. Under load, many requests share one fsync; alone, a request is committed at once (no added
latency). A failing group is retried one by one, so one bad row cannot fail its neighbours; a
submission whose commit fails gets :class:`Unavailable` (the intake answers 503 and the sender retries),
and one whose request gave up waiting (its future was cancelled) is not committed at all.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future

from hub.logs import get_logger
from hub.state import InboxItem, StateStore, Stored

log = get_logger("hub.website.committer")
Committed = Callable[[list[InboxItem]], None]


class Unavailable(Exception):
    """The hub database did not take the submission; nothing is acknowledged."""


class InboxCommitter:
    def __init__(self, store: StateStore, *, max_group: int = 512, on_committed: Committed | None = None):
        self._store = store
        self._max_group = max_group
        self._on_committed = on_committed
        self._queue: queue.SimpleQueue[tuple[InboxItem, Future[Stored]] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="inbox-committer", daemon=True)
        self._thread.start()

    def submit(self, item: InboxItem) -> Future[Stored]:
        """Queue a submission; the future says where it is stored once it is committed."""
        future: Future[Stored] = Future()
        self._queue.put((item, future))
        return future

    def close(self, timeout: float = 10.0) -> None:
        """Commit what is queued, then stop."""
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                return
            group = [first]
            while len(group) < self._max_group:
                try:
                    entry = self._queue.get_nowait()
                except queue.Empty:
                    break
                if entry is None:
                    stopping = True
                    break
                group.append(entry)
            # a request that stopped waiting (its commit timed out: it was answered 503) cancelled its future;
            # it is not committed, and the others' futures can no longer be cancelled once their commit starts
            group = [(item, future) for item, future in group if future.set_running_or_notify_cancel()]
            if group:
                self._commit(group)

    def _commit(self, group: list[tuple[InboxItem, Future[Stored]]]) -> None:
        try:
            results = self._store.inbox_put_many([item for item, _ in group])
        except Exception as exc:
            if len(group) > 1:
                for entry in group:
                    self._commit([entry])
                return
            log.error("inbox commit failed", stream=group[0][0].stream, error=type(exc).__name__,
                      detail=str(exc)[:300])
            group[0][1].set_exception(Unavailable("the hub database is not available"))
            return
        for (_, future), result in zip(group, results, strict=True):
            future.set_result(result)
        created = [item for (item, _), result in zip(group, results, strict=True) if result.created]
        if created and self._on_committed is not None:
            self._on_committed(created)
