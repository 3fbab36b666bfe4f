"""Runs whose process is gone: a killed run must not stay "running" in the run log for ever.

A run that ends, fails or is stopped by a signal records its end itself. One killed outright (SIGKILL, the
host lost power) cannot, so the next run of the same exchange does it, marking the run *interrupted*:

* every other ``running`` apply or replay run of the exchange, once the new run holds the exchange's run
  lock (:mod:`hub.state.runlock`): had its process been alive, it would still hold the lock;
* any ``running`` run of the exchange, plans included, that this host started from a process that no longer
  exists (the run log records the host and the process id of each run).
"""

from __future__ import annotations

import os
import socket
from typing import Any, get_args

from sqlalchemy import Row, select, update

from hub.state.models import Run, RunMode
from hub.state.store import StateStore

#: the modes that write, and so run under the exchange's run lock (a plan writes nothing)
LOCKED_MODES: tuple[RunMode, ...] = tuple(mode for mode in get_args(RunMode) if mode != "plan")


def running_holder(store: StateStore, exchange: str) -> Row[Any] | None:
    """The latest apply/replay run of ``exchange`` still marked running (a ``hub_runs`` row, its columns as
    attributes): who holds its run lock."""
    with store.engine.connect() as c:
        return c.execute(select(Run).where(Run.exchange == exchange, Run.status == "running",
                                           Run.mode.in_(LOCKED_MODES)).order_by(Run.id.desc()).limit(1)).first()


def mark_interrupted(store: StateStore, exchange: str, current_run: int, holds_lock: bool) -> list[int]:
    """Mark the exchange's runs whose process is gone as interrupted; returns their ids."""
    with store.engine.connect() as c:
        running = c.execute(select(Run.id, Run.mode, Run.host, Run.pid).where(
            Run.exchange == exchange, Run.status == "running", Run.id != current_run)).all()
    here = socket.gethostname()
    dead = [run_id for run_id, mode, host, pid in running
            if (holds_lock and mode in LOCKED_MODES) or (host == here and pid is not None and not process_alive(pid))]
    if dead:
        with store.engine.begin() as c:
            c.execute(update(Run).where(Run.id.in_(dead), Run.status == "running").values(
                status="interrupted",  # no finished_at: when the process died is not known
                message=f"interrupted: its process ended before the run did (found by run {current_run})"))
    return dead


def process_alive(pid: int) -> bool:
    """Whether a process with this id exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    return True


__all__ = ["LOCKED_MODES", "mark_interrupted", "process_alive", "running_holder"]
