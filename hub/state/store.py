"""The state store: everything the hub remembers between runs, behind one small API.

Each applied batch is committed in ONE transaction (:meth:`StateStore.commit_batch`): record hashes, key
map, ledger outcomes, provenance, dead letters and the checkpoint move together, so a killed run resumes
from a consistent point.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, fields, replace
from typing import Any, NamedTuple, cast

from sqlalchemy import Connection, CursorResult, Engine, Row, bindparam, delete, func, or_, select, text, update
from sqlalchemy.exc import IntegrityError

from hub.state import codec, inbox_order, search_index
from hub.state.engine import make_engine
from hub.state.migrate import upgrade
from hub.state.models import (
    Checkpoint,
    DeadLetter,
    Effect,
    EffectStatus,
    InboxEvent,
    KeyMap,
    LedgerBatch,
    LetterStatus,
    RecordLog,
    RecordState,
    Run,
    RunMode,
    RunStatus,
    table_of,
    utcnow,
)
from hub.state.upsert import Column, Rows, insert_new, insert_rows, upsert


@dataclass
class Counts:
    """What a run (or one batch of it) did, record by record; the run log has a column for each."""

    read: int = 0
    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    filtered: int = 0
    skipped: int = 0
    rejected: int = 0
    dead_letters_added: int = 0
    warnings: int = 0  # values a conversion emptied or cut (the records crossed without them)
    out_of_scope: int = 0  # known records missing from a sweep that still exist at the source: kept

    def add(self, other: Counts) -> None:
        for name in COUNTERS:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in COUNTERS}


COUNTERS = tuple(counter.name for counter in fields(Counts))
#: a run that wrote at least this many records refreshes the planner statistics of the state tables
ANALYZE_AFTER = 5_000
#: seconds between two commits of batches that change nothing but the checkpoint (see commit_batch)
PROGRESS_EVERY = 1.0


class PriorState(NamedTuple):  # a named tuple: made for every record a re-run reads, at a third of a dataclass's cost
    content_hash: str | None
    version: str | None
    target_key: str | None
    source_hash: str | None = None


class KeyLink(NamedTuple):  # a named tuple: one is made for every record a run creates
    entity: str
    system_a: str
    id_a: str
    system_b: str
    id_b: str


class LogEntry(NamedTuple):
    """A record log row of a batch (:class:`RecordLog`; its run and time come with the batch)."""

    source_key: str
    target_key: str | None
    action: str  # created, updated, deleted
    fields: str | None  # the names of the fields written, comma-separated (never their values)


#: the columns of the rows a batch commit writes as tuples (:class:`hub.state.upsert.Rows`), in their order
STATE_COLUMNS = ("exchange", "source_key", *PriorState._fields, "seen_run", "updated_at")
LINK_COLUMNS = (*KeyLink._fields, "updated_at")
LOG_COLUMNS = ("run_id", "exchange", "at", *LogEntry._fields)


@dataclass(frozen=True)
class InboxItem:
    """One event for :meth:`StateStore.inbox_put_many`."""

    stream: str
    dedup_key: str
    payload: dict[str, Any]
    meta: dict[str, Any] | None = None
    #: other keys the same event may already be stored under (e.g. its key in the previous dedup window)
    seen_as: tuple[str, ...] = ()

    def all_keys(self) -> list[tuple[str, str]]:
        return [(self.stream, key) for key in (self.dedup_key, *self.seen_as)]


#: a step a writer adds to the store's own transaction
TransactionHook = Callable[[Connection], None]


class Stored(NamedTuple):
    """Where :meth:`StateStore.inbox_put_many` put an event (or found it stored already)."""

    id: int
    created: bool
    dedup_key: str  # the stored event's key (a repeat may have been found under one of its seen_as keys)


class OpenLetter(NamedTuple):
    """What a run needs to know up front of an open dead letter (not its payload)."""

    id: int
    source_key: str
    error_class: str


class Intent(NamedTuple):
    """A write about to be made, for the effect ledger (:meth:`StateStore.intend`)."""

    idempotency_key: str
    source_key: str
    action: str
    #: what finds the object again if the run dies before its outcome is committed (ledger settlement)
    match: dict[str, Any] | None = None
    target_key: str | None = None


class PendingEffect(NamedTuple):
    """A write whose outcome was never committed (its run was killed, or its response lost)."""

    idempotency_key: str
    source_key: str
    action: str
    match: dict[str, Any] | None
    target_key: str | None
    run_id: int | None
    batch_id: int | None = None  # recorded with its batch (:meth:`StateStore.intend_batch`), not on a row of its own


@dataclass
class Settlement:
    """What looking up an exchange's pending writes found (:meth:`StateStore.settle`)."""

    exchange: str
    outcomes: dict[str, tuple[EffectStatus, str | None]] = field(default_factory=dict)  # idem key -> outcome
    targets: dict[str, str | None] = field(default_factory=dict)  # source key -> the object it now has
    links: list[KeyLink] = field(default_factory=list)
    forget: list[str] = field(default_factory=list)  # source keys whose object a settled deletion removed
    log: list[dict[str, Any]] = field(default_factory=list)  # record log rows, under the runs that wrote
    #: batch entries looked at, with their writes: settled writes leave with the entry, the others stay pending
    batches: dict[int, list[PendingEffect]] = field(default_factory=dict)


@dataclass(frozen=True)
class Failure:
    source_key: str
    payload: dict[str, Any]
    error_class: str
    message: str


class EffectOutcome(NamedTuple):
    """What became of a write, for the ledger (which may have no pending entry for it: see ``intend``)."""

    status: EffectStatus
    target_key: str | None
    source_key: str
    action: str


@dataclass
class BatchCommit:
    """Everything one applied batch changes in the hub database."""

    exchange: str
    run_id: int
    mapping_version: str
    states: dict[str, PriorState] = field(default_factory=dict)  # source key -> new state
    #: the keys of ``states`` the store had no state for when the batch was read (first crossings): their state
    #: and key-map rows are inserted, not upserted (:func:`hub.state.upsert.insert_new`)
    first_crossings: set[str] = field(default_factory=set)
    seen: list[str] = field(default_factory=list)  # keys still present in the source (deletion detection)
    forget: list[str] = field(default_factory=list)  # keys deleted from the source and the target
    links: list[KeyLink] = field(default_factory=list)
    effects_done: dict[str, EffectOutcome] = field(default_factory=dict)  # idempotency key -> outcome
    #: the batch's ledger entries (:meth:`StateStore.intend_batch`, one per write attempt): done with this commit
    intent_batches: list[int] = field(default_factory=list)
    log: list[LogEntry] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)  # source keys whose open dead letters are now fixed
    checkpoint: Any = None
    save_checkpoint: bool = False
    counts: Counts = field(default_factory=Counts)
    #: search index rows, (source_key, kind, value, target_key) each (hub.search.entries)
    search: list[tuple[str, str, str, str | None]] = field(default_factory=list)


class StateStore:
    def __init__(self, url: str, *, migrate: bool = True):
        self.url = url
        #: per run: the latest batch that changed nothing but the checkpoint and counters, not committed yet
        self._deferred: dict[int, BatchCommit] = {}
        self._last_commit = 0.0  # time.monotonic() of the last batch commit
        self._engine: Engine = make_engine(url)
        #: a server database takes a batch's commit while the caller goes on (see commit_in_background)
        self.commits_in_background = self._engine.dialect.name == "postgresql"
        self._committer: ThreadPoolExecutor | None = None
        self._in_flight: _InFlight | None = None
        if migrate:
            upgrade(self._engine)

    @property
    def engine(self) -> Engine:
        """The hub database. Anything done through it comes after every batch handed to
        :meth:`commit_in_background`: it waits for the commit in flight first."""
        self.wait_for_commit()
        return self._engine

    def close(self) -> None:
        try:
            self.wait_for_commit()
        finally:
            if self._committer is not None:
                self._committer.shutdown()
                self._committer = None
            self._engine.dispose()

    def _reading(self, *, after_commits: bool = True) -> Connection:
        """A connection for reads that need no transaction of their own. On PostgreSQL it runs in autocommit
        (psycopg switches that on the client): no BEGIN and ROLLBACK round trips around each batch's lookups.
        ``after_commits=False``: without waiting for a batch commit in flight (the caller knows it does not
        touch what it reads)."""
        connection = (self.engine if after_commits else self._engine).connect()
        if self._engine.dialect.name == "postgresql":
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        return connection

    # -- batch commits in the background ---------------------------------------------------------------

    def commit_in_background(self, batch: BatchCommit, done: Callable[[int], None]) -> None:
        """:meth:`commit_batch` on the store's commit thread, while the caller prepares the next batch (the hub
        and the database server each keep a core busy instead of taking turns). Waits for the previous one first:
        one commit in flight at a time, in order. Every later call on the store waits for it, but
        :meth:`prior_states` and :meth:`intend_batch`, whose callers know it does not touch what they read or
        write. ``done(dead letters added)`` runs in the caller's thread once the commit is known to have landed;
        a failed commit raises there instead (at the next wait)."""
        self.wait_for_commit()
        if self._committer is None:
            self._committer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hub-commit")
        self._in_flight = _InFlight(self._committer.submit(self._commit_on_thread, batch), done,
                                    threading.get_ident())

    def _commit_on_thread(self, batch: BatchCommit) -> int:
        _committing.active = True  # this thread's own calls must not wait for themselves
        try:
            return self.commit_batch(batch)
        finally:
            _committing.active = False

    def wait_for_commit(self) -> None:
        """Wait for the batch commit in flight, if any. In the thread that handed it over, raise what it raised
        (or tell ``done`` it landed); another thread only waits, leaving the outcome to that one."""
        in_flight = self._in_flight
        if in_flight is None or getattr(_committing, "active", False):
            return
        if in_flight.owner != threading.get_ident():
            wait([in_flight.future])
            return
        self._in_flight = None
        in_flight.done(in_flight.future.result())

    # -- runs ------------------------------------------------------------------------------------------

    def start_run(self, exchange: str, mode: RunMode, mapping_version: str, triggered_by: str | None = None) -> int:
        triggered_by = triggered_by or airflow_trigger()
        with self.engine.begin() as c:
            result = c.execute(table_of(Run).insert().values(
                exchange=exchange, mode=mode, status="running", mapping_version=mapping_version,
                started_at=utcnow(), triggered_by=triggered_by, host=socket.gethostname(), pid=os.getpid(),
                **Counts().as_dict()))
            return _new_id(result)

    def finish_run(self, run_id: int, status: RunStatus, counts: Counts, message: str | None = None) -> None:
        self.wait_for_commit()
        deferred = self._deferred.pop(run_id, None)
        with self.engine.begin() as c:
            if deferred is not None:  # a consistent point: every batch before it is committed
                self._save_checkpoint(c, deferred.exchange, deferred.checkpoint, run_id)
            c.execute(update(Run).where(Run.id == run_id).values(
                status=status, finished_at=utcnow(), message=message, **counts.as_dict()))
        if counts.created + counts.updated + counts.deleted >= ANALYZE_AFTER:
            self._analyze()

    def _analyze(self) -> None:
        """Fresh planner statistics for the tables a run grows: autovacuum may be off (it is on some servers),
        and a table never analyzed is planned as if each exchange had a handful of rows."""
        if self.engine.dialect.name != "postgresql":
            return  # SQLite and MariaDB plan these primary-key lookups well without statistics
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text("ANALYZE hub_record_state, hub_effect_ledger, hub_key_map"))

    def runs(self, exchange: str | None = None, limit: int = 20) -> list[Run]:
        query = select(Run).order_by(Run.id.desc()).limit(limit)
        if exchange:
            query = query.where(Run.exchange == exchange)
        with self.engine.connect() as c:
            return list(c.execute(query).all())  # type: ignore[arg-type]

    def run(self, run_id: int) -> Run | None:
        with self.engine.connect() as c:
            return c.execute(select(Run).where(Run.id == run_id)).first()  # type: ignore[return-value]

    # -- checkpoints and record state -----------------------------------------------------------------

    def checkpoint(self, exchange: str) -> Any:
        with self._reading() as c:
            row = c.execute(select(Checkpoint.state).where(Checkpoint.exchange == exchange)).first()
        return codec.loads(row[0]) if row and row[0] is not None else None

    def set_checkpoint(self, exchange: str, state: Any, run_id: int | None = None) -> None:
        with self.engine.begin() as c:
            self._save_checkpoint(c, exchange, state, run_id)

    def prior_states(self, exchange: str, keys: Sequence[str]) -> dict[str, PriorState]:
        """What is known of these source records. Does not wait for a batch commit in flight: the caller makes
        sure that none of these keys is in it (:class:`hub.runner.commits.Commits`)."""
        found: dict[str, PriorState] = {}
        with self._reading(after_commits=False) as c:
            if c.dialect.name == "postgresql":
                return self._prior_states_by_probe(c, exchange, keys)
            for chunk in chunks(keys, 500):
                rows = c.execute(select(RecordState.source_key, RecordState.content_hash, RecordState.version,
                                        RecordState.target_key, RecordState.source_hash)
                                 .where(RecordState.exchange == exchange, RecordState.source_key.in_(chunk)))
                for key, content_hash, version, target_key, source_hash in rows:
                    found[key] = PriorState(content_hash, version, target_key, source_hash)
        return found

    def _prior_states_by_probe(self, c: Any, exchange: str, keys: Sequence[str]) -> dict[str, PriorState]:
        """One primary-key probe per key, in one statement, whatever the planner's statistics say.

        ``source_key IN (...)`` on a table never analyzed (autovacuum may be off) is planned as a scan of the
        exchange's whole index, filtered: 70-80 ms per 500 keys at 100,000 rows, growing with the table. The
        ``OFFSET 0`` keeps the subquery from being flattened into that plan.
        """
        rows = c.exec_driver_sql(
            "SELECT s.source_key, s.content_hash, s.version, s.target_key, s.source_hash "
            "FROM unnest(%(keys)s::varchar[]) AS k(key) CROSS JOIN LATERAL ("
            "SELECT * FROM hub_record_state WHERE exchange = %(exchange)s AND source_key = k.key OFFSET 0) AS s",
            {"keys": Column(keys), "exchange": exchange}).all()  # all(): one fetch, not one call per row
        return {key: PriorState(content_hash, version, target_key, source_hash)
                for key, content_hash, version, target_key, source_hash in rows}

    def owners(self, exchange: str, target_keys: Sequence[str]) -> dict[str, set[str]]:
        """The source records whose state links them to each of these target objects."""
        found: dict[str, set[str]] = {}
        with self._reading() as c:
            for chunk in chunks(list(set(target_keys)), 500):
                rows = c.execute(select(RecordState.target_key, RecordState.source_key)
                                 .where(RecordState.exchange == exchange, RecordState.target_key.in_(chunk)))
                for target_key, key in rows:
                    if target_key is not None:  # always, by the IN above; mypy cannot know
                        found.setdefault(target_key, set()).add(key)
        return found

    def forget_records(self, exchange: str, keys: Sequence[str]) -> int:
        """Drop what is known of these source records (hashes, their target object): the next run treats
        them as new, and the objects they were linked to are free for another source record to take."""
        removed = 0
        with self.engine.begin() as c:
            for chunk in chunks(list(keys), 500):
                removed += c.execute(delete(RecordState).where(RecordState.exchange == exchange,
                                                               RecordState.source_key.in_(chunk))).rowcount
        return removed

    def unseen_keys(self, exchange: str, run_id: int) -> list[tuple[str, str | None]]:
        """Keys with state that a complete sweep in ``run_id`` did not see: deleted at the source."""
        with self.engine.connect() as c:
            rows = c.execute(select(RecordState.source_key, RecordState.target_key).where(
                RecordState.exchange == exchange,
                or_(RecordState.seen_run.is_(None), RecordState.seen_run != run_id)))
            return [(k, t) for k, t in rows]

    def reset_exchange(self, exchange: str) -> None:
        """Forget checkpoint and record hashes: the next run re-reads and re-compares everything."""
        with self.engine.begin() as c:
            c.execute(delete(Checkpoint).where(Checkpoint.exchange == exchange))
            c.execute(delete(RecordState).where(RecordState.exchange == exchange))

    # -- key map ---------------------------------------------------------------------------------------

    def key_lookup(self, entity: str, value: str, from_system: str, to_system: str) -> str | None:
        """The id in ``to_system`` of the object known as ``value`` in ``from_system`` (either direction)."""
        with self.engine.connect() as c:
            row = c.execute(select(KeyMap.id_b).where(
                KeyMap.entity == entity, KeyMap.system_a == from_system, KeyMap.id_a == value,
                KeyMap.system_b == to_system)).first()
            if row is None:
                row = c.execute(select(KeyMap.id_a).where(
                    KeyMap.entity == entity, KeyMap.system_b == from_system, KeyMap.id_b == value,
                    KeyMap.system_a == to_system)).first()
        return row[0] if row else None

    def key_links(self, value: str) -> list[Row[Any]]:
        """The key-map rows that name ``value`` on either side (their columns as attributes)."""
        with self.engine.connect() as c:
            return list(c.execute(select(KeyMap).where(or_(KeyMap.id_a == value, KeyMap.id_b == value))).all())

    def link(self, links: Iterable[KeyLink]) -> None:
        with self.engine.begin() as c:
            self._link(c, list(links))

    # -- effect ledger ---------------------------------------------------------------------------------

    def effects(self, keys: Sequence[str]) -> dict[str, tuple[EffectStatus, str | None]]:
        found: dict[str, tuple[EffectStatus, str | None]] = {}
        with self._reading() as c:
            for chunk in chunks(keys, 500):
                for key, status, target in c.execute(select(Effect.idempotency_key, Effect.status, Effect.target_key)
                                                     .where(Effect.idempotency_key.in_(chunk))):
                    found[key] = (cast(EffectStatus, status), target)  # the column holds only these
        return found

    def intend(self, exchange: str, run_id: int, intents: Sequence[tuple[Any, ...]]) -> None:
        """Record each :class:`Intent` (or plain (idempotency key, source key, action)) as pending before the
        writes happen, with what finds its object again.

        A key seen before (a write rejected earlier, now replayed) is pending again: until this attempt's
        outcome is committed, nobody can tell whether it landed. The runner skips the ledger where the
        target's write is an idempotent upsert (:meth:`hub.connector.Connector.upsert_is_idempotent`): writing
        again cannot duplicate anything.
        """
        now = utcnow()
        rows = []
        for intent in (Intent(*i) for i in intents):
            rows.append(dict(idempotency_key=intent.idempotency_key, exchange=exchange, source_key=intent.source_key,
                             action=intent.action, status="pending", run_id=run_id, created_at=now, updated_at=now,
                             target_key=intent.target_key,
                             match_values=codec.dumps(intent.match) if intent.match else None))
        with self.engine.begin() as c:
            upsert(c, table_of(Effect), rows, ["idempotency_key"],
                   ["status", "run_id", "updated_at", "target_key", "match_values"])

    def intend_batch(self, exchange: str, run_id: int, intents: Sequence[tuple[Any, ...]]) -> int:
        """Record a batch of creates as pending in ONE ledger entry (``hub_ledger_batch``); return its id, which
        the batch's :class:`BatchCommit` lists in ``intent_batches`` to remove it with the batch's state.

        Only for writes that cannot duplicate when repeated and whose objects the target can find again by the
        match values kept here: their entry exists only to tell a run killed before the state commit which
        objects may exist (:mod:`hub.runner.settle`). Nothing asks the ledger about one write of such a batch.
        """
        entry = codec.dumps_unordered(intents)  # each an Intent's fields in order (a plain tuple will do)
        with self._engine.begin() as c:  # a row of its own: no need to wait for a batch commit in flight
            return _new_id(c.execute(table_of(LedgerBatch).insert().values(
                exchange=exchange, run_id=run_id, size=len(intents), intents=entry, created_at=utcnow())))

    def pending_effects(self, exchange: str) -> list[PendingEffect]:
        """Writes of ``exchange`` whose outcome was never committed, oldest first (those recorded one by one,
        then those recorded by batch)."""
        with self.engine.connect() as c:
            rows = c.execute(select(Effect.idempotency_key, Effect.source_key, Effect.action, Effect.match_values,
                                    Effect.target_key, Effect.run_id)
                             .where(Effect.exchange == exchange, Effect.status == "pending")
                             .order_by(Effect.created_at, Effect.idempotency_key))
            pending = [PendingEffect(k, s, a, codec.loads(m) if m else None, t, r) for k, s, a, m, t, r in rows]
            batches = c.execute(select(LedgerBatch.id, LedgerBatch.run_id, LedgerBatch.intents)
                                .where(LedgerBatch.exchange == exchange).order_by(LedgerBatch.id))
            for batch_id, run_id, intents in batches:
                pending += [PendingEffect(*Intent(*intent), run_id, batch_id) for intent in codec.loads(intents)]
        return pending

    def unknown_effects(self, exchange: str | None = None) -> dict[str, int]:
        """How many writes of each exchange still have an unknown outcome (pending in the ledger)."""
        one_by_one = select(Effect.exchange, func.count()).where(Effect.status == "pending").group_by(Effect.exchange)
        by_batch = select(LedgerBatch.exchange, func.sum(LedgerBatch.size)).group_by(LedgerBatch.exchange)
        if exchange:
            one_by_one = one_by_one.where(Effect.exchange == exchange)
            by_batch = by_batch.where(LedgerBatch.exchange == exchange)
        unknown: dict[str, int] = {}
        with self.engine.connect() as c:
            for query in (one_by_one, by_batch):
                for name, count in c.execute(query):
                    unknown[name] = unknown.get(name, 0) + int(count)
        return unknown

    def hub_created(self, exchange: str, keys: Sequence[str]) -> dict[str, dict[str, int | None]]:
        """For each source key, the objects the hub created for it: target key -> run id.

        A done ``create`` in the ledger says so, and so does the record log (which also holds creates written
        without a ledger entry, and creates a run settled after a kill)."""
        found: dict[str, dict[str, int | None]] = {}
        with self._reading() as c:
            for chunk in chunks(list(keys), 500):
                ledger = select(Effect.source_key, Effect.target_key, Effect.run_id).where(
                    Effect.exchange == exchange, Effect.source_key.in_(chunk), Effect.action == "create",
                    Effect.status == "done")
                log = select(RecordLog.source_key, RecordLog.target_key, RecordLog.run_id).where(
                    RecordLog.exchange == exchange, RecordLog.source_key.in_(chunk), RecordLog.action == "created")
                for query in (log, ledger):
                    for key, target_key, run_id in c.execute(query):
                        if target_key is not None:  # a create that returned no key is not one we can name
                            found.setdefault(key, {})[target_key] = run_id
        return found

    def settle(self, settlement: Settlement) -> None:
        """Close looked-up writes and record what they left, in one transaction.

        A found object's state has no content hash, so the next run compares the object field by field; it is
        not marked as seen by any run, so a record deleted at the source meanwhile is still found missing.
        """
        now = utcnow()
        exchange = settlement.exchange
        with self.engine.begin() as c:
            if settlement.targets:
                upsert(c, table_of(RecordState), [
                    dict(exchange=exchange, source_key=k, content_hash=None, version=None, target_key=t,
                         source_hash=None, seen_run=None, updated_at=now) for k, t in settlement.targets.items()],
                    ["exchange", "source_key"], ["content_hash", "version", "target_key", "source_hash", "updated_at"])
            for chunk in chunks(settlement.forget, 500):
                c.execute(delete(RecordState).where(RecordState.exchange == exchange,
                                                    RecordState.source_key.in_(chunk)))
            self._link(c, settlement.links)
            batched = {e.idempotency_key for effects in settlement.batches.values() for e in effects}
            outcomes = [{"key": k, "new_status": s, "target": t} for k, (s, t) in settlement.outcomes.items()
                        if k not in batched]  # a write recorded by batch has no row of its own to close
            if outcomes:
                c.execute(update(Effect).where(Effect.idempotency_key == bindparam("key")).values(
                    status=bindparam("new_status"), target_key=bindparam("target"), updated_at=now), outcomes)
            self._close_batches(c, exchange, settlement, now)
            if settlement.log:
                c.execute(table_of(RecordLog).insert(), [dict(exchange=exchange, at=now, **e) for e in settlement.log])

    def _close_batches(self, c: Any, exchange: str, settlement: Settlement, now: dt.datetime) -> None:
        """Remove the settled batch entries; a write of theirs that could not be settled stays pending, on a
        ledger row of its own."""
        unsettled = [e for effects in settlement.batches.values() for e in effects
                     if e.idempotency_key not in settlement.outcomes]
        upsert(c, table_of(Effect), [
            dict(idempotency_key=e.idempotency_key, exchange=exchange, source_key=e.source_key, action=e.action,
                 status="pending", run_id=e.run_id, created_at=now, updated_at=now, target_key=e.target_key,
                 match_values=codec.dumps(e.match) if e.match else None) for e in unsettled],
               ["idempotency_key"], ["status", "run_id", "updated_at", "target_key", "match_values"])
        if settlement.batches:
            c.execute(delete(LedgerBatch).where(LedgerBatch.id.in_(list(settlement.batches))))

    # -- the batch commit ------------------------------------------------------------------------------

    def commit_batch(self, batch: BatchCommit) -> int:
        """Apply a batch's state changes atomically; return the number of new dead letters.

        A batch that changes nothing but its checkpoint and counters (an unchanged stretch of the source) is
        committed at most once every :data:`PROGRESS_EVERY` seconds, with a later batch or when the run finishes.
        A run killed meanwhile resumes from the checkpoint before it and re-reads records that had nothing to
        write: one commit (one fsync) per batch would be most of the time of a run that finds nothing changed.
        """
        deferred = self._deferred.pop(batch.run_id, None)
        progress = Counts()  # this batch's counters plus those of the batches deferred before it
        for counts in (batch.counts, *([deferred.counts] if deferred else [])):
            progress.add(counts)
        if batch.save_checkpoint and batch.checkpoint is not None and _only_progress(batch) \
                and time.monotonic() - self._last_commit < PROGRESS_EVERY:
            self._deferred[batch.run_id] = replace(batch, counts=progress)
            return 0
        now = utcnow()
        with self.engine.begin() as c:
            self._save_states(c, batch, now)
            for chunk in chunks(batch.seen, 500):
                c.execute(update(RecordState).where(RecordState.exchange == batch.exchange,
                                                    RecordState.source_key.in_(chunk)).values(seen_run=batch.run_id))
            for chunk in chunks(batch.forget, 500):
                c.execute(delete(RecordState).where(RecordState.exchange == batch.exchange,
                                                    RecordState.source_key.in_(chunk)))
            self._link(c, batch.links, batch.first_crossings)
            # an upsert, so that an outcome never lacks its row, whatever happened to the intent
            upsert(c, table_of(Effect), [
                dict(idempotency_key=k, exchange=batch.exchange, source_key=e.source_key, action=e.action,
                     status=e.status, target_key=e.target_key, run_id=batch.run_id, created_at=now, updated_at=now)
                for k, e in batch.effects_done.items()], ["idempotency_key"], ["status", "target_key", "updated_at"])
            if batch.intent_batches:
                c.execute(delete(LedgerBatch).where(LedgerBatch.id.in_(batch.intent_batches)))
            insert_rows(c, table_of(RecordLog), Rows(LOG_COLUMNS, [(batch.run_id, batch.exchange, now, *e)
                                                                   for e in batch.log]))
            added = self._dead_letters(c, batch, now)
            search_index.write(c, batch.exchange, batch.run_id, batch.search, now)
            for chunk in chunks(batch.resolved, 500):
                c.execute(update(DeadLetter).where(
                    DeadLetter.exchange == batch.exchange, DeadLetter.source_key.in_(chunk),
                    DeadLetter.status == "open").values(status="resolved", last_seen=now))
            if batch.save_checkpoint:
                self._save_checkpoint(c, batch.exchange, batch.checkpoint, batch.run_id)
            elif deferred is not None:
                self._save_checkpoint(c, deferred.exchange, deferred.checkpoint, batch.run_id)
            progress.dead_letters_added += added
            self._progress(c, batch.run_id, progress)
        self._last_commit = time.monotonic()
        return added

    @staticmethod
    def _save_states(c: Any, batch: BatchCommit, now: dt.datetime) -> None:
        fresh: list[tuple[Any, ...]] = []  # first crossings: inserted
        known: list[tuple[Any, ...]] = []  # upserted
        exchange, run_id, first = batch.exchange, batch.run_id, batch.first_crossings
        for key, state in batch.states.items():  # one pass, a tuple per row: this runs for every record
            (fresh if key in first else known).append((exchange, key, *state, run_id, now))
        conflict, update = ["exchange", "source_key"], STATE_COLUMNS[2:]
        insert_new(c, table_of(RecordState), Rows(STATE_COLUMNS, fresh), conflict, update)
        upsert(c, table_of(RecordState), Rows(STATE_COLUMNS, known), conflict, update)

    def _progress(self, c: Any, run_id: int, counts: Counts) -> None:
        increments = {name: getattr(Run, name) + value for name, value in counts.as_dict().items() if value}
        if increments:  # an empty batch (a source with nothing left in it) changes no counter
            c.execute(update(Run).where(Run.id == run_id).values(**increments))

    def _dead_letters(self, c: Any, batch: BatchCommit, now: dt.datetime) -> int:
        if not batch.failures:
            return 0
        keys = [f.source_key for f in batch.failures]
        existing = {k: (i, s) for k, i, s in c.execute(select(DeadLetter.source_key, DeadLetter.id, DeadLetter.status)
                                                        .where(DeadLetter.exchange == batch.exchange,
                                                               DeadLetter.source_key.in_(keys)))}
        added = 0
        for failure in batch.failures:
            values = dict(payload=codec.dumps(failure.payload), mapping_version=batch.mapping_version,
                          error_class=failure.error_class, message=failure.message[:4000], run_id=batch.run_id,
                          last_seen=now)
            if failure.source_key in existing:
                letter_id, status = existing[failure.source_key]
                c.execute(update(DeadLetter).where(DeadLetter.id == letter_id).values(  # open again: not discarded
                    status="open", attempts=DeadLetter.attempts + 1, discard_reason=None, discarded_by=None, **values))
                added += status != "open"
            else:
                c.execute(table_of(DeadLetter).insert().values(
                    exchange=batch.exchange, source_key=failure.source_key, status="open", attempts=1,
                    first_seen=now, **values))
                added += 1
        return added

    def _link(self, c: Any, links: list[KeyLink], first_crossings: Collection[str] = ()) -> None:
        """Key-map rows for ``links``; those of records crossing for the first time (by source key) are
        inserted (another exchange may have linked the same object: then they are upserted after all)."""
        # one row per link: an upsert may not touch the same row twice in one statement (PostgreSQL refuses)
        unique = {link[:4]: link for link in links}
        now = utcnow()
        fresh: list[tuple[Any, ...]] = []  # links of first crossings: inserted
        known: list[tuple[Any, ...]] = []  # upserted
        for link in unique.values():
            (fresh if link.id_a in first_crossings else known).append((*link, now))
        conflict, update = LINK_COLUMNS[:4], LINK_COLUMNS[4:]
        insert_new(c, table_of(KeyMap), Rows(LINK_COLUMNS, fresh), conflict, update)
        upsert(c, table_of(KeyMap), Rows(LINK_COLUMNS, known), conflict, update)

    def _save_checkpoint(self, c: Any, exchange: str, state: Any, run_id: int | None) -> None:
        upsert(c, table_of(Checkpoint), [dict(exchange=exchange, state=None if state is None else codec.dumps(state),
                                              run_id=run_id, updated_at=utcnow())],
               ["exchange"], ["state", "run_id", "updated_at"])

    # -- dead letters ----------------------------------------------------------------------------------

    def dead_letters(self, exchange: str | None = None, status: LetterStatus | None = "open", limit: int = 100,
                     ids: Sequence[int] | None = None, *, error_class: str | None = None,
                     seen_before: dt.datetime | None = None, exchanges: Collection[str] | None = None,
                     newest_first: bool = False) -> list[DeadLetter]:
        """Dead letters, oldest first (or newest), filtered by exchange (one, or any of ``exchanges``), status,
        error class and first seen before ``seen_before`` (older than an age)."""
        query = select(DeadLetter).order_by(DeadLetter.id.desc() if newest_first else DeadLetter.id).limit(limit)
        if exchange:
            query = query.where(DeadLetter.exchange == exchange)
        if exchanges is not None:
            query = query.where(DeadLetter.exchange.in_(list(exchanges)))
        if status:
            query = query.where(DeadLetter.status == status)
        if ids:
            query = query.where(DeadLetter.id.in_(list(ids)))
        if error_class:
            query = query.where(DeadLetter.error_class == error_class)
        if seen_before is not None:
            query = query.where(DeadLetter.first_seen < seen_before)
        with self.engine.connect() as c:
            return list(c.execute(query).all())  # type: ignore[arg-type]

    def dead_letter_groups(self, status: LetterStatus | None = "open") -> list[tuple[str, str, int, dt.datetime]]:
        """(exchange, error class, how many, oldest first seen) of the dead letters with ``status``."""
        query = (select(DeadLetter.exchange, DeadLetter.error_class, func.count(), func.min(DeadLetter.first_seen))
                 .group_by(DeadLetter.exchange, DeadLetter.error_class)
                 .order_by(DeadLetter.exchange, DeadLetter.error_class))
        if status:
            query = query.where(DeadLetter.status == status)
        with self.engine.connect() as c:
            return [(row[0], row[1], int(row[2]), row[3]) for row in c.execute(query)]

    def open_dead_letters(self, exchange: str) -> list[OpenLetter]:
        """Every open dead letter of ``exchange``, without payloads."""
        with self.engine.connect() as c:
            rows = c.execute(select(DeadLetter.id, DeadLetter.source_key, DeadLetter.error_class).where(
                DeadLetter.exchange == exchange, DeadLetter.status == "open").order_by(DeadLetter.id))
            return [OpenLetter(*row) for row in rows]

    def dead_letter_count(self, exchange: str | None = None, status: LetterStatus = "open") -> int:
        query = select(func.count()).select_from(DeadLetter).where(DeadLetter.status == status)
        if exchange:
            query = query.where(DeadLetter.exchange == exchange)
        with self.engine.connect() as c:
            return int(c.execute(query).scalar_one())

    def discard_dead_letters(self, ids: Sequence[int], reason: str | None = None, by: str | None = None) -> int:
        """Mark open dead letters as handled by hand, keeping why and by whom; returns how many were open."""
        with self.engine.begin() as c:
            return c.execute(update(DeadLetter).where(DeadLetter.id.in_(list(ids)), DeadLetter.status == "open")
                             .values(status="discarded", last_seen=utcnow(), discard_reason=reason,
                                     discarded_by=by[:128] if by else None)).rowcount

    # -- inbox -----------------------------------------------------------------------------------------

    def inbox_put(self, stream: str, dedup_key: str, payload: dict[str, Any],
                  meta: dict[str, Any] | None = None) -> tuple[int, bool]:
        """Commit an event durably; returns (inbox id, created). A known (stream, dedup_key) is a no-op."""
        try:
            with self.engine.begin() as c:
                result = c.execute(table_of(InboxEvent).insert().values(
                    stream=stream, dedup_key=dedup_key, payload=codec.dumps(payload),
                    meta=codec.dumps(meta) if meta else None, received_at=utcnow()))
                return _new_id(result), True
        except IntegrityError:
            with self.engine.connect() as c:
                row = c.execute(select(InboxEvent.id).where(InboxEvent.stream == stream,
                                                            InboxEvent.dedup_key == dedup_key)).first()
            if row is None:
                raise
            return int(row[0]), False

    def inbox_put_many(self, items: Sequence[InboxItem], *, on_begin: TransactionHook | None = None,
                       before_commit: TransactionHook | None = None) -> list[Stored]:
        """Commit many events in ONE transaction (a group commit: one durable write for the lot).

        Returns where each item is, in order. An item whose key or ``seen_as`` keys are stored already, or
        that repeats an earlier item of the same call, is a no-op pointing at the stored event. If a
        concurrent writer commits one of the keys first, the transaction is retried: nothing is stored twice.
        ``on_begin`` and ``before_commit`` run inside the transaction (a writer's lease check: an exception from
        ``before_commit`` rolls the inserts back).
        """
        for attempt in range(3):
            try:
                with self.engine.begin() as c:
                    if on_begin is not None:
                        on_begin(c)
                    stored = self._inbox_insert(c, items)
                    if before_commit is not None:
                        before_commit(c)
                    return stored
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _inbox_insert(self, c: Any, items: Sequence[InboxItem]) -> list[Stored]:
        known = self._inbox_ids(c, {key for item in items for key in item.all_keys()})
        results: list[Stored | None] = [None] * len(items)
        fresh: dict[tuple[str, str], list[int]] = {}  # dedup key -> positions of the items it stands for
        rows: list[dict[str, Any]] = []
        now = utcnow()
        for position, item in enumerate(items):
            stored = next((key for key in item.all_keys() if key in known), None)
            if stored is not None:
                results[position] = Stored(known[stored], False, stored[1])
                continue
            earlier = next((key for key in item.all_keys() if key in fresh), None)
            if earlier is not None:
                fresh[earlier].append(position)
                continue
            fresh[(item.stream, item.dedup_key)] = [position]
            rows.append(dict(stream=item.stream, dedup_key=item.dedup_key, payload=codec.dumps(item.payload),
                             meta=codec.dumps(item.meta) if item.meta else None, received_at=now))
        for (key, positions), new_id in zip(fresh.items(), self._insert_inbox_rows(c, rows), strict=True):
            results[positions[0]] = Stored(new_id, True, key[1])
            for repeat in positions[1:]:
                results[repeat] = Stored(new_id, False, key[1])
        return results  # type: ignore[return-value]  # every position was filled above

    def _inbox_ids(self, c: Any, keys: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
        by_stream: dict[str, list[str]] = {}
        for stream, key in keys:
            by_stream.setdefault(stream, []).append(key)
        found: dict[tuple[str, str], int] = {}
        for stream, stream_keys in by_stream.items():
            for chunk in chunks(stream_keys, 500):
                for key, inbox_id in c.execute(select(InboxEvent.dedup_key, InboxEvent.id).where(
                        InboxEvent.stream == stream, InboxEvent.dedup_key.in_(chunk))):
                    found[(stream, key)] = int(inbox_id)
        return found

    def _insert_inbox_rows(self, c: Any, rows: list[dict[str, Any]]) -> list[int]:
        table = table_of(InboxEvent)
        if not rows:
            return []
        if c.dialect.insert_executemany_returning_sort_by_parameter_order:
            inserted = c.execute(table.insert().returning(table.c.id, sort_by_parameter_order=True), rows)
            return [int(row[0]) for row in inserted]
        return [int(c.execute(table.insert().values(**row)).inserted_primary_key[0]) for row in rows]

    def inbox_read(self, stream: str, after: int, limit: int) -> list[tuple[int, dict[str, Any],
                                                                             dict[str, Any] | None, dt.datetime]]:
        """The events of ``stream`` after position ``after``, as (position, payload, meta, received_at).

        Positions follow the order events became visible (:mod:`hub.state.inbox_order`, numbered here just
        before reading): an event committed later never gets a position below one already read, so ``after``
        = the last position read is a checkpoint that no number of concurrent writers can fool.
        """
        inbox_order.assign(self.engine, stream)
        with self.engine.connect() as c:
            rows = c.execute(select(InboxEvent.position, InboxEvent.payload, InboxEvent.meta, InboxEvent.received_at)
                             .where(InboxEvent.stream == stream, InboxEvent.position > after)
                             .order_by(InboxEvent.position).limit(limit))
            # positions are numbered (non-NULL) for every row past `after`, the test only narrows the type
            return [(i, codec.loads(p), codec.loads(m), r) for i, p, m, r in rows if i is not None]

    # -- search index (hub.search) ---------------------------------------------------------------------

    def prune_search_index(self, retention_days: float) -> int:
        return search_index.prune(self.engine, retention_days)

    def search_by_value(self, readings: Iterable[tuple[str, str]]) -> list[Any]:
        return search_index.by_value(self.engine, readings)

    def search_of_records(self, records: Iterable[tuple[str, str]]) -> list[Any]:
        return search_index.of_records(self.engine, records)

    # -- provenance ------------------------------------------------------------------------------------

    def trace(self, key: str) -> dict[str, list[Any]]:
        """Every run, dead letter, key-map entry and effect that touched a business key."""
        with self.engine.connect() as c:
            log = list(c.execute(select(RecordLog).where(or_(RecordLog.source_key == key, RecordLog.target_key == key))
                                 .order_by(RecordLog.id)).all())
            letters = list(c.execute(select(DeadLetter).where(DeadLetter.source_key == key)).all())
            states = list(c.execute(select(RecordState).where(
                or_(RecordState.source_key == key, RecordState.target_key == key))).all())
            effects = list(c.execute(select(Effect).where(
                or_(Effect.source_key == key, Effect.target_key == key))).all())
            run_ids = {row.run_id for row in log} | {row.run_id for row in letters if row.run_id}
            runs = list(c.execute(select(Run).where(Run.id.in_(run_ids)).order_by(Run.id)).all()) if run_ids else []
        return {"runs": runs, "record_log": log, "dead_letters": letters, "record_state": states,
                "key_map": self.key_links(key), "effects": effects}


#: marks the store's commit thread (see StateStore.commit_in_background)
_committing = threading.local()


class _InFlight(NamedTuple):
    """A batch commit running on the commit thread, and who handed it over."""

    future: Future[int]
    done: Callable[[int], None]  # told the dead letters it added, in the owner's thread
    owner: int  # the thread's ident


def airflow_trigger() -> str | None:
    """The Airflow task running this process (``hub run`` in a BashOperator), as the DAG tasks name themselves
    in ``triggered_by`` (airflow_hub.tasks): ``hub trace`` links each write to the DAG run that did it."""
    run_id = os.environ.get("AIRFLOW_CTX_DAG_RUN_ID")
    if not run_id:
        return None
    return f"airflow {os.environ.get('AIRFLOW_CTX_TASK_ID', 'task')} {run_id}"[:128]
def _new_id(result: CursorResult[Any]) -> int:
    """The id an INSERT of one row generated."""
    key = result.inserted_primary_key
    assert key is not None  # an INSERT of one row into a table with an autoincrement key
    return int(key[0])


def _only_progress(batch: BatchCommit) -> bool:
    """Whether the batch changes nothing but the checkpoint and the run's counters."""
    return not (batch.states or batch.seen or batch.forget or batch.links or batch.effects_done
                or batch.intent_batches or batch.log or batch.failures or batch.resolved or batch.search)


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    """Consecutive slices of ``items``, each at most ``size`` long (IN lists, batches)."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


__all__ = ["BatchCommit", "Counts", "EffectOutcome", "Failure", "InboxItem", "Intent", "KeyLink", "OpenLetter",
           "PendingEffect", "PriorState", "Settlement", "StateStore", "Stored", "chunks"]
