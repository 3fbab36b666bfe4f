"""Switchable faults, the way a 1C publication misbehaves in production (reference §2.6): a slow server,
502/503 from the web server in front of 1C, a plain 500 (an error page without an OData error body: the web
server's, a platform failure, a licence or session limit), connections dropped mid-request, HTML pages with
status 200, and the dangerous ones — a write that 1C applied whose response never reached the client, and a
504 from the proxy that stopped waiting while 1C goes on and applies the request a little later.

Decisions come from a seeded random generator, so a failing test can be replayed exactly.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Literal

FaultKind = Literal["500", "503", "502", "504", "drop", "html200", "slow"]


@dataclass
class Faults:
    failure_rate: float = 0.0  # share of requests that get a fault of ``kinds``
    kinds: tuple[FaultKind, ...] = ("503", "502", "drop", "html200")
    weights: tuple[float, ...] | None = None  # relative share of each of ``kinds`` (None: all alike)
    slow_rate: float = 0.0  # share of requests answered after ``delay`` seconds
    delay: float = 0.05  # of a slow answer; and how long 1C goes on with a request after the proxy's 504
    lost_write_rate: float = 0.0  # share of applied writes whose response is dropped
    seed: int = 1
    lose_next_writes: int = 0  # the next N applied writes lose their response (deterministic, for tests)
    fail_next: int = 0  # the next N requests get a fault of ``kinds`` (in turn)
    counts: dict[str, int] = field(default_factory=dict)  # what was injected, for tests and the demo
    _rng: random.Random = field(init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    @classmethod
    def production(cls, seed: int = 1) -> Faults:
        """The mix of issue 10: 15% of requests failing (plain 500, 502/503/504, dropped connections), 5% HTML
        pages with status 200, and 10% of write responses lost after 1C applied the write."""
        return cls(failure_rate=0.20, kinds=("500", "502", "503", "504", "drop", "html200"),
                   weights=(3, 3, 3, 3, 3, 5), lost_write_rate=0.10, seed=seed)

    @classmethod
    def none(cls) -> Faults:
        return cls()

    @classmethod
    def chaos(cls, rate: float = 0.2, seed: int = 1) -> Faults:
        """``rate`` of requests failing or slow, and some responses lost after the write."""
        return cls(failure_rate=rate / 2, slow_rate=rate / 2, delay=0.02, lost_write_rate=rate / 2, seed=seed)

    def before(self) -> FaultKind | None:
        """The fault for the request that just arrived, if any."""
        with self._lock:
            if self.fail_next:
                self.fail_next -= 1
                kind: FaultKind = self.kinds[self.fail_next % len(self.kinds)]
                self.counts[kind] = self.counts.get(kind, 0) + 1
                return kind
            roll = self._rng.random()
            if roll < self.failure_rate:
                kind = self._rng.choices(self.kinds, self.weights)[0]
            elif roll < self.failure_rate + self.slow_rate:
                kind = "slow"
            else:
                return None
            self.counts[kind] = self.counts.get(kind, 0) + 1
            return kind

    def lose_response(self) -> bool:
        with self._lock:
            lost = self.lose_next_writes > 0 or self._rng.random() < self.lost_write_rate
            self.lose_next_writes = max(0, self.lose_next_writes - 1)
            if lost:
                self.counts["lost"] = self.counts.get("lost", 0) + 1
            return lost
