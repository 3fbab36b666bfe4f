"""Slow senders against a real ``hub serve intake`` process on loopback: headers or a body sent too slowly
get 408 and the connection is closed; a source's requests in flight are capped (503 ``busy``) while the
other sources and ``/health`` are served; half-sent requests do not pile up.

The process runs with short timeouts (header 1 s, body 2 s) so the test is quick; every socket read has a
generous safety timeout only so that a regression fails instead of hanging."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
import sqlalchemy as sa

from .conftest import secret
from .processes import intake_env, intake_process

SAFETY = 60.0  # seconds: only so that a server that never answers fails the test
MAX_IN_FLIGHT = 3
LANDING = f"/forms/landing?token={secret('landing')}"


@pytest.fixture(scope="module")
def intake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    env = intake_env(tmp_path_factory.mktemp("slow"), landing={"limits": {"max_in_flight": MAX_IN_FLIGHT}})
    with intake_process(env, "--header-timeout", "1", "--body-timeout", "2") as url:
        yield url, env


def connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    return socket.create_connection((parts.hostname, parts.port), timeout=SAFETY)


def read_until_closed(sock: socket.socket) -> bytes:
    received = b""
    with sock:
        while chunk := sock.recv(65536):
            received += chunk
    return received


def drip(sock: socket.socket, data: bytes, sent: list[int]) -> threading.Thread:
    """Send ``data`` one byte every 0.1 s (a sender at 10 bytes/s) until done or the server hangs up."""

    def run() -> None:
        try:
            for byte in data:
                sock.sendall(bytes([byte]))
                sent[0] += 1
                time.sleep(0.1)
        except OSError:  # the server closed the connection: the point of the test
            pass

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def head(path: str, length: int) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: intake\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\n\r\n").encode()


def submission(number: int) -> bytes:
    return json.dumps({"name": f"Медленный {number}", "phone": f"+7 916 555-{number:02d}-00",
                       "submission_id": f"slow-{number}-{time.time_ns()}"}).encode()


def inbox_rows(env: dict[str, str]) -> int:
    engine = sa.create_engine(env["HUB_DATABASE_URL"])
    try:
        with engine.connect() as c:
            return int(c.execute(sa.text("SELECT count(*) FROM hub_inbox")).scalar_one())
    finally:
        engine.dispose()


def test_headers_sent_too_slowly_get_408_and_the_connection_is_closed(intake: tuple[str, dict[str, str]]) -> None:
    url, _ = intake
    idle = connect(url)  # opens and sends nothing
    partial = connect(url)
    partial.sendall(b"POST /forms/landing HTTP/1.1\r\nHost: intake\r\nContent-Ty")
    dripping = connect(url)
    full_head = head(LANDING, 10) + b"X-Padding: " + b"x" * 300 + b"\r\n\r\n"
    sent = [0]
    sender = drip(dripping, full_head, sent)
    for sock in (idle, partial, dripping):
        answer = read_until_closed(sock)
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert b'"code": "request_timeout"' in answer
    sender.join(SAFETY)
    assert sent[0] < len(full_head)  # cut off long before its headers were complete


def test_a_body_sent_too_slowly_gets_408_and_nothing_is_stored(intake: tuple[str, dict[str, str]]) -> None:
    url, env = intake
    before = inbox_rows(env)
    body = submission(1)
    sock = connect(url)
    sock.sendall(head(LANDING, len(body)))
    sent = [0]
    sender = drip(sock, body, sent)
    answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:300]
    assert b'"code":"request_timeout"' in answer.replace(b" ", b"")
    sender.join(SAFETY)
    assert sent[0] < len(body)
    assert inbox_rows(env) == before


def test_requests_in_flight_are_capped_per_source_while_others_are_served(intake: tuple[str, dict[str, str]]) -> None:
    url, _ = intake
    held = []
    for number in range(MAX_IN_FLIGHT):  # headers and half a body each: in flight until the body deadline
        body = submission(10 + number)
        sock = connect(url)
        sock.sendall(head(LANDING, len(body)) + body[:10])
        held.append(sock)
    with httpx.Client(base_url=url, timeout=SAFETY) as client:
        answers = []
        while not answers or (answers[-1].status_code != 503 and len(answers) < 50):
            answers.append(client.post(LANDING, content=submission(20 + len(answers)),
                                       headers={"Content-Type": "application/json"}))
            time.sleep(0.02)  # the held requests reach the app in their own time
        busy = answers[-1]
        assert busy.status_code == 503 and busy.json()["error"]["code"] == "busy", busy.text
        assert busy.headers["retry-after"]
        other = client.post(f"/forms/cf7?token={secret('cf7')}", content='{"your-name": "Другой источник"}'.encode(),
                            headers={"Content-Type": "application/json"})
        assert other.status_code == 200, other.text
        assert client.get("/health").status_code == 200
        for sock in held:  # the body deadline frees the source
            assert read_until_closed(sock).startswith(b"HTTP/1.1 408")
        again = client.post(LANDING, content=submission(40), headers={"Content-Type": "application/json"})
        assert again.status_code == 200, again.text


def test_hundreds_of_half_sent_requests_are_all_let_go(intake: tuple[str, dict[str, str]]) -> None:
    url, _ = intake
    half_sent = []
    for _ in range(300):
        sock = connect(url)
        sock.sendall(b"POST /forms/landing HTTP/1.1\r\nHost: intake\r\nContent-Length: 5")
        half_sent.append(sock)
    assert all(read_until_closed(sock).startswith(b"HTTP/1.1 408") for sock in half_sent)
    with httpx.Client(base_url=url, timeout=SAFETY) as client:
        assert client.post(LANDING, content=submission(50), headers={"Content-Type": "application/json"}).status_code \
            == 200


def test_a_wrong_token_in_the_url_is_refused_before_the_body_is_read(intake: tuple[str, dict[str, str]]) -> None:
    url, _ = intake
    sock = connect(url)
    sock.sendall(head("/forms/landing?token=wrong", 500_000))  # the body never comes
    answer = sock.recv(65536)
    sock.close()
    assert answer.startswith(b"HTTP/1.1 403"), answer[:300]  # not a 408 after the body deadline


def test_a_kept_alive_connection_sending_only_line_breaks_is_let_go(intake: tuple[str, dict[str, str]]) -> None:
    url, _ = intake
    sock = connect(url)
    body = submission(60)
    sock.sendall(head(LANDING, len(body)) + body)
    assert sock.recv(65536).startswith(b"HTTP/1.1 200")
    sent = [0]
    sender = drip(sock, b"\r\n" * 500, sent)  # no request ever begins
    assert b"HTTP/1.1 408" in read_until_closed(sock)  # after the rest of the first answer
    sender.join(SAFETY)
    assert sent[0] < 1000
