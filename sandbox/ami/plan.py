"""Deterministic call plans for the simulator: a mix of the recorded scenarios with distinct numbers."""

from __future__ import annotations

import random

from sandbox.ami.server import CallSpec
from sandbox.ami.templates import Kind

#: what the assembled call record must say for each scenario
EXPECTED_DISPOSITION: dict[str, str] = {
    "answered": "answered", "missed": "no_answer", "busy": "busy", "queue-answered": "answered",
    "queue-missed": "no_answer", "outbound": "answered", "demo": "answered",
}
#: a busy PBX: mostly answered calls, a fair share of missed ones, some queue and outbound traffic
MIX: dict[Kind, int] = {"answered": 30, "missed": 15, "busy": 10, "queue-answered": 20, "queue-missed": 10,
                        "outbound": 15}
EXTENSIONS = ("101", "102", "103", "104", "105")


def mixed_plan(count: int, seed: int = 1, first_number: int = 0) -> list[CallSpec]:
    """``count`` calls of mixed kinds; every call has its own outside number (+7 916 NNN NN NN)."""
    rng = random.Random(seed)
    kinds = list(MIX)
    weights = [MIX[k] for k in kinds]
    specs = []
    for index in range(count):
        kind = rng.choices(kinds, weights)[0]
        number = f"+7916{first_number + index:07d}"
        extension = rng.choice(EXTENSIONS)
        if kind == "outbound":
            specs.append(CallSpec(kind, caller=extension, callee=number, recording=index % 3 == 0))
        elif kind.startswith("queue"):
            specs.append(CallSpec(kind, caller=number, agent=extension))
        else:
            specs.append(CallSpec(kind, caller=number, callee=extension, recording=kind == "answered"))
    return specs
