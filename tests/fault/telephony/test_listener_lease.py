"""Two ``hub listen ami`` processes as an HA pair over one hub database (SQLite and PostgreSQL), under load
from the AMI simulator: one holds the lease and listens, the other stands by without logging in. The holder
is frozen past its lease (SIGSTOP; on SQLite killed, see below): the standby takes over, and the frozen one,
woken, writes nothing more. Then the new holder is killed (SIGKILL): the first takes over again and recovers
the gap. Every call ends up in the inbox exactly once, and the listeners' commits never interleave.
The takeover times are printed (``-s`` shows them); docs/telephony.md quotes them."""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.state.store import StateStore
from hub.testing.databases import postgres_schema
from sandbox.ami.plan import EXPECTED_DISPOSITION, mixed_plan
from sandbox.ami.server import SimulatorProcess

from .test_listener_faults import FAST, wait_for

LEASE = {name: FAST[name] for name in ("lease_ttl", "lease_renew_interval")}  # failover within 4 s (default 20)
RATE = 50  # calls a second
CALLS = 1000  # twice 10 s of load


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def hub_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'hub.db'}"
    else:
        with postgres_schema("hub_lease") as url:
            yield url


class ListenerProcess:
    def __init__(self, env: dict[str, str], log: Path):
        self.log = log
        with log.open("ab") as output:
            self.process = subprocess.Popen([sys.executable, "-m", "hub.cli", "listen", "ami", "--connection", "pbx"],
                                            env=env, stdout=output, stderr=subprocess.STDOUT)

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    @property
    def holder(self) -> str:
        found = re.search(r"listener (\S+) for PBX", self.text())
        assert found is not None, self.text()[-2000:]
        return found.group(1)

    def said(self, phrase: str, after: int = 0) -> bool:
        return phrase in self.text()[after:]

    def stop(self) -> int | None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(30)
        return self.process.returncode


def committed(database: str) -> list[tuple[int, dict[str, Any], dict[str, Any]]]:
    store = StateStore(database)
    try:
        return [(position, payload, meta or {}) for position, payload, meta, _ in
                store.inbox_read("calls", 0, 1_000_000)]
    finally:
        store.close()


def takeover(new: ListenerProcess, since: float, log_mark: int) -> float:
    """Seconds from the holder's end until ``new`` holds the lease and is logged in to the PBX."""
    wait_for(lambda: new.said("took the lease", log_mark) and new.said("connected", log_mark), 60,
             "the standby to take over")
    return time.monotonic() - since


def test_the_standby_takes_over_and_no_call_is_lost_or_doubled(hub_database: str, tmp_path: Path) -> None:
    cdr = tmp_path / "Master.csv"
    with SimulatorProcess(cdr_path=cdr) as sim:
        env = {**os.environ, "HUB_DATABASE_URL": hub_database, "HUB_HOME": str(tmp_path),
               "AIRFLOW_CONN_PBX": json.dumps({"conn_type": "hub_asterisk_ami", "host": "127.0.0.1",
                                               "port": sim.port, "login": "hub", "password": "hubsecret",
                                               "extra": {"cdr_csv": str(cdr), **FAST}})}
        first = ListenerProcess(env, tmp_path / "first.log")
        second: ListenerProcess | None = None
        holders: list[str] = []  # who held the lease, term by term
        freeze = not hub_database.startswith("sqlite")
        try:
            wait_for(lambda: sim.stats()["listeners"] == 1 and first.said("took the lease"), 30,
                     "the first listener to take the lease and log in")
            second = ListenerProcess(env, tmp_path / "second.log")
            wait_for(lambda: second.said("standing by"), 30, "the second listener to stand by")
            time.sleep(LEASE["lease_renew_interval"] * 2)  # a few of its attempts to take the lease
            assert sim.stats()["listeners"] == 1, "the standby is not logged in to the PBX"

            plan = mixed_plan(CALLS, seed=17)
            half = len(plan) // 2  # the second half is played before the second end: both are under load
            linkedids = sim.play(plan[:half], rate=RATE)
            time.sleep(4)

            # 1. the holder freezes past its lease (a paused VM): the standby takes over, and the holder, woken,
            #    writes nothing more and stands by. On SQLite a process frozen in the middle of a write holds the
            #    database's only write lock, so nobody could take over until it wakes: there it is killed instead.
            mark = len(second.text())
            holders.append(first.holder)
            first.process.send_signal(signal.SIGSTOP if freeze else signal.SIGKILL)
            first_end = time.monotonic()
            first_takeover = takeover(second, first_end, mark)
            if freeze:
                mark = len(first.text())
                first.process.send_signal(signal.SIGCONT)  # it wakes with its lease long gone
                wait_for(lambda: first.said("lost the lease", mark), 30, "the woken holder to notice")
            else:
                first.process.wait(10)
                first = ListenerProcess(env, tmp_path / "first-again.log")  # restarted: it stands by
            wait_for(lambda: first.said("standing by", mark if freeze else 0), 30, "the first listener to stand by")

            # 2. the new holder is killed under load: the first takes over again and recovers the gap
            linkedids += sim.play(plan[half:], rate=RATE)
            time.sleep(3)
            mark = len(first.text())
            second.process.send_signal(signal.SIGKILL)
            killed_at = time.monotonic()
            after_kill = takeover(first, killed_at, mark)
            second.process.wait(10)
            holders += [second.holder, first.holder]

            sim.wait_played()
            wait_for(lambda: len(committed(hub_database)) >= len(plan), 120, "every call in the inbox")
            time.sleep(2.0)  # anything committed twice would show now
            rows = committed(hub_database)
        finally:
            codes = [process.stop() for process in (first, second) if process is not None]

    how = "frozen past its lease" if freeze else "killed"
    print(f"\n{hub_database.split(':')[0]}: takeover after the holder was {how}: {first_takeover:.2f} s; after "
          f"SIGKILL of the next: {after_kill:.2f} s (lease_ttl {LEASE['lease_ttl']:g} s, renew every "
          f"{LEASE['lease_renew_interval']:g} s)")
    calls = {payload["call_id"]: payload for _, payload, _ in rows}
    assert len(rows) == len(calls) == len(plan), "no call lost, none twice"
    assert set(calls) == set(linkedids)
    assert all(calls[cid]["disposition"] == EXPECTED_DISPOSITION[spec.kind]
               for cid, spec in zip(linkedids, plan, strict=True))
    terms = [holder for holder, _ in itertools.groupby(meta.get("listener") for _, _, meta in rows)]
    assert terms == holders, "one listener wrote at a time, in turn: none wrote after losing its lease"
    assert codes[0] == 0, first.text()[-2000:]
