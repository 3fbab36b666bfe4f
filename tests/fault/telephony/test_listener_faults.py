"""The AMI listener under the faults that make other Asterisk bridges lose calls: the listener process is
killed in the middle of hundreds of calls and started again; the hub database stalls while Asterisk keeps
sending. No call is lost, none is committed twice, and calls in flight keep what was known about them.
(Gaps in the stream, with calls only in the CDR, are tests/integration/telephony/test_calls_end_to_end.py.)"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from pydantic import SecretStr

from connectors.telephony.config import pbx_config
from connectors.telephony.listener import AmiListener
from connectors.telephony.recovery import CsvCdrSource
from hub.connections import Connection
from hub.settings import HubSettings
from hub.state.store import StateStore
from sandbox.ami.plan import EXPECTED_DISPOSITION, mixed_plan
from sandbox.ami.server import SimulatorProcess
from sandbox.ami.templates import build_template

RATE = 60  # calls a second
FAST = {"cdr_timezone": "UTC", "ping_interval": 0.5, "ping_timeout": 2.0, "reconnect_initial": 0.1,
        "reconnect_max": 1.0, "recovery_settle": 0.5, "recovery_slack": 10.0, "snapshot_interval": 0.2,
        "cdr_wait": 3.0, "lease_ttl": 3.0, "lease_renew_interval": 1.0}  # a restarted listener waits for the lease


def wait_for(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def inbox(store: StateStore) -> list[dict]:
    return [payload for _, payload, _, _ in store.inbox_read("calls", 0, 1_000_000)]


def start_listener(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as output:  # the child has its own copy of the file handle
        return subprocess.Popen([sys.executable, "-m", "hub.cli", "listen", "ami", "--connection", "pbx"], env=env,
                                stdout=output, stderr=subprocess.STDOUT)


def test_a_killed_listener_restarts_without_losing_or_repeating_a_call(tmp_path: Path) -> None:
    cdr = tmp_path / "Master.csv"
    database = f"sqlite:///{tmp_path / 'hub.db'}"
    log = tmp_path / "listener.log"
    with SimulatorProcess(cdr_path=cdr) as sim:
        env = {**os.environ, "HUB_DATABASE_URL": database, "HUB_HOME": str(tmp_path),
               "AIRFLOW_CONN_PBX": json.dumps({"conn_type": "hub_asterisk_ami", "host": "127.0.0.1",
                                               "port": sim.port, "login": "hub", "password": "hubsecret",
                                               "extra": {"cdr_csv": str(cdr), **FAST}})}
        first = start_listener(env, log)
        second = None
        try:
            wait_for(lambda: sim.stats()["listeners"] == 1, 30, "the listener to log in")
            plan = mixed_plan(300, seed=11)
            played_at = time.time()
            linkedids = sim.play(plan, rate=RATE)
            time.sleep(2.5)
            sim.pause()  # the calls wait for the new listener: this test is about state, not about gaps
            killed_at = time.time()
            first.send_signal(signal.SIGKILL)  # no goodbye, no flush: what a crash or an OOM kill does
            first.wait(10)
            second = start_listener(env, log)
            wait_for(lambda: sim.stats()["listeners"] == 1, 30, "the restarted listener to log in")
            sim.resume()
            sim.wait_played()
            store = StateStore(database)
            try:
                wait_for(lambda: len(inbox(store)) >= len(plan), 60, "every call in the inbox")
                time.sleep(1.0)
                records = {r["call_id"]: r for r in inbox(store)}
                assert len(inbox(store)) == len(plan) == len(records), "no call lost, none twice"
            finally:
                store.close()
        finally:
            for process in (first, second):
                if process is not None and process.poll() is None:
                    process.send_signal(signal.SIGTERM)
                    process.wait(30)
    assert second is not None and second.returncode == 0, log.read_text()[-2000:]
    expected = dict(zip(linkedids, plan, strict=True))
    assert set(records) == set(expected)
    assert all(records[cid]["disposition"] == EXPECTED_DISPOSITION[spec.kind] for cid, spec in expected.items())
    # calls in flight across the kill went on from the saved state: what their early events said is kept
    lengths = {kind: build_template(kind).length for kind in EXPECTED_DISPOSITION}
    starts = {cid: played_at + index / RATE for index, cid in enumerate(linkedids)}
    across = [records[cid] for cid, spec in expected.items()
              if starts[cid] < killed_at - 0.7 and starts[cid] + lengths[spec.kind] > killed_at + 0.2]
    assert len(across) >= 50, "the scenario must have calls in flight across the restart"
    assert Counter(r["evidence"] for r in across) == {"live": len(across)}
    recorded = [r for r in across if expected[r["call_id"]].recording and expected[r["call_id"]].kind == "answered"]
    assert recorded and all(r["recording"] for r in recorded), "MixMonitor was seen before the kill only"
    queued = [r for r in across if expected[r["call_id"]].kind.startswith("queue")]
    assert all(r["queue"] in ("sales", "support") for r in queued)


def test_a_stalled_hub_database_never_blocks_asterisk(tmp_path: Path) -> None:
    """The committer waits for a locked database; the reader keeps draining the socket, so Asterisk (which drops
    a session that stops reading) never drops the listener, and everything is committed once the lock goes."""
    database = tmp_path / "hub.db"
    store = StateStore(f"sqlite:///{database}")
    with SimulatorProcess(max_buffer=256 * 1024) as sim:
        connection = Connection(conn_id="pbx", host="127.0.0.1", port=sim.port, login="hub",
                                password=SecretStr("hubsecret"), extra=FAST)
        config = pbx_config(connection, HubSettings())
        listener = AmiListener(config, store, cdr_source=CsvCdrSource(tmp_path / "none.csv", config.zone))
        stop = threading.Event()
        thread = threading.Thread(target=listener.run, args=(stop,), daemon=True)
        thread.start()
        try:
            wait_for(listener.connected.is_set, 10, "the listener to connect")
            blocker = sqlite3.connect(database, timeout=30)
            blocker.execute("BEGIN EXCLUSIVE")  # another writer holds the database
            plan = mixed_plan(300, seed=12)
            linkedids = sim.play(plan, rate=100)
            sim.wait_played()
            time.sleep(1.0)
            assert len(listener.assembler.calls) + listener.stats.events > 0
            assert listener.stats.calls == 0, "nothing can be committed while the database is locked"
            blocker.rollback()
            blocker.close()
            wait_for(lambda: listener.stats.calls == len(plan), 60, "every call committed")
            assert sim.stats()["sessions_dropped"] == 0 and listener.stats.connects == 1
            assert {r["call_id"] for r in inbox(store)} == set(linkedids)
        finally:
            stop.set()
            thread.join(30)
            store.close()
