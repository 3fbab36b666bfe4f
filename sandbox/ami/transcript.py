"""Read the recorded AMI sessions in ``sandbox/ami/recordings/`` (verbatim copies of
``reference/ami/*.txt``, recorded against a real Asterisk 22).

A recording is a list of blocks ``<<< server->client <epoch>`` / ``>>> client->server <epoch>`` followed by
message bodies with CRLF shown as LF. Each message is kept as an ordered list of ``(key, value)`` pairs,
because AMI allows repeated keys (``Variable:`` in Originate, ``Output:`` in Command responses).

The simulator turns these into call templates; the tests replay them through the call assembler.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

RECORDINGS = Path(__file__).resolve().parent / "recordings"
Direction = Literal["sent", "received"]
Pairs = list[tuple[str, str]]

_BLOCK = re.compile(r"^(<<< server->client|>>> client->server) (\d+\.\d+)\n", re.MULTILINE)


@dataclass(frozen=True)
class Message:
    direction: Direction  # "sent" by the client, "received" from Asterisk
    at: float  # epoch seconds the block was seen
    pairs: tuple[tuple[str, str], ...]
    banner: str | None = None  # the greeting line ("Asterisk Call Manager/11.0.0"), a message of its own

    @property
    def fields(self) -> dict[str, str]:
        """Keys to values (the last one wins for a repeated key)."""
        return dict(self.pairs)

    @property
    def kind(self) -> str:
        """``Event:<name>``, ``Action:<name>``, ``Response:<status>`` or ``Banner``."""
        if self.banner is not None:
            return "Banner"
        key, value = self.pairs[0]
        return f"{key}:{value}"

    def get(self, key: str, default: str | None = None) -> str | None:
        for name, value in self.pairs:
            if name == key:
                return value
        return default


def parse_transcript(text: str) -> list[Message]:
    parts = _BLOCK.split(text)
    messages: list[Message] = []
    for index in range(1, len(parts), 3):
        direction: Direction = "received" if parts[index].startswith("<<<") else "sent"
        at = float(parts[index + 1])
        for body in parts[index + 2].strip("\n").split("\n\n"):
            body = body.strip("\n")
            if body:
                messages.append(_message(direction, at, body))
    return messages


def _message(direction: Direction, at: float, body: str) -> Message:
    lines = body.split("\n")
    if len(lines) == 1 and ": " not in lines[0] and not lines[0].endswith(":"):
        return Message(direction, at, (), banner=lines[0])
    pairs: list[tuple[str, str]] = []
    for line in lines:
        key, sep, value = line.partition(": ")
        if not sep:  # "Key:" with nothing after it
            key, value = line.rstrip(":"), ""
        pairs.append((key, value))
    return Message(direction, at, tuple(pairs))


def load_recording(name: str) -> list[Message]:
    """A recording by scenario name (``answered``, ``queue-missed``, ...)."""
    return parse_transcript((RECORDINGS / f"{name}.txt").read_text(encoding="utf-8"))


def received_events(messages: list[Message]) -> list[dict[str, str]]:
    """The events Asterisk sent, as the dicts a client sees (``Event`` key included)."""
    return [m.fields for m in messages if m.direction == "received" and m.pairs and m.pairs[0][0] == "Event"]
