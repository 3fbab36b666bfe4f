"""Find a business value or a key, and follow the chain it belongs to across exchanges.

What an operator has (a phone as typed, an e-mail, an ИНН, a 1C document number, a tranid, a call id, or one of
the hub's own keys) is read every way it can be (:func:`hub.search.kinds.readings`) and looked up in the search
index and among the records' keys. Each distinct thing it names is a *candidate*: ``42`` may be client 42,
contact 42 and payment 42 at once, and then the caller is asked to pick one (``entity``) instead of being shown
a mix. From the chosen one the chain is followed over the objects the records share: an exchange whose source is
another exchange's target (a lead written by website_leads is read by website_callback_tasks), two exchanges
reading the same source object, and the references a mapping's ``search:`` names (a payment's deal). Each step
carries the runs that wrote it and, for runs started by Airflow, the DAG run id and a link to it.

:func:`find` returns plain data (:class:`Trace`) for the CLI and the Airflow UI page alike.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import deque
from collections.abc import Mapping as MappingOf
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from hub.mapping.model import Mapping
from hub.search.entries import REF
from hub.search.kinds import readings
from hub.state import records
from hub.state.records import RecordRef
from hub.state.store import StateStore

MAX_RECORDS = 200  # a chain longer than this is cut (a phone with years of calls): the first ones are shown
MAX_DEPTH = 6  # form -> lead -> task is 2 hops; deal -> realization -> payment -> invoice -> deal paid is 4

Node = tuple[str, str]  # (connection/entity, key): one object, whichever exchange reads or writes it


@dataclass(frozen=True)
class RunLink:
    """The run that did a step: the hub's run id, and Airflow's DAG run when Airflow started it."""

    run_id: int
    dag_id: str
    airflow_run_id: str | None
    url: str | None
    started_at: dt.datetime | None
    status: str | None


@dataclass(frozen=True)
class Write:
    action: str  # created | updated | deleted
    source_key: str
    target_key: str | None
    fields: str | None  # the field names an update wrote (never values)
    at: dt.datetime
    run: RunLink | None


@dataclass(frozen=True)
class Letter:
    id: int
    status: str
    attempts: int
    error_class: str
    message: str
    run: RunLink | None


@dataclass
class Step:
    """One record of one exchange in the chain, with what was done to it."""

    exchange: str
    source: str  # connection/entity of its source object
    source_key: str
    target: str  # connection/entity of its target object
    target_key: str | None
    depth: int  # hops from what was searched (0: found directly)
    writes: list[Write] = field(default_factory=list)
    dead_letters: list[Letter] = field(default_factory=list)
    indexed_by: RunLink | None = None  # the run that last indexed it (a record without writes: rejected)

    @property
    def first_at(self) -> dt.datetime | None:
        times = [w.at for w in self.writes] + [r.started_at for r in self._letter_runs() if r.started_at]
        if not times and self.indexed_by and self.indexed_by.started_at:
            times.append(self.indexed_by.started_at)
        return min(times) if times else None

    @property
    def runs(self) -> list[RunLink]:
        """Every run that did something to this record, in order, once each."""
        found = {w.run.run_id: w.run for w in self.writes if w.run}
        found.update({r.run_id: r for r in self._letter_runs()})
        if not found and self.indexed_by:
            found[self.indexed_by.run_id] = self.indexed_by
        return [found[k] for k in sorted(found)]

    def _letter_runs(self) -> list[RunLink]:
        return [letter.run for letter in self.dead_letters if letter.run]


@dataclass(frozen=True)
class Candidate:
    """One thing the query names: a business value (``phone +74951234567``) or an object (``crm/clients:42``)."""

    labels: tuple[str, ...]
    entities: tuple[str, ...]  # what ``entity`` may say to pick it: a kind, or connection/entity
    exchanges: tuple[str, ...]
    records: int

    @property
    def label(self) -> str:
        return " = ".join(self.labels)

    def named_by(self, entity: str) -> bool:
        wanted = entity.strip().lower()
        return any(e.lower() == wanted or e.lower().rsplit("/", 1)[-1] == wanted for e in self.entities) \
            or wanted in (x.lower() for x in self.exchanges)


@dataclass
class Trace:
    query: str
    candidates: list[Candidate]
    chosen: Candidate | None
    steps: list[Step]
    truncated: bool = False

    @property
    def ambiguous(self) -> bool:
        return self.chosen is None and len(self.candidates) > 1

    @property
    def found(self) -> bool:
        return bool(self.candidates)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (times in ISO 8601): ``hub trace --json`` and the operators' page."""
        plain: dict[str, Any] = _plain(dataclasses.asdict(self))
        return plain | {"ambiguous": self.ambiguous,
                                                    "by_entity": {k: len(v) for k, v in self.by_entity().items()}}

    def by_entity(self) -> dict[str, list[Step]]:
        """The steps grouped by the kind of object each wrote (crm/leads, crm/tasks, onec/Document_...)."""
        groups: dict[str, list[Step]] = {}
        for step in self.steps:
            groups.setdefault(step.target, []).append(step)
        return groups


def find(store: StateStore, mappings: MappingOf[str, Mapping], query: str, *, entity: str | None = None,
         region: str = "RU", airflow_url: str = "") -> Trace:
    return _Tracer(store, mappings, region, airflow_url).find(query, entity)


class _Tracer:
    def __init__(self, store: StateStore, mappings: MappingOf[str, Mapping], region: str, airflow_url: str):
        self.store = store
        self.region = region
        self.airflow_url = airflow_url.rstrip("/")
        self.sources = {name: f"{m.source.connection}/{m.source.stream}" for name, m in mappings.items()}
        self.targets = {name: f"{m.target.connection}/{m.target.entity}" for name, m in mappings.items()}
        self.exchanges = sorted(set(mappings) | records.exchanges_with_state(store.engine))

    def source_of(self, exchange: str) -> str:
        return self.sources.get(exchange, f"{exchange}.source")  # a record of a mapping removed since

    def target_of(self, exchange: str) -> str:
        return self.targets.get(exchange, f"{exchange}.target")

    # -- what the query names

    def find(self, query: str, entity: str | None) -> Trace:
        candidates, members = self._candidates(query.strip())
        if entity:
            candidates = [c for c in candidates if c.named_by(entity)]
        if len(candidates) != 1:
            return Trace(query, candidates, None, [])
        chosen = candidates[0]
        steps, truncated = self._chain(members[chosen])
        return Trace(query, candidates, chosen, steps, truncated)

    def _candidates(self, query: str) -> tuple[list[Candidate], dict[Candidate, list[RecordRef]]]:
        subjects: dict[str, tuple[str, dict[tuple[str, str], RecordRef]]] = {}  # label -> (entity, records)

        def add(label: str, entity: str, record: RecordRef) -> None:
            subjects.setdefault(label, (entity, {}))[1].setdefault((record.exchange, record.source_key), record)

        if not query:
            return [], {}
        for row in self.store.search_by_value(readings(query, self.region)):
            add(f"{row.kind} {row.value}", row.kind, RecordRef(row.exchange, row.source_key, row.target_key))
        for record in records.by_source_key(self.store.engine, self.exchanges, query):
            add(f"{self.source_of(record.exchange)}:{query}", self.source_of(record.exchange), record)
        for record in records.by_target_key(self.store.engine, self.exchanges, query):
            add(f"{self.target_of(record.exchange)}:{query}", self.target_of(record.exchange), record)
        entity, _, key = query.partition(":")  # an object as trace prints it, e.g. crm/deals:17 (copied)
        if key and entity in set(self.sources.values()) | set(self.targets.values()):
            for record in self._records_of((entity, key)):
                add(query, entity, record)
        return _join(subjects)

    # -- the chain

    def _chain(self, start: list[RecordRef]) -> tuple[list[Step], bool]:
        found: dict[tuple[str, str], tuple[RecordRef, int]] = {}
        queue: deque[tuple[RecordRef, int]] = deque()
        for record in start:
            found[(record.exchange, record.source_key)] = (record, 0)
            queue.append((record, 0))
        visited: set[Node] = set()
        truncated = False
        while queue:
            record, depth = queue.popleft()
            if depth >= MAX_DEPTH:
                continue
            for node in self._nodes_of(record):
                if node in visited:
                    continue
                visited.add(node)
                for other in self._records_of(node):
                    key = (other.exchange, other.source_key)
                    if key in found:
                        continue
                    if len(found) >= MAX_RECORDS:
                        truncated = True
                        break
                    found[key] = (other, depth + 1)
                    queue.append((other, depth + 1))
        return self._steps(found), truncated

    def _nodes_of(self, record: RecordRef) -> list[Node]:
        nodes = [(self.source_of(record.exchange), record.source_key)]
        target_key = record.target_key or self._known_target(record)
        if target_key:
            nodes.append((self.target_of(record.exchange), target_key))
        for row in self.store.search_of_records([(record.exchange, record.source_key)]):
            if row.kind == REF:
                entity, _, key = row.value.partition(":")
                nodes.append((entity, key))
        return nodes

    def _known_target(self, record: RecordRef) -> str | None:
        known = records.by_source_key(self.store.engine, [record.exchange], record.source_key)
        return next((r.target_key for r in known if r.target_key), None)

    def _records_of(self, node: Node) -> list[RecordRef]:
        entity, key = node
        reading = [name for name, source in self.sources.items() if source == entity]
        writing = [name for name, target in self.targets.items() if target == entity]
        found = records.by_source_key(self.store.engine, reading, key) if reading else []
        found += records.by_target_key(self.store.engine, writing, key) if writing else []
        found += [RecordRef(row.exchange, row.source_key, row.target_key)
                  for row in self.store.search_by_value([(REF, f"{entity}:{key}")])]
        return found

    def _steps(self, found: dict[tuple[str, str], tuple[RecordRef, int]]) -> list[Step]:
        keys = list(found)
        writes = records.writes(self.store.engine, keys)
        letters = records.dead_letters(self.store.engine, keys)
        indexed = {(row.exchange, row.source_key): row.run_id for row in self.store.search_of_records(keys)}
        run_ids = {w.run_id for w in writes} | {x.run_id for x in letters if x.run_id} | \
            {r for r in indexed.values() if r}
        runs = {run_id: self._link(run) for run_id, run in records.runs(self.store.engine, run_ids).items()}
        steps: dict[tuple[str, str], Step] = {}
        for key, (record, depth) in found.items():
            steps[key] = Step(record.exchange, self.source_of(record.exchange), record.source_key,
                              self.target_of(record.exchange), record.target_key, depth,
                              indexed_by=runs.get(indexed.get(key) or -1))
        for w in writes:
            step = steps[(w.exchange, w.source_key)]
            step.writes.append(Write(w.action, w.source_key, w.target_key, w.fields, w.at, runs.get(w.run_id)))
            step.target_key = w.target_key or step.target_key
        for x in letters:
            steps[(x.exchange, x.source_key)].dead_letters.append(Letter(
                x.id, x.status, x.attempts, x.error_class, x.message, runs.get(x.run_id) if x.run_id else None))
        far = dt.datetime.max
        return sorted(steps.values(), key=lambda s: (s.first_at or far, s.depth, s.exchange, s.source_key))

    def _link(self, run: Any) -> RunLink:
        airflow_run = airflow_run_id(run.triggered_by)
        url = None
        if airflow_run and self.airflow_url:
            url = f"{self.airflow_url}/dags/{quote(run.exchange, safe='')}/runs/{quote(airflow_run, safe='')}"
        return RunLink(run.id, run.exchange, airflow_run, url, run.started_at, run.status)


def airflow_run_id(triggered_by: str | None) -> str | None:
    """Airflow's DAG run id in a run's ``triggered_by`` (``airflow <task>#<try> <run id>``, airflow_hub.tasks)."""
    if not triggered_by or not triggered_by.startswith("airflow "):
        return None
    parts = triggered_by.split()
    return parts[-1] if len(parts) >= 3 else None


def _join(subjects: dict[str, tuple[str, dict[tuple[str, str], RecordRef]]]
          ) -> tuple[list[Candidate], dict[Candidate, list[RecordRef]]]:
    """Subjects that share a record are one candidate: a key that is both a record's source and its target (an
    update-only exchange) names one thing; client 42 and payment 42 are two."""
    parent = {label: label for label in subjects}

    def root(label: str) -> str:
        while parent[label] != label:
            parent[label] = parent[parent[label]]
            label = parent[label]
        return label

    owner: dict[tuple[str, str], str] = {}
    for label, (_, keys) in subjects.items():
        for key in keys:
            if key in owner:
                parent[root(label)] = root(owner[key])
            else:
                owner[key] = label
    groups: dict[str, list[str]] = {}
    for label in subjects:
        groups.setdefault(root(label), []).append(label)
    candidates: list[Candidate] = []
    members: dict[Candidate, list[RecordRef]] = {}
    for labels in groups.values():
        refs = {k: r for label in labels for k, r in subjects[label][1].items()}
        candidate = Candidate(tuple(labels), tuple(dict.fromkeys(subjects[x][0] for x in labels)),
                              tuple(sorted({r.exchange for r in refs.values()})), len(refs))
        candidates.append(candidate)
        members[candidate] = list(refs.values())
    return candidates, members


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value
