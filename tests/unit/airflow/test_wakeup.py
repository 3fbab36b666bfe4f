"""AirflowRestWaker: wake-ups never block or fail the ingress service that calls them, and piled-up wake-ups of
one asset become one asset event.

The peer here is a small HTTP server answering the three endpoints the waker uses with the shapes of Airflow's
REST API v2; tests/system/airflow wakes a real Airflow the same way.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from airflow_hub.wakeup import AirflowRestWaker
from hub.errors import ConfigError
from hub.wakeup import NullWaker, inbox_asset, waker_from_env

ASSETS = {"hub://inbox/website": 7, "hub://inbox/calls": 8}


@dataclass
class FakeAirflow:
    """Records what the waker asked; can hold the first request, or refuse one token as expired."""

    logins: int = 0
    lookups: list[str] = field(default_factory=list)
    events: list[int] = field(default_factory=list)
    first_request: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    expire_next_token: bool = False
    valid_tokens: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.release.set()


@pytest.fixture
def airflow() -> Iterator[tuple[FakeAirflow, str]]:
    state = FakeAirflow()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            return

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> dict[str, Any]:
            return json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")

        def _authorized(self) -> bool:
            return self.headers.get("Authorization", "").removeprefix("Bearer ") in state.valid_tokens

        def do_POST(self) -> None:
            state.first_request.set()
            state.release.wait(10)
            path = urlsplit(self.path).path
            if path == "/auth/token":
                body = self._body()
                if (body.get("username"), body.get("password")) != ("hub", "s3cret"):
                    return self._reply(401, {"detail": "Invalid credentials"})
                state.logins += 1
                token = f"token-{state.logins}"
                if not state.expire_next_token:
                    state.valid_tokens.add(token)
                state.expire_next_token = False
                return self._reply(201, {"access_token": token})
            if path == "/api/v2/assets/events":
                if not self._authorized():
                    return self._reply(401, {"detail": "Token expired"})
                state.events.append(self._body()["asset_id"])
                return self._reply(200, {"id": len(state.events), "asset_id": state.events[-1]})
            self._reply(404, {"detail": "Not Found"})

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path != "/api/v2/assets" or not self._authorized():
                return self._reply(401 if parts.path == "/api/v2/assets" else 404, {"detail": "no"})
            pattern = parse_qs(parts.query)["uri_pattern"][0]
            state.lookups.append(pattern)
            found = [{"id": i, "uri": uri, "name": uri} for uri, i in ASSETS.items() if pattern in uri]
            self._reply(200, {"assets": found, "total_entries": len(found)})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}"
    state.release.set()
    server.shutdown()
    server.server_close()


def make_waker(url: str) -> AirflowRestWaker:
    return AirflowRestWaker.from_env({"HUB_AIRFLOW_URL": url, "HUB_AIRFLOW_USER": "hub",
                                      "HUB_AIRFLOW_PASSWORD": "s3cret"})


def test_a_wake_up_creates_an_asset_event_for_the_inbox_stream(airflow: tuple[FakeAirflow, str]) -> None:
    state, url = airflow
    waker = make_waker(url)
    waker.wake(inbox_asset("website"))
    waker.wake(inbox_asset("calls"))
    waker.close()
    waker = make_waker(url)
    waker.wake(inbox_asset("website"))
    waker.close()

    assert state.events == [7, 8, 7]
    assert state.logins == 2  # one per waker: the token is kept


def test_wake_returns_while_airflow_has_not_answered_yet(airflow: tuple[FakeAirflow, str]) -> None:
    state, url = airflow
    state.release.clear()  # the server holds every request
    waker = make_waker(url)

    waker.wake(inbox_asset("website"))
    assert state.first_request.wait(10)
    waker.wake(inbox_asset("website"))  # returns although the first one is still waiting for Airflow

    assert state.events == []
    state.release.set()
    waker.close()
    assert state.events == [7, 7]  # a wake-up that came while one was in flight is not lost


def test_wake_ups_piling_up_become_one_event_per_asset(airflow: tuple[FakeAirflow, str]) -> None:
    state, url = airflow
    state.release.clear()
    waker = make_waker(url)
    waker.wake(inbox_asset("website"))
    assert state.first_request.wait(10)  # the thread is busy with the first one

    for _ in range(50):
        waker.wake(inbox_asset("website"))
    waker.wake(inbox_asset("calls"))
    state.release.set()
    waker.close()

    assert state.events == [7, 7, 8]
    assert state.lookups == ["hub://inbox/website", "hub://inbox/calls"]  # each asset id is looked up once


def test_an_expired_token_is_renewed(airflow: tuple[FakeAirflow, str]) -> None:
    state, url = airflow
    state.expire_next_token = True
    waker = make_waker(url)
    waker.wake(inbox_asset("website"))
    waker.close()

    assert (state.logins, state.events) == (2, [7])


def test_an_asset_no_dag_waits_for_is_skipped_with_a_warning(airflow: tuple[FakeAirflow, str],
                                                            caplog: pytest.LogCaptureFixture) -> None:
    state, url = airflow
    waker = make_waker(url)
    with caplog.at_level(logging.WARNING, "airflow_hub.wakeup"):
        waker.wake(inbox_asset("nobody_listens"))
        waker.close()

    assert state.events == []
    assert "no Airflow asset hub://inbox/nobody_listens" in caplog.text


def test_airflow_being_down_is_logged_and_never_raised(caplog: pytest.LogCaptureFixture) -> None:
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    waker = make_waker(url)
    with caplog.at_level(logging.WARNING, "airflow_hub.wakeup"):
        waker.wake(inbox_asset("website"))
        waker.close()

    assert "could not wake hub://inbox/website through Airflow (ConnectError" in caplog.text
    assert "s3cret" not in caplog.text


def test_the_waker_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HUB_AIRFLOW_URL", "HUB_AIRFLOW_USER", "HUB_AIRFLOW_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    assert isinstance(waker_from_env(), NullWaker)

    monkeypatch.setenv("HUB_AIRFLOW_URL", "http://airflow:8080")
    with pytest.raises(ConfigError, match="needs HUB_AIRFLOW_USER, HUB_AIRFLOW_PASSWORD"):
        waker_from_env()

    monkeypatch.setenv("HUB_AIRFLOW_USER", "hub")
    monkeypatch.setenv("HUB_AIRFLOW_PASSWORD", "s3cret")
    waker = waker_from_env()
    assert isinstance(waker, AirflowRestWaker)
    waker.close()
