"""What a run did (or, for a plan, would do), in a form people and Airflow can read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from hub.state.models import RunMode, RunStatus
from hub.state.store import Counts

Outcome = Literal["created", "updated", "deleted", "unchanged", "filtered", "skipped", "rejected"]
SAMPLE_LIMIT = 20


@dataclass(frozen=True)
class Change:
    field: str
    old: Any
    new: Any


@dataclass(frozen=True)
class Sample:
    outcome: Outcome
    source_key: str
    target_key: str | None = None
    changes: tuple[Change, ...] = ()
    reason: str | None = None


@dataclass
class RunReport:
    exchange: str
    mode: RunMode
    run_id: int
    mapping_version: str
    status: RunStatus = "running"
    counts: Counts = field(default_factory=Counts)
    samples: dict[str, list[Sample]] = field(default_factory=dict)
    message: str | None = None
    seconds: float = 0.0

    def wants_sample(self, outcome: str) -> bool:
        return len(self.samples.get(outcome, ())) < SAMPLE_LIMIT

    def sample(self, item: Sample) -> None:
        bucket = self.samples.setdefault(item.outcome, [])
        if len(bucket) < SAMPLE_LIMIT:
            bucket.append(item)

    def summary(self) -> dict[str, Any]:
        """The run's summary as plain data (Airflow task return value, JSON output)."""
        return {"exchange": self.exchange, "mode": self.mode, "run_id": self.run_id, "status": self.status,
                "mapping_version": self.mapping_version, **self.counts.as_dict(),
                "seconds": round(self.seconds, 3), "message": self.message}

    def one_line(self) -> str:
        c = self.counts
        if self.status == "failed":
            done = f" (after read {c.read}, created {c.created}, updated {c.updated}, deleted {c.deleted}, " \
                   f"rejected {c.rejected})" if c.read else ""
            return f"{self.exchange}: {self.mode} failed - {self.message}{done}"
        verb = "would " if self.mode == "plan" else ""
        text = (f"{self.exchange}: {self.status}; read {c.read}, {verb}create {c.created}, {verb}update {c.updated}, "
                f"{verb}delete {c.deleted}, unchanged {c.unchanged}, filtered {c.filtered}, skipped {c.skipped}, "
                f"rejected {c.rejected} (dead letters +{c.dead_letters_added})")
        return text + (f" - {self.message}" if self.message else "")
