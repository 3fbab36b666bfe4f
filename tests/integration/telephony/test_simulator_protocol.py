"""The AMI simulator answers on the wire the way the recorded Asterisk does (misc.txt), and the hub's AMI
session copes with what a real Asterisk answers (refused login, list actions)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from connectors.telephony.client import AmiSession
from connectors.telephony.config import PbxConfig
from hub.errors import AuthError
from sandbox.ami.server import CallSpec, SimulatorThread
from sandbox.ami.transcript import load_recording


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorThread]:
    with SimulatorThread() as running:
        yield running


class Wire:
    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buffer = b""

    def line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            self.buffer += self.sock.recv(4096)
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def message(self) -> list[tuple[str, str]]:
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self.sock.recv(4096)
        raw, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        return [tuple(line.split(": ", 1)) for line in raw.decode().split("\r\n")]  # type: ignore[misc]

    def send(self, *pairs: tuple[str, str]) -> None:
        self.sock.sendall(("".join(f"{k}: {v}\r\n" for k, v in pairs) + "\r\n").encode())


def recorded(action_id: str) -> list[tuple[str, str]]:
    return next(list(m.pairs) for m in load_recording("misc") if m.direction == "received" and
                m.get("ActionID") == action_id and m.pairs[0][0] == "Response")


def test_the_wire_protocol_matches_the_recording(sim: SimulatorThread) -> None:
    wire = Wire(sim.port)
    try:
        assert wire.line() == b"Asterisk Call Manager/11.0.0"
        wire.send(("Action", "Ping"), ("ActionID", "early"))
        assert wire.message() == [("Response", "Error"), ("ActionID", "early"), ("Message", "Permission denied")]
        wire.send(("Action", "Login"), ("ActionID", "bad-login"), ("Username", "hub"), ("Secret", "wrong"))
        assert wire.message() == recorded("bad-login")
        wire.send(("Action", "Login"), ("ActionID", "l1"), ("Username", "hub"), ("Secret", "hubsecret"),
                  ("Events", "off"))
        assert wire.message() == recorded("l1")
        wire.send(("Action", "Ping"), ("ActionID", "p1"))
        pong = wire.message()
        assert [k for k, _ in pong] == [k for k, _ in recorded("p1")] and float(dict(pong)["Timestamp"]) > 0
        wire.send(("Action", "Logoff"), ("ActionID", "bye"))
        assert wire.message() == recorded("bye")
    finally:
        wire.sock.close()


def test_a_refused_login_is_an_auth_error_without_the_secret(sim: SimulatorThread) -> None:
    config = PbxConfig(name="pbx", port=sim.port, username="hub", secret=SecretStr("wrong-secret"),
                       cdr_timezone="UTC")
    with pytest.raises(AuthError, match="refused the login of user 'hub': Authentication failed") as caught:
        AmiSession(config).open()
    assert "wrong-secret" not in str(caught.value)


def test_live_channels_are_listed_while_a_call_is_up(sim: SimulatorThread) -> None:
    config = PbxConfig(name="pbx", port=sim.port, username="hub", secret=SecretStr("hubsecret"),
                       cdr_timezone="UTC")
    session = AmiSession(config, events=False)
    session.open()
    try:
        (linkedid,) = sim.play([CallSpec("queue-answered", caller="+79035550011", agent="103")])
        channels = []
        for _ in range(50):
            channels = session.list_action("CoreShowChannels")
            if len(channels) == 4:
                break
            time.sleep(0.02)
        assert {c["Linkedid"] for c in channels} == {linkedid}
        assert any(c["Channel"].startswith("Local/103@hub-phones-") for c in channels)
    finally:
        session.close()
