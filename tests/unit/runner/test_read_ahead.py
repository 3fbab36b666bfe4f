"""A source read a batch ahead (hub.runner.read_ahead): the batches in order, the next one read while this one is
processed, the source's error where its batch would have been, and a run that stops early stops the reading."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from hub.runner.read_ahead import read_ahead


def test_batches_come_in_order_and_the_next_is_read_meanwhile() -> None:
    read: list[int] = []

    def source() -> Iterator[int]:
        for n in range(5):
            read.append(n)
            yield n

    seen = []
    for batch in read_ahead(source()):
        deadline = time.monotonic() + 5
        while len(read) < min(batch + 2, 5) and time.monotonic() < deadline:
            time.sleep(0.001)  # the reader gets the next batch while this one is "processed"
        seen.append((batch, len(read)))
    assert [batch for batch, _ in seen] == [0, 1, 2, 3, 4]
    assert all(count >= min(batch + 2, 5) for batch, count in seen)  # batch + 1 was read while batch was processed


def test_the_sources_error_comes_where_its_batch_would_have() -> None:
    def source() -> Iterator[int]:
        yield 1
        raise ConnectionError("the server went away")

    got = []
    with pytest.raises(ConnectionError, match="went away"):
        for batch in read_ahead(source()):
            got.append(batch)
    assert got == [1]


def test_stopping_early_stops_the_reading_and_runs_the_sources_cleanup() -> None:
    closed = threading.Event()
    produced: list[int] = []

    def source() -> Iterator[int]:
        try:
            for n in range(1000):
                produced.append(n)
                yield n
        finally:
            closed.set()

    batches = read_ahead(source())
    assert next(batches) == 0
    batches.close()  # the runner failed after the first batch
    assert closed.is_set()  # cleaned up before close() returned: the thread was waited for
    assert len(produced) <= 3  # one batch handed over, at most one more read and one waiting
    assert not [t for t in threading.enumerate() if t.name == "hub-read-ahead"]
