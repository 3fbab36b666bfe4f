"""A source read one batch ahead, on a thread of its own: the source database finds and sends the next batch
while the runner maps, writes and commits this one (for sources that say they can: ``Capabilities.read_ahead``).

Batches come out in order and the source's errors come out where the batch would have; a retried read resumes
after the last batch handed over, which the runner then still processes. When the runner stops early (a failure),
the thread is told to stop and waited for, so that no read outlives the run's connectors.
"""

from __future__ import annotations

import threading
from collections.abc import Generator, Iterator
from queue import Empty, Full, Queue
from typing import Any, TypeVar

from hub.logs import get_logger

log = get_logger("hub.runner")
T = TypeVar("T")
_END = object()  # the source has nothing more
#: how long a stopped run waits for a read in progress before it goes on (the read then ends on its own)
STOP_WAIT = 30.0


def read_ahead(batches: Iterator[T]) -> Generator[T, None, None]:
    """``batches``, each read while the one before it is processed."""
    handover: Queue[tuple[Any, BaseException | None]] = Queue(maxsize=1)
    stop = threading.Event()
    reader = threading.Thread(target=_pump, args=(batches, handover, stop), name="hub-read-ahead", daemon=True)
    reader.start()
    try:
        while True:
            batch, error = handover.get()
            if error is not None:
                raise error
            if batch is _END:
                return
            yield batch
    finally:
        stop.set()
        _drain(handover)  # a reader waiting to hand over a batch sees the stop at once
        reader.join(STOP_WAIT)
        if reader.is_alive():
            log.warning("the source's read-ahead is still reading after the run stopped", waited_seconds=STOP_WAIT)


def _pump(batches: Iterator[Any], handover: Queue[tuple[Any, BaseException | None]], stop: threading.Event) -> None:
    try:
        for batch in batches:
            if not _put(handover, (batch, None), stop):
                return
        _put(handover, (_END, None), stop)
    except BaseException as exc:  # handed to the runner's thread, which raises it
        _put(handover, (None, exc), stop)
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()  # a generator stopped early runs its cleanup here, on the thread that ran it


def _put(handover: Queue[tuple[Any, BaseException | None]], item: tuple[Any, BaseException | None],
         stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            handover.put(item, timeout=0.1)
            return True
        except Full:
            continue
    return False


def _drain(handover: Queue[tuple[Any, BaseException | None]]) -> None:
    try:
        while True:
            handover.get_nowait()
    except Empty:
        return
