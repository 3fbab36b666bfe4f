"""The cycle collector during runs (hub.runner.collector): tuned while any run is in progress, as it was once the
last one ends, and cycles made during a run are still collected."""

from __future__ import annotations

import gc
import threading
import weakref

from hub.runner.collector import YOUNG_THRESHOLD, fewer_collections


class Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the collector frees it


def test_a_run_collects_less_often_and_the_defaults_come_back() -> None:
    before, frozen = gc.get_threshold(), gc.get_freeze_count()
    with fewer_collections():
        assert gc.get_threshold()[0] == max(YOUNG_THRESHOLD, before[0])
        assert gc.get_threshold()[1:] == before[1:]
        assert gc.get_freeze_count() > frozen  # what existed before the run is out of the collector's reach
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == frozen


def test_overlapping_runs_keep_the_tuning_until_the_last_one_ends() -> None:
    before = gc.get_threshold()
    first_in, second_out, first_out = threading.Event(), threading.Event(), threading.Event()

    def first_run() -> None:
        with fewer_collections():
            first_in.set()
            second_out.wait(5)
        first_out.set()

    runner = threading.Thread(target=first_run)
    runner.start()
    first_in.wait(5)
    with fewer_collections():
        pass
    second_out.set()
    assert gc.get_threshold()[0] == max(YOUNG_THRESHOLD, before[0])  # the first run is still in progress
    first_out.wait(5)
    runner.join(5)
    assert gc.get_threshold() == before


def test_cycles_made_during_a_run_are_still_collected() -> None:
    with fewer_collections():
        cycle = weakref.ref(Node())
        garbage = [[n] for n in range(3 * YOUNG_THRESHOLD)]  # allocations enough for the young generation's turn
        del garbage
        assert cycle() is None
