"""The cause of a network failure is named from the exception chain, with the peer, over real sockets."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import psycopg
import pytest
import requests
import sqlalchemy as sa

from hub.causes import network_cause
from hub.errors import RetriableError


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts connections and never answers (nor speaks TLS)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    accepted: list[socket.socket] = []

    def accept() -> None:
        try:
            while True:
                accepted.append(server.accept()[0])
        except OSError:
            return

    threading.Thread(target=accept, daemon=True).start()
    yield server.getsockname()[1]
    server.close()
    for conn in accepted:
        conn.close()


def hub_error_from(call) -> RetriableError:
    """What a connector does: a short hub error raised ``from None`` (the chain is still there)."""
    try:
        call()
    except Exception as exc:
        try:
            raise RetriableError(f"failed in transit ({type(exc).__name__})") from None
        except RetriableError as wrapped:
            return wrapped
    raise AssertionError("the call succeeded")


def test_refused_names_the_peer() -> None:
    port = closed_port()
    error = hub_error_from(lambda: requests.get(f"http://127.0.0.1:{port}/buh/odata", timeout=5))
    assert network_cause(error) == f"connection refused by 127.0.0.1:{port}"


def test_timed_out(silent_server: int) -> None:
    error = hub_error_from(lambda: requests.get(f"http://127.0.0.1:{silent_server}/", timeout=0.2))
    assert network_cause(error) == f"timed out with 127.0.0.1:{silent_server}"


def test_tls_to_a_server_that_does_not_speak_it() -> None:
    with socket.socket() as sock:  # a plain-text answer where TLS was expected
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]

        def answer_in_plain_text() -> None:
            conn, _ = sock.accept()
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
            conn.close()

        threading.Thread(target=answer_in_plain_text, daemon=True).start()
        error = hub_error_from(lambda: requests.get(f"https://127.0.0.1:{port}/", timeout=5))
    assert network_cause(error) == f"TLS failed with 127.0.0.1:{port}"


def test_dns() -> None:
    def unresolvable() -> None:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    assert network_cause(hub_error_from(unresolvable)) == "DNS lookup failed"


def test_a_database_driver_s_refusal_is_named_from_its_message() -> None:
    port = closed_port()
    engine = sa.create_engine(f"postgresql+psycopg://nobody@127.0.0.1:{port}/nothing")
    try:
        error = hub_error_from(lambda: engine.connect())
    finally:
        engine.dispose()
    assert network_cause(error) == f"connection refused by 127.0.0.1:{port}"


def test_what_is_not_a_network_failure_has_no_cause() -> None:
    assert network_cause(hub_error_from(lambda: {}["missing"])) is None
    assert network_cause(psycopg.errors.UniqueViolation("duplicate key")) is None
