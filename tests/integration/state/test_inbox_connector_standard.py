"""The ``inbox`` source (events an ingress service committed) against the standard connector tests, with events
arriving between two runs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hub.connections import Connection
from hub.connector import Connector
from hub.inbox import InboxConnector
from hub.mapping.model import Incremental
from hub.settings import HubSettings
from hub.state import InboxItem, StateStore
from hub.testing.connector_kit import ChangesKit, SourceKit, StreamCase, StreamChange


def events(start: int, count: int) -> list[InboxItem]:
    return [InboxItem("calls", f"call-{n}", {"call": f"call-{n}", "number": f"+7916000{n:04d}"}, {"via": "test"})
            for n in range(start, start + count)]


class TestInboxSource(SourceKit, ChangesKit):
    fixed_streams = False  # any stream name is a stream: it exists before its first event

    @pytest.fixture
    def url(self, tmp_path: Path) -> str:
        url = f"sqlite:///{tmp_path / 'hub.db'}"
        store = StateStore(url)
        store.inbox_put_many(events(1, 7))
        store.inbox_put_many([InboxItem("forms", "f1", {"other": "stream"})])  # never read by this stream
        store.close()
        return url

    @pytest.fixture
    def connector_factory(self, url: str) -> Callable[[], Connector]:
        return lambda: InboxConnector(Connection(conn_id="hub", extra={"url": url}), HubSettings())

    @pytest.fixture
    def stream_case(self) -> StreamCase:
        return StreamCase("calls", key=("call",), rows=[{"call": f"call-{n}", "number": f"+7916000{n:04d}",
                                                         "meta": {"via": "test"}} for n in range(1, 8)],
                          incremental=Incremental(strategy="cursor", cursor="inbox_id"))

    @pytest.fixture
    def stream_change(self, url: str) -> StreamChange:
        def arrive() -> list[dict[str, Any]]:
            store = StateStore(url)
            store.inbox_put_many(events(8, 2))
            store.close()
            return [{"call": "call-8"}, {"call": "call-9"}]

        return arrive
