"""What a run did (or, for a plan, would do), in a form people and Airflow can read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from hub.state.models import RunMode, RunStatus
from hub.state.store import Counts

#: out_of_scope: a known record missing from a sweep that still exists at the source (it left the scope): kept
Outcome = Literal["created", "updated", "deleted", "unchanged", "filtered", "skipped", "rejected", "out_of_scope"]
OUTCOMES: tuple[Outcome, ...] = get_args(Outcome)
SAMPLE_LIMIT = 20
#: what a finished run that rejected records shows instead of "success" (run notes, ``hub runs``): never green
PARTIAL = "PARTIAL"


def shown_status(status: str, rejected: int, read: int) -> str:
    """A run's status as operators read it: a success that rejected records is marked as partial."""
    if status == "success" and rejected:
        return f"{PARTIAL}, rejected {rejected} of {read}"
    return status


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


@dataclass(frozen=True)
class FieldWarning:
    """A value a conversion emptied or cut in one record (the record crossed without it)."""

    source_key: str
    field: str
    problem: str  # never the value itself: summaries go to logs and Airflow notes

    def as_dict(self) -> dict[str, str]:
        return {"source_key": self.source_key, "field": self.field, "problem": self.problem}


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
    warnings: list[FieldWarning] = field(default_factory=list)  # the first SAMPLE_LIMIT of counts.warnings
    ledger_settled: int = 0  # interrupted writes of earlier runs this run looked up and closed
    ledger_unknown: int = 0  # writes whose outcome is still unknown after this run (see `hub runs`)
    retries: int = 0  # transient failures (network, timeouts, locks, 5xx) that were retried, each logged at WARNING

    def wants_sample(self, outcome: str) -> bool:
        return len(self.samples.get(outcome, ())) < SAMPLE_LIMIT

    def sample(self, item: Sample) -> None:
        bucket = self.samples.setdefault(item.outcome, [])
        if len(bucket) < SAMPLE_LIMIT:
            bucket.append(item)

    def warn(self, warning: FieldWarning) -> None:
        if len(self.warnings) < SAMPLE_LIMIT:
            self.warnings.append(warning)

    def summary(self) -> dict[str, Any]:
        """The run's summary as plain data (Airflow task return value, JSON output)."""
        return {"exchange": self.exchange, "mode": self.mode, "run_id": self.run_id, "status": self.status,
                "mapping_version": self.mapping_version, **self.counts.as_dict(),
                "warning_samples": [w.as_dict() for w in self.warnings],
                "ledger_settled": self.ledger_settled, "ledger_unknown": self.ledger_unknown,
                "retries": self.retries,
                "seconds": round(self.seconds, 3), "message": self.message}

    def one_line(self) -> str:
        c = self.counts
        if self.status == "failed":
            done = f" (after read {c.read}, created {c.created}, updated {c.updated}, deleted {c.deleted}, " \
                   f"rejected {c.rejected})" if c.read else ""
            return f"{self.exchange}: {self.mode} failed - {self.message}{done}"
        verb = "would " if self.mode == "plan" else ""
        status = shown_status(self.status, c.rejected, c.read)
        text = (f"{self.exchange}: {status}; read {c.read}, {verb}create {c.created}, {verb}update {c.updated}, "
                f"{verb}delete {c.deleted}, unchanged {c.unchanged}, filtered {c.filtered}, skipped {c.skipped}, "
                f"rejected {c.rejected} (dead letters +{c.dead_letters_added})")
        text += f", out of scope {c.out_of_scope} (kept)" if c.out_of_scope else ""
        text += self._warnings_text()
        text += self._ledger_text()
        text += f"; retries {self.retries}" if self.retries else ""
        return text + (f" - {self.message}" if self.message else "")

    def _warnings_text(self) -> str:
        if not self.counts.warnings:
            return ""
        shown = ", ".join(f"{w.source_key}.{w.field}: {w.problem}" for w in self.warnings[:3])
        more = ", ..." if self.counts.warnings > 3 else ""
        return f"; warnings {self.counts.warnings} ({shown}{more})"

    def _ledger_text(self) -> str:
        parts = [f"settled {self.ledger_settled}"] if self.ledger_settled else []
        parts += [f"unknown {self.ledger_unknown}"] if self.ledger_unknown else []
        return f"; interrupted writes: {', '.join(parts)}" if parts else ""
