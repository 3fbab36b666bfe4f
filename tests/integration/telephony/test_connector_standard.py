"""The telephony connectors against the hub's standard connector tests: ``telephony_callbacks`` (a source over
the inbox) reads every task exactly once and resumes from every saved checkpoint; ``telephony_ami`` (a target
against the AMI simulator) never places the same request twice and finds what it placed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from connectors.telephony.callbacks import CallbackOptions, CallbacksSource
from connectors.telephony.originate import AmiOriginateConnector, OriginateOptions
from hub.connections import Connection
from hub.connector import Connector
from hub.mapping.model import Incremental
from hub.settings import HubSettings
from hub.state.store import InboxItem, StateStore
from hub.testing.connector_kit import LookupKit, SourceKit, StreamCase, TargetCase, TargetKit
from sandbox.ami.server import SimulatorThread

START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def missed_call(n: int) -> dict[str, object]:
    started = START + dt.timedelta(minutes=n)
    return {"call_id": f"1772442000.{n}", "direction": "inbound", "disposition": "no_answer",
            "external_number": f"+7916000{n:04d}", "started_at": started,
            "ended_at": started + dt.timedelta(seconds=20), "extension": "101", "queue": None}


class TestCallbacksSource(SourceKit):
    fixed_streams = False  # any inbox stream of call records can be read, even before its first call

    @pytest.fixture
    def connector_factory(self, tmp_path: Path) -> Iterator[Callable[[], Connector]]:
        url = f"sqlite:///{tmp_path / 'hub.db'}"
        store = StateStore(url)
        store.inbox_put_many([InboxItem("calls", f"1772442000.{n}", missed_call(n)) for n in range(7)])
        store.inbox_put_many([InboxItem("website", "w1", {"other": "stream"})])  # never read by this stream
        store.close()
        yield lambda: CallbacksSource(Connection(conn_id="hub", extra={"url": url}), HubSettings())

    @pytest.fixture
    def stream_case(self) -> StreamCase:
        rows = [{"missed_call_id": f"1772442000.{n}", "phone": f"+7916000{n:04d}", "missed_count": 1,
                 "status": "open"} for n in range(7)]
        return StreamCase(name="calls", key=("missed_call_id",), rows=rows,
                          options=CallbackOptions(window_minutes=0),
                          incremental=Incremental(strategy="cursor", cursor="inbox_id"))


class TestOriginateTarget(TargetKit, LookupKit):
    @pytest.fixture
    def connector_factory(self, tmp_path: Path) -> Iterator[Callable[[], Connector]]:
        settings = HubSettings(database_url=f"sqlite:///{tmp_path / 'hub.db'}")
        with SimulatorThread() as sim:
            connection = Connection(conn_id="pbx", host="127.0.0.1", port=sim.port, login="hub",
                                    password=SecretStr("hubsecret"), extra={"cdr_timezone": "UTC"})
            yield lambda: AmiOriginateConnector(connection, settings)

    @pytest.fixture
    def target_case(self) -> TargetCase:
        return TargetCase(entity="originate", match=("request_id",),
                          make_record=lambda n: {"request_id": n, "extension": "101",
                                                 "number": f"+7495{n % 10**7:07d}"},
                          update_field="extension", update_value=lambda n: "102",
                          options=OriginateOptions(channel="Local/{extension}@hub-phones", context="hub-out"))
