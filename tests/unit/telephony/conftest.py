"""Replaying recorded AMI sessions through the call assembler."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from connectors.telephony.assembler import CallAssembler, Completed
from connectors.telephony.record import NumberPlan, build_record
from sandbox.ami.transcript import load_recording, received_events

PLAN = NumberPlan("RU", r"^\d{2,6}$")
UTC = ZoneInfo("UTC")  # the recording PBX ran in UTC

Replay = Callable[..., list[dict[str, Any]]]


def records(done: list[Completed]) -> list[dict[str, Any]]:
    return [build_record(c.call.linkedid, c.call, c.call.cdrs, PLAN, UTC, c.evidence, "pbx") for c in done]


@pytest.fixture
def plan() -> NumberPlan:
    return PLAN


@pytest.fixture
def recorded_events() -> Callable[[str], list[dict[str, str]]]:
    return lambda name: received_events(load_recording(name))


@pytest.fixture
def replay() -> Replay:
    """Feed events (a recording's name, or a list) to a fresh assembler; the records of completed calls."""

    def run(events: str | list[dict[str, str]], *, assembler: CallAssembler | None = None,
            then_wait: float | None = None) -> list[dict[str, Any]]:
        if isinstance(events, str):
            events = received_events(load_recording(events))
        assembler = assembler or CallAssembler()
        done: list[Completed] = []
        for event in events:
            done.extend(assembler.feed(dict(event), now=1000.0))
        if then_wait is not None:
            done.extend(assembler.tick(1000.0 + then_wait))
        return records(done)

    return run
