"""The ``website`` source connector against the hub's standard connector tests: webhook submissions from the
inbox and a poll source's API items, every record exactly once, resumable from every saved checkpoint."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from connectors.website import WebsiteConnector
from connectors.website.config import WebsiteOptions
from hub.connections import Connection
from hub.connector import Connector
from hub.mapping.model import Incremental
from hub.settings import HubSettings
from hub.state.store import InboxItem, StateStore
from hub.testing.connector_kit import SourceKit, StreamCase
from sandbox.website_api import ShopApi, ShopApiServer

OPTIONS = WebsiteOptions.model_validate({"sources": {
    "tilda": {"format": "tilda", "connection": "website_tilda"},
    "shop": {"format": "plain", "mode": "poll", "connection": "website_shop",
             "poll": {"path": "/api/form-submissions", "cursor_field": "id", "cursor_param": "after_id",
                      "page_size": 2},
             "fields": {"name": ["customer/name"], "phone": ["customer/phone"], "submitted_at": ["created_at"]}}}})


class TestWebsiteSource(SourceKit):
    fixed_streams = False  # any inbox stream can be read, even before its first submission

    @pytest.fixture
    def hub_url(self, tmp_path: Path) -> Iterator[str]:
        url = f"sqlite:///{tmp_path / 'hub.db'}"
        store = StateStore(url)
        store.inbox_put_many([InboxItem("website", f"tilda:id:{n}", {
            "source": "tilda", "format": "tilda", "name": f"Вебхук {n}", "phone": f"+7916000000{n}",
            "submission_key": f"tilda:id:{n}", "answers": []}, {"via": "webhook", "client": "x"}) for n in range(5)])
        store.inbox_put_many([InboxItem("calls", "c1", {"other": "stream"})])  # never read by this stream
        store.close()
        yield url

    @pytest.fixture
    def connector_factory(self, hub_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], Connector]]:
        shop = ShopApi(token="shop-token")
        for n in range(4):
            shop.add(f"Магазин {n}", f"+7926000000{n}", None, "заказ", f"2025-03-03T0{n}:00:00Z")
        with ShopApiServer(shop) as server:
            monkeypatch.setenv("AIRFLOW_CONN_WEBSITE_SHOP", json.dumps(
                {"conn_type": "hub_website", "host": "127.0.0.1", "port": server.port, "password": "shop-token"}))
            yield lambda: WebsiteConnector(Connection(conn_id="hub", extra={"url": hub_url}), HubSettings())

    @pytest.fixture
    def stream_case(self) -> StreamCase:
        rows = [{"submission_key": f"tilda:id:{n}", "name": f"Вебхук {n}", "inbox_id": n + 1} for n in range(5)]
        rows += [{"submission_key": f"shop:id:{n + 1}", "name": f"Магазин {n}", "phone": f"+7926000000{n}",
                  "source": "shop", "inbox_id": None} for n in range(4)]
        return StreamCase(name="website", key=("submission_key",), rows=rows, options=OPTIONS,
                          incremental=Incremental(strategy="cursor", cursor="received_at"))

