"""The hub database goes away (PostgreSQL behind a proxy that is cut): the intake answers 503 with
Retry-After, acknowledges nothing, stays up, and stores the sender's retry once the database is back."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from connectors.website.server import IntakeService
from hub.app import Hub
from hub.settings import HubSettings
from hub.testing.databases import postgres_schema
from hub.testing.network import free_port
from hub.wakeup import NullWaker
from sandbox.website import Person, WebsiteSimulator, tilda

pytestmark = pytest.mark.postgres
ROOT = Path(__file__).resolve().parents[3]


class TcpProxy:
    """Forwards a local port to PostgreSQL; ``cut()`` drops every connection and refuses new ones."""

    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self.port = free_port()
        self._sockets: list[socket.socket] = []
        self._listener: socket.socket | None = None

    def up(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()

    def cut(self) -> None:
        assert self._listener is not None
        for sock in [self._listener, *self._sockets]:  # shutdown first: it also wakes the blocked accept()
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self._sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            self._sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=_pump, args=(a, b), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)


@pytest.fixture
def proxied_hub(tmp_path: Path) -> Iterator[tuple[Hub, TcpProxy]]:
    with postgres_schema("hub_down") as url, pytest.MonkeyPatch.context() as env:
        proxy = TcpProxy(("127.0.0.1", 5432))
        proxy.up()
        for source in ("tilda", "cf7", "elementor", "gravity", "wpforms", "bitrix", "yandex_forms", "marquiz",
                       "google_forms", "landing", "shop_api"):
            env.setenv(f"AIRFLOW_CONN_WEBSITE_{source.upper()}", json.dumps({"password": f"k-{source}"}))
        hub = Hub(HubSettings(home=tmp_path, mappings_dir=ROOT / "mappings",
                              database_url=url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")))
        yield hub, proxy
        hub.close()
        proxy.cut()


def test_database_down_means_503_and_the_retry_is_stored_once(proxied_hub: tuple[Hub, TcpProxy]) -> None:
    hub, proxy = proxied_hub
    with IntakeService(hub, ["website_leads"], waker=NullWaker()) as intake, \
            WebsiteSimulator(intake.url, {"tilda": "k-tilda"}) as site:
        assert site.send(tilda(Person("До сбоя", "+79160000001", None), 1)).status_code == 200
        proxy.cut()
        during = tilda(Person("Во время сбоя", "+79160000002", None), 2)
        refused = site.send(during)
        assert refused.status_code == 503 and refused.headers["retry-after"]
        assert refused.json()["error"]["code"] == "unavailable"
        assert httpx.get(intake.url + "/health").status_code == 503
        proxy.up()
        retried = site.send(during)
        assert (retried.status_code, retried.json()["status"]) == (200, "accepted")
        assert site.send(during).json()["status"] == "duplicate"
    events = hub.store.inbox_read("website", 0, 10)
    assert [payload["name"] for _, payload, _, _ in events] == ["До сбоя", "Во время сбоя"]
