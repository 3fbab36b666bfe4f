"""Python's cycle collector, tuned while runs are in progress.

A run makes millions of short-lived objects that hold no cycles (records, items, write actions). With the
default thresholds the collector starts every 700 new objects and, every so often, goes over every object the
process holds: 13% of a 100,000-row file load went to it (py-spy; the same run with the collector off was as
fast as with this tuning). During a run, the objects that existed before it (modules, the mapping, connectors)
are moved out of its reach (``gc.freeze``) and the youngest generation is collected every
:data:`YOUNG_THRESHOLD` new objects; cycles are still collected, only less often. The defaults come back when the
last run in the process ends (runs may overlap on threads: the thresholds are the process's).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: new objects between two collections of the youngest generation during a run (Python's default: 700)
YOUNG_THRESHOLD = 50_000


class _Tuning:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.runs = 0
        self.saved = gc.get_threshold()

    def enter(self) -> None:
        with self.lock:
            if self.runs == 0:
                self.saved = gc.get_threshold()
                gc.freeze()
                gc.set_threshold(max(YOUNG_THRESHOLD, self.saved[0]), *self.saved[1:])
            self.runs += 1

    def leave(self) -> None:
        with self.lock:
            self.runs -= 1
            if self.runs == 0:
                gc.set_threshold(*self.saved)
                gc.unfreeze()


_tuning = _Tuning()


@contextmanager
def fewer_collections() -> Iterator[None]:
    """The collector tuned for a run, while this run (or another one in the process) is in progress."""
    _tuning.enter()
    try:
        yield
    finally:
        _tuning.leave()
