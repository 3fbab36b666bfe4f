"""A PBX -> hub -> CRM setup for the telephony tests: the AMI simulator on a free port (writing its own
Master.csv), the AMI listener in a thread, the hub with the repository's telephony mappings (callback window
set to 0 minutes so tasks are due at once), and an empty reference CRM on SQLite (or Firebird) with five
managers (extensions 101-105).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from connectors.crm_db.engine import normalize_url
from connectors.telephony.config import pbx_config
from connectors.telephony.listener import AmiListener
from connectors.telephony.recovery import CsvCdrSource
from hub.app import Hub
from hub.connections import ConnectionResolver, parse_airflow_value
from hub.settings import HubSettings, RetryPolicy
from hub.state.store import StateStore
from hub.testing.databases import firebird_database
from sandbox.ami.server import SimulatorProcess
from sandbox.crm import create_schema

ROOT = Path(__file__).resolve().parents[3]
MAPPINGS = ("calls_to_crm", "missed_calls_to_tasks", "click_to_call", "click_to_call_outcome", "click_to_call_calls")
#: fast reflexes for tests: the defaults suit a real PBX
FAST = {"cdr_timezone": "UTC", "ping_interval": 0.5, "ping_timeout": 2.0, "reconnect_initial": 0.1,
        "reconnect_max": 1.0, "recovery_settle": 0.5, "recovery_slack": 10.0, "snapshot_interval": 0.2,
        "cdr_wait": 3.0}


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@dataclass
class RecordingWaker:
    """Stands in for Airflow: remembers which assets the listener woke."""

    woken: list[str] = field(default_factory=list)

    def wake(self, asset_uri: str) -> None:
        self.woken.append(asset_uri)


@dataclass
class Pbx:
    sim: SimulatorProcess
    store: StateStore
    hub: Hub
    crm: sa.Engine
    connection_value: str
    cdr: Path
    env: dict[str, str]  # the connections the hub resolves (AIRFLOW_CONN_*): a test may repoint one
    listeners: list[tuple[AmiListener, threading.Event, threading.Thread]] = field(default_factory=list)
    waker: RecordingWaker = field(default_factory=lambda: RecordingWaker())

    def listen(self, **extra: Any) -> AmiListener:
        connection = parse_airflow_value("pbx", self.connection_value)
        config = pbx_config(connection.model_copy(update={"extra": {**connection.extra, **extra}}),
                            self.hub.settings)
        listener = AmiListener(config, self.store, waker=self.waker,
                               cdr_source=CsvCdrSource(self.cdr, config.zone))
        stop = threading.Event()
        thread = threading.Thread(target=listener.run, args=(stop,), daemon=True)
        thread.start()
        self.listeners.append((listener, stop, thread))
        wait_for(listener.connected.is_set, 10, "the listener to connect")
        return listener

    def stop_listeners(self) -> None:
        for _, stop, thread in self.listeners:
            stop.set()
            thread.join(30)
        self.listeners.clear()

    def inbox(self, stream: str = "calls") -> list[dict[str, Any]]:
        return [payload for _, payload, _, _ in self.store.inbox_read(stream, 0, 1_000_000)]

    def wait_inbox(self, count: int, timeout: float = 90.0, stream: str = "calls") -> list[dict[str, Any]]:
        wait_for(lambda: len(self.inbox(stream)) >= count, timeout, f"{count} records in the inbox {stream!r}")
        return self.inbox(stream)

    def rows(self, table: str, **where: Any) -> list[dict[str, Any]]:
        meta = sa.Table(table, sa.MetaData(), autoload_with=self.crm)
        query = sa.select(meta).where(*(meta.c[k] == v for k, v in where.items())).order_by(meta.c.id)
        with self.crm.connect() as conn:
            return [dict(row) for row in conn.execute(query).mappings()]

    def insert(self, table: str, rows: list[dict[str, Any]]) -> None:
        meta = sa.Table(table, sa.MetaData(), autoload_with=self.crm)
        with self.crm.begin() as conn:
            conn.execute(meta.insert(), rows)


@pytest.fixture
def pbx(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Pbx]:
    """The setup with its CRM on SQLite; ``@pytest.mark.parametrize("pbx", ["firebird"], indirect=True)`` puts
    the CRM in a throwaway database of the real Firebird instead."""
    if getattr(request, "param", "sqlite") == "firebird":
        with firebird_database("crm_calls") as crm_url:
            yield from _pbx(tmp_path, crm_url)
    else:
        yield from _pbx(tmp_path, f"sqlite:///{tmp_path / 'crm.db'}")


def _pbx(tmp_path: Path, crm_url: str) -> Iterator[Pbx]:
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    for name in MAPPINGS:
        text = (ROOT / "mappings" / f"{name}.yaml").read_text(encoding="utf-8")
        (mappings / f"{name}.yaml").write_text(text.replace("window_minutes: 10", "window_minutes: 0"),
                                              encoding="utf-8")
    managers = create_schema(crm_url).tables["managers"]
    crm = sa.create_engine(normalize_url(crm_url))
    with crm.begin() as conn:
        conn.execute(managers.insert(), [{"id": i, "full_name": f"Менеджер {i}", "extension": f"{100 + i}",
                                          "active": True, "updated_at": dt.datetime(2025, 1, 1)} for i in range(1, 6)])
    cdr = tmp_path / "Master.csv"
    settings = HubSettings(home=tmp_path, database_url=f"sqlite:///{tmp_path / 'hub.db'}", mappings_dir=mappings,
                           timezone="UTC", retry=RetryPolicy(attempts=2, initial_wait=0, max_wait=0))
    with SimulatorProcess(cdr_path=cdr) as sim:
        value = json.dumps({"conn_type": "hub_asterisk_ami", "host": "127.0.0.1", "port": sim.port, "login": "hub",
                            "password": "hubsecret", "extra": {"cdr_csv": str(cdr), **FAST}})
        env = {"AIRFLOW_CONN_PBX": value,
               "AIRFLOW_CONN_CRM": json.dumps({"conn_type": "hub_crm_db", "extra": {"url": crm_url}})}
        hub = Hub(settings, ConnectionResolver(env=env))
        setup = Pbx(sim, hub.store, hub, crm, value, cdr, env)
        try:
            yield setup
        finally:
            setup.stop_listeners()
            hub.close()
            crm.dispose()
