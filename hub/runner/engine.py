"""Run one exchange: read -> lookups -> where -> map -> compare -> plan -> (apply) -> commit, per batch.

``plan`` does everything but the writes and the state changes, so what it reports is what ``apply``
would do. ``apply`` records intent in the effect ledger, writes through the target connector, then
commits the batch's state (hashes, key map, ledger outcomes, dead letters, checkpoint) in one
transaction. Where the target's write is an idempotent upsert (it cannot duplicate when repeated), updates
skip the ledger: the target search before each write and the upsert itself make a repeat harmless. Creates
keep a pending entry even there: it is what tells a later run, after a kill between the write and the
state commit, that the object exists (so that a deletion at the source still reaches it). There the batch's
creates share ONE entry (:meth:`StateStore.intend_batch`), removed by the batch's state commit: the record log
and the key map say who created each object. A run
killed at any point resumes from the last committed checkpoint; records written before the kill but not
committed are found again by the target lookup (or the ledger), never duplicated.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import repeat
from typing import Any, TypeVar, get_args

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from hub.connections import ConnectionResolver
from hub.connector import (
    SOURCE_REJECTED,
    ActionKind,
    AmbiguousMatch,
    Connector,
    ReadRequest,
    Record,
    SourceBatch,
    SourceRejection,
    WriteAction,
    WriteResult,
    connector_class,
    parse_options,
)
from hub.errors import (
    ConfigError,
    DataError,
    FatalError,
    HubError,
    OutcomeUnknown,
    RecordError,
    RetriableError,
    TooManyRejected,
    auto_replay_classes,
)
from hub.expr.functions import Loss
from hub.logs import get_logger
from hub.mapping.compiled import CompiledMapping
from hub.mapping.model import EachField
from hub.runner import deletions
from hub.runner.blame import blamed, failure
from hub.runner.collector import fewer_collections
from hub.runner.commits import Commits
from hub.runner.context import RunContext
from hub.runner.items import Item, idempotency_key, key_text, same_value, source_key
from hub.runner.pool import ConnectorPool
from hub.runner.read_ahead import read_ahead
from hub.runner.report import OUTCOMES, Change, FieldWarning, Outcome, RunReport, Sample
from hub.runner.rows import with_kept_rows
from hub.runner.settle import settle_ledger
from hub.search.entries import Indexer
from hub.settings import HubSettings
from hub.state import codec
from hub.state.models import RunMode
from hub.state.runlock import RunLock
from hub.state.runlog import LOCKED_MODES, mark_interrupted
from hub.state.store import (
    BatchCommit,
    Counts,
    EffectOutcome,
    Failure,
    Intent,
    KeyLink,
    LogEntry,
    PriorState,
    StateStore,
    chunks,
)

log = get_logger("hub.runner")
Progress = Callable[[RunReport], None]
T = TypeVar("T")
MASS_DELETE_SHARE = 0.5  # refuse to delete more than this share of known objects in one run
DELETE_MARK = "$delete"  # a dead letter for a failed deletion carries this key in its payload
#: what a write would have done, reported by a plan
PLANNED_OUTCOMES: dict[ActionKind, Outcome] = {"create": "created", "update": "updated", "delete": "deleted"}


class Runner:
    def __init__(self, compiled: CompiledMapping, settings: HubSettings, store: StateStore,
                 resolver: ConnectionResolver, progress: Progress | None = None):
        self.compiled = compiled
        self.mapping = compiled.mapping
        self.settings = settings
        self.store = store
        self.resolver = resolver
        self.progress = progress
        self.batch_size = batch_size_for(compiled, settings)

    # -- public entry points ----------------------------------------------------------------------------

    def plan(self, triggered_by: str | None = None) -> RunReport:
        return self._run("plan", triggered_by, lambda run: self._sync(run, apply=False))

    def apply(self, triggered_by: str | None = None, allow_mass_delete: bool = False) -> RunReport:
        def body(run: _Run) -> None:
            self.store.prune_search_index(self.settings.search_retention_days)
            run.report.ledger_settled = settle_ledger(run)
            self._replay(run, run.auto_replay_ids, apply=True)
            self._sync(run, apply=True, allow_mass_delete=allow_mass_delete)
            run.report.ledger_unknown = self.store.unknown_effects(self.mapping.exchange).get(self.mapping.exchange, 0)
        return self._run("apply", triggered_by, body)

    def replay(self, ids: Sequence[int] | None = None, triggered_by: str | None = None,
               apply: bool = True) -> RunReport:
        """Send dead letters (all open ones of this exchange, or ``ids``) through the current mapping; without
        ``apply``, a plan of that (what the replay would change, writing nothing)."""
        return self._run("replay" if apply else "plan", triggered_by,
                         lambda run: self._replay(run, ids, apply=apply))

    # -- run lifecycle ----------------------------------------------------------------------------------

    def _run(self, mode: RunMode, triggered_by: str | None, body: Callable[[_Run], None]) -> RunReport:
        with fewer_collections():
            if mode not in LOCKED_MODES:  # a plan writes nothing: it may run beside anything
                return self._logged_run(mode, triggered_by, body)
            with RunLock(self.store, self.mapping.exchange, self.settings.run_lock_wait, self.settings.run_lock_ttl):
                return self._logged_run(mode, triggered_by, body)

    def _logged_run(self, mode: RunMode, triggered_by: str | None, body: Callable[[_Run], None]) -> RunReport:
        run_id = self.store.start_run(self.mapping.exchange, mode, self.compiled.version, triggered_by)
        mark_interrupted(self.store, self.mapping.exchange, run_id, holds_lock=mode in LOCKED_MODES)
        report = RunReport(self.mapping.exchange, mode, run_id, self.compiled.version)
        started = time.monotonic()
        with ConnectorPool(self.resolver, self.settings) as pool:
            try:
                body(_Run(self, pool, report))  # opening the connectors may fail too: the run log says why
                self._check_rejections(mode, report)
                report.status = "success"
            except HubError as exc:
                report.status, report.message = "failed", _one_line(exc)
                raise
            except BaseException as exc:  # a bug, or Ctrl-C / SIGTERM: the run log must not say "running"
                report.status, report.message = "failed", f"unexpected {type(exc).__name__}: {_one_line(exc)}"
                raise
            finally:
                report.seconds = time.monotonic() - started
                self.store.finish_run(run_id, report.status, report.counts, report.message)
        return report

    def _check_rejections(self, mode: RunMode, report: RunReport) -> None:
        """Rejected records are a warning; above the mapping's ``alerts`` the run fails (its writes stay)."""
        rejected, read = report.counts.rejected, report.counts.read
        if not rejected:
            return
        log.warning("records rejected", exchange=self.mapping.exchange, mode=mode, rejected=rejected, read=read)
        exceeded = self.mapping.alerts.exceeded(rejected, read) if mode != "plan" else None
        if exceeded:
            raise TooManyRejected(f"rejected {rejected} of {read} records, {exceeded}; what could cross is "
                                  f"committed, see hub dead-letters list --exchange {self.mapping.exchange}")

    # -- reading ----------------------------------------------------------------------------------------

    def _sync(self, run: _Run, apply: bool, allow_mass_delete: bool = False) -> None:
        exchange = self.mapping.exchange
        source = self.mapping.source
        start = self.store.checkpoint(exchange)
        reading = _Reading()
        completed = False
        batches = self._read_with_retries(run, start, reading)
        if run.pool.get(source.connector, source.connection).capabilities.read_ahead:
            batches = read_ahead(batches)
        try:
            for batch in batches:
                items, unchanged = run.sift(batch.records, batch.fingerprints, batch.keys)
                run.process(items + run.items_from_rejections(batch.rejected), apply=apply,
                            checkpoint=batch.checkpoint, save_checkpoint=apply,
                            unchanged_keys=[*batch.unchanged_keys, *unchanged], priors_read=True, commit_later=True)
                completed = batch.checkpoint is None
        finally:  # the batches written so far are committed, whatever stopped the sweep
            batches.close()  # its reading stops (read ahead: the thread too)
            run.commits.flush()
        if not (source.incremental.detect_deletes and self.mapping.target.on_delete != "ignore"):
            return
        # Only a sweep read in one go, from its start, tells what disappeared: a sweep resumed after a kill or
        # a read error may have missed rows that moved meanwhile, so its deletions wait for the next sweep.
        if start is None and completed and not reading.resumed:
            run.delete_missing(apply=apply, allow_mass_delete=allow_mass_delete)
        elif completed:
            run.report.message = "deletions deferred to the next complete sweep (this one was resumed)"

    def _read_with_retries(self, run: _Run, start: Any, reading: _Reading) -> Generator[SourceBatch, None, None]:
        """Source batches; a retriable failure resumes reading from the last batch handed out."""
        source = self.mapping.source
        connector = run.pool.get(source.connector, source.connection)
        options = parse_options(type(connector).source_options, source.options, "source")
        select = self.compiled.source_fields if connector.capabilities.select_fields else None
        checkpoint, failures = start, 0
        while True:
            request = ReadRequest(stream=source.stream, key=tuple(source.key), fields=select,
                                  incremental=source.incremental, checkpoint=checkpoint,
                                  batch_size=self.batch_size, options=options,
                                  known_versions=self._known_versions)
            try:
                for batch in _blamed_batches(source.connector, connector, request):
                    yield batch
                    checkpoint, failures = batch.checkpoint, 0
                    if checkpoint is None:
                        return
                return
            except RetriableError as exc:
                failures += 1
                reading.resumed = True
                if failures >= self.settings.retry.attempts:
                    raise
                wait = min(self.settings.retry.max_wait, self.settings.retry.initial_wait * 2 ** failures)
                run.note_retry("reading the source", failures, exc, wait)
                time.sleep(wait)

    def _known_versions(self, keys: Sequence[str]) -> dict[str, str]:
        states = self.store.prior_states(self.mapping.exchange, list(keys))
        return {key: state.version for key, state in states.items() if state.version is not None}

    # -- dead-letter replay -----------------------------------------------------------------------------

    def _replay(self, run: _Run, ids: Sequence[int] | None, apply: bool) -> None:
        if ids is not None and not ids:
            return
        letters = self.store.dead_letters(self.mapping.exchange, status="open", limit=1_000_000, ids=ids)
        for chunk in chunks(letters, self.batch_size):
            payloads = [(letter.source_key, codec.loads(letter.payload)) for letter in chunk]
            missing = [(key, p.get("target_key")) for key, p in payloads if p.get(DELETE_MARK)]
            if missing:  # a deletion goes through the deletion rules again, whoever replays it
                kept, gone, guess = deletions.split_by_source(run, missing)
                run.apply_deletes(kept + deletions.decide(run, gone, guess), apply)
            # a row the source could not read waits for the source to be fixed (a good read resolves it)
            items = [Item(source_key=key, record=p) for key, p in payloads
                     if not p.get(DELETE_MARK) and not p.get(SOURCE_REJECTED)]
            if items:
                run.process(items, apply=apply, checkpoint=None, save_checkpoint=False, unchanged_keys=[],
                            resolve_always=True)


@dataclass
class _Reading:
    resumed: bool = False  # a read error made the source resume from a checkpoint mid-run


class _Run:
    """The state of one run: connectors, counters, the report; and the per-batch pipeline."""

    def __init__(self, runner: Runner, pool: ConnectorPool, report: RunReport):
        self.runner = runner
        self.mapping = runner.mapping
        self.compiled = runner.compiled
        self.store = runner.store
        self.context = RunContext(self.store, runner.settings.default_region, runner.settings.timezone)
        self.pool = pool
        self.report = report
        pool.on_retry = self.note_retry  # before any connector opens: their own retries count in this run
        target = self.mapping.target
        self.target: Connector = pool.get(target.connector, target.connection)
        self.target_options = parse_options(type(self.target).target_options, target.options, "target")
        self.target.use_target_options(target.entity, self.target_options)
        self.key_field = target.key or self.target.target_key_field(target.entity)
        self.can_lookup = self.target.capabilities.lookup
        #: writes that cannot duplicate when repeated (a native upsert on a unique match key): their updates need no
        #: ledger entry (see :meth:`_needs_intent`; the record log keeps the provenance)
        self.idempotent = bool(target.match) and self.target.upsert_is_idempotent(target.entity, tuple(target.match))
        #: the kinds of write whose outcome a batch commit records in the ledger one by one, when rejected and when
        #: done (a done create of a batch entry leaves with the entry: the record log and the key map keep the rest)
        self.ledger_rejected = frozenset(kind for kind in get_args(ActionKind) if self._needs_intent(kind))
        self.ledger_done = frozenset(kind for kind in self.ledger_rejected if not self._intended_by_batch(kind))
        #: the ledger entries of the batch being written, one per attempt (:meth:`_intend`), for its state commit
        self.intent_batches: list[int] = []
        if target.mode not in self.target.capabilities.write_modes:
            raise ConfigError(f"connector {target.connector!r} cannot write in mode {target.mode!r}")
        if target.mode == "update_only" and not self.can_lookup:
            raise ConfigError(f"connector {target.connector!r} cannot find objects, so it cannot update_only")
        letters = self.store.open_dead_letters(self.mapping.exchange)
        self.open_letters = {letter.source_key for letter in letters}
        auto_replay = auto_replay_classes()
        self.auto_replay_ids = [letter.id for letter in letters if letter.error_class in auto_replay]
        #: list fields whose target rows belong partly to people (``owns``): field -> the row fields telling them apart
        self.owned_rows = {name: spec.owns for name, spec in self.mapping.fields.items()
                           if isinstance(spec, EachField) and spec.owns}
        #: a plan commits nothing, so the store cannot tell which known records this run saw: it keeps them here
        self.planned_seen: set[str] = set()
        self.indexer = Indexer(self.mapping, runner.settings.default_region)  # the mapping's search: section
        self.commits = Commits(self.store, self._committed)

    # -- building items

    def sift(self, records: Sequence[Record], fingerprints: Sequence[str] | None = None,
             keys: Sequence[str | None] | None = None) -> tuple[list[Item], list[str]]:
        """Items for a batch of source records, each with what is known of it (:meth:`_skip_unchanged_sources`
        for the same on items); and the keys of the records a pure mapping can skip because their source did
        not change since they last crossed. Those get no item at all: on a re-run that finds nothing changed
        that is every record, and building items for them was most of the runner's own time. Records with
        an open dead letter still get one (crossing again resolves it), and so do the first few unchanged
        records of a run (the report's samples). ``fingerprints`` and ``keys``: the source's, per record (the
        source hash is taken over the fingerprints)."""
        if keys is None:
            key_fields = self.mapping.source.key
            keys = [source_key(record, key_fields) for record in records]
        known = [key for key in keys if key is not None]
        self.commits.before_lookup(known)
        prior = self.store.prior_states(self.mapping.exchange, known) if known else {}
        self.commits.after_lookup()
        skip = self.compiled.pure and not self.report.wants_sample("unchanged")
        items: list[Item] = []
        unchanged: list[str] = []
        each_fingerprint = repeat(None) if fingerprints is None else fingerprints
        for key, record, fingerprint in zip(keys, records, each_fingerprint):  # noqa: B905  # repeat() is endless
            state = prior.get(key) if key is not None else None
            source_hash, same = self._source_hash(record, state, fingerprint) if key is not None else (None, False)
            if same and skip and key not in self.open_letters:
                unchanged.append(key)  # type: ignore[arg-type]  # same: its key is not None
                continue
            item = self._item(key, record)
            item.prior, item.source_hash = state, source_hash
            if same:
                item.outcome, item.target_key = "unchanged", state.target_key  # type: ignore[union-attr]
            items.append(item)
        return items, unchanged

    def items_from_records(self, records: Iterable[dict[str, Any]]) -> list[Item]:
        return [self._item(source_key(record, self.mapping.source.key), record) for record in records]

    def _item(self, key: str | None, record: Record) -> Item:
        version_field = self.mapping.source.incremental.version_field
        item = Item(source_key=key or "", record=record,
                    version=key_text(record.get(version_field)) if version_field else None)
        if key is None:
            item.reject(DataError(f"the source record has no value for its key {self.mapping.source.key}"))
        return item

    @staticmethod
    def items_from_rejections(rejections: Iterable[SourceRejection]) -> list[Item]:
        items = []
        for rejection in rejections:
            item = Item(source_key=rejection.key, record=rejection.raw)
            item.reject(rejection.error)
            items.append(item)
        return items

    # -- the pipeline

    def process(self, items: list[Item], *, apply: bool, checkpoint: Any, save_checkpoint: bool,
                unchanged_keys: list[str], resolve_always: bool = False, priors_read: bool = False,
                commit_later: bool = False) -> None:
        """Take a batch through the pipeline; ``priors_read``: :meth:`sift` made the items (prior states and
        source hashes are set, unchanged sources marked); ``commit_later``: the batch's state may be committed
        while the next batch is processed (:mod:`hub.runner.commits`)."""
        if not priors_read:
            self._skip_unchanged_sources(items)
        where_first = not self.compiled.where_uses_lookups
        if where_first:
            self._where(items)
        self._lookups(items)
        if not where_first:
            self._where(items)
        self._map(items)
        self._compare(items)
        if apply:
            self._write(items)
        else:
            self._retried(partial(self._find_existing, [i for i in items if i.pending]))
            self._decide([i for i in items if i.pending])
            self._check_ledger([i for i in items if i.action])
            for item in items:
                if item.action and item.pending:
                    item.outcome = PLANNED_OUTCOMES[item.action.kind]
        self._finish(items, apply=apply, checkpoint=checkpoint, save_checkpoint=save_checkpoint,
                     unchanged_keys=unchanged_keys, resolve_always=resolve_always, commit_later=commit_later)

    def _skip_unchanged_sources(self, items: list[Item]) -> None:
        """Fetch what is known of each record; a pure mapping skips records whose source did not change."""
        keys = [i.source_key for i in items if i.pending]
        prior = self.store.prior_states(self.mapping.exchange, keys) if keys else {}
        for item in items:
            if not item.pending:
                continue
            item.prior = prior.get(item.source_key)
            item.source_hash, same = self._source_hash(item.record, item.prior)
            if same:
                item.outcome, item.target_key = "unchanged", item.prior.target_key  # type: ignore[union-attr]

    def _source_hash(self, record: Record, state: PriorState | None,
                     fingerprint: str | None = None) -> tuple[str | None, bool]:
        """The record's source hash (over the source's ``fingerprint`` of it, when given), and whether its last
        crossing left the same one. A mapping that is not pure (lookups, impure functions: its output depends on
        more than the record) keeps none: (None, False), so its records always go through the pipeline."""
        if not self.compiled.pure:
            return None, False
        source_hash = codec.content_hash([self.compiled.version, record]) if fingerprint is None else \
            codec.fingerprint_hash(self.compiled.version, fingerprint)
        return source_hash, state is not None and state.source_hash == source_hash

    def _where(self, items: list[Item]) -> None:
        where = self.compiled.where
        if where is None:
            return
        for item in items:
            if item.pending:
                try:
                    if not where(item.record, self.context, item.lookups):
                        item.outcome = "filtered"
                except RecordError as exc:
                    item.reject(exc)

    def _lookups(self, items: list[Item]) -> None:
        target = self.mapping.target
        for name, rule in self.mapping.lookups.items():
            connector = self.pool.get(rule.connector or target.connector, rule.connection or target.connection)
            waiting = [i for i in items if i.pending]
            for matcher in self.compiled.lookup_matchers[name]:
                groups: dict[tuple[str, ...], list[tuple[Item, tuple[Any, ...]]]] = {}
                for item in waiting:
                    try:
                        wanted = matcher(item.record, self.context, item.lookups)
                    except RecordError as exc:
                        item.reject(exc)
                        continue
                    if all(v is not None and v != "" for v in wanted.values()):
                        groups.setdefault(tuple(wanted), []).append((item, tuple(wanted.values())))
                for by, members in groups.items():
                    with blamed(rule.connector or target.connector, f"looking up {rule.entity!r}",
                                [i.source_key for i, _ in members]):
                        found = self._retried(partial(connector.lookup, rule.entity, by,
                                                      list({v for _, v in members}), rule.fields))
                    for item, values in members:
                        match = found.get(values)
                        if isinstance(match, AmbiguousMatch):
                            item.reject(_ambiguous(f"lookup {name!r}", by, values, match))
                        elif values in found:
                            item.lookups[name] = match
                waiting = [i for i in waiting if i.pending and name not in i.lookups]
            for item in items:
                item.lookups.setdefault(name, None)

    def _map(self, items: list[Item]) -> None:
        entity = self.mapping.target.entity
        context = self.context
        for item in items:
            if not item.pending:
                continue
            try:
                mapped = self.compiled.map_record(item.record, context, item.lookups)
                if context.losses:
                    item.losses = context.take_losses()
                try:
                    item.mapped = self.target.prepare(entity, mapped)
                except HubError:
                    raise
                except Exception as exc:
                    connector = self.mapping.target.connector
                    raise failure(connector, f"preparing {entity!r}", [item.source_key], exc) from exc
                item.content_hash = codec.content_hash(item.mapped)
            except RecordError as exc:
                if context.losses:
                    item.losses = context.take_losses()
                item.reject(_lost_values_first(exc, item.losses))

    def _compare(self, items: list[Item]) -> None:
        for item in items:
            if item.pending and item.prior and item.prior.content_hash == item.content_hash:
                item.outcome = "unchanged"
                item.target_key = item.prior.target_key

    def _find_existing(self, items: list[Item]) -> None:
        """Fetch the target objects these records correspond to: by known target key, else by match fields."""
        if not self.can_lookup or not items:
            return
        target = self.mapping.target
        fields = sorted(set(self.compiled.mapping.fields) | ({self.key_field} if self.key_field else set()))
        key_field = self.key_field
        by_key = [i for i in items if key_field and i.prior and i.prior.target_key]
        if key_field and by_key:
            with blamed(target.connector, f"looking up {target.entity!r}", [i.source_key for i in by_key]):
                found = self.target.lookup(target.entity, (key_field,),
                                           list({(i.prior.target_key,) for i in by_key}), fields)  # type: ignore[union-attr]
            found = {(key_text(k[0]),): v for k, v in found.items()}
            for item in by_key:
                existing = found.get((item.prior.target_key,))  # type: ignore[union-attr]
                item.existing = None if isinstance(existing, AmbiguousMatch) else existing  # ids are unique
        by_match = [i for i in items if i.existing is None and target.match]
        if by_match:
            match_fields = target.match
            values = {i.source_key: tuple([i.mapped.get(f) for f in match_fields]) for i in by_match}  # type: ignore
            with blamed(target.connector, f"looking up {target.entity!r}", [i.source_key for i in by_match]):
                found = self.target.lookup(target.entity, tuple(target.match), list(set(values.values())), fields)
            for item in by_match:
                match = found.get(values[item.source_key])
                if isinstance(match, AmbiguousMatch):
                    item.reject(_ambiguous(target.entity, target.match, values[item.source_key], match))
                else:
                    item.existing = match
            self._find_owners([i for i in by_match if i.existing is not None])

    def _find_owners(self, items: list[Item]) -> None:
        """An object found by its match values may belong to another source record (seen in an earlier
        batch or run): writing this one too would make two source records drive one object."""
        if not self.key_field or not items:
            return
        keys = {item.source_key: key_text(item.existing.get(self.key_field)) for item in items}  # type: ignore
        owners = self.store.owners(self.mapping.exchange, [k for k in keys.values() if k is not None])
        for item in items:
            others = owners.get(keys[item.source_key], set()) - {item.source_key}  # type: ignore[arg-type]
            item.owner = min(others) if others else None

    def _decide(self, items: list[Item]) -> None:
        target = self.mapping.target
        claimed: dict[tuple[Any, ...], str] = {}  # match values -> the source record of this batch that has them
        linked = [i.source_key for i in items if i.existing is not None]
        created = self.store.hub_created(self.mapping.exchange, linked) if self.owned_rows and linked else {}
        for item in items:
            mapped = item.mapped or {}
            match = {f: mapped.get(f) for f in target.match}
            if target.match:
                first = claimed.setdefault(tuple(match.values()), item.source_key)
                if first != item.source_key:  # writing both would create two objects, or one twice over
                    item.reject(DataError(f"source record {first} has the same {', '.join(target.match)} "
                                          f"({', '.join(map(str, match.values()))}); only one of them can cross"))
                    continue
                if item.owner is not None:  # the same, with the other record in an earlier batch or run
                    item.reject(DataError(
                        f"source record {item.owner} has the same {', '.join(target.match)} "
                        f"({', '.join(map(str, match.values()))}) and owns the target object; only one of them can "
                        f"cross. If {item.owner} no longer exists in the source, `hub forget "
                        f"{self.mapping.exchange} {item.owner}` frees the object for this one"))
                    continue
            existing = item.existing
            if existing is None:
                if target.mode == "update_only":
                    item.outcome = "skipped"
                    continue
                item.action = WriteAction("create", item.source_key, mapped, match, None,
                                          idempotency_key(self.mapping.exchange, item.source_key,
                                                          item.content_hash, "create"))
                continue
            item.target_key = key_text(existing.get(self.key_field)) if self.key_field else None
            if target.mode == "create":
                item.outcome = "unchanged"  # it exists already: a create-only exchange leaves it alone
                continue
            wanted = with_kept_rows(mapped, existing, self.owned_rows,
                                    item.target_key in created.get(item.source_key, {}))
            changes = tuple(Change(f, existing.get(f), v) for f, v in wanted.items()
                            if f not in target.create_only and not same_value(existing.get(f), v))
            if not changes:
                item.outcome = "unchanged"
                continue
            item.changes = changes
            item.action = WriteAction("update", item.source_key, {c.field: c.new for c in changes}, match,
                                      item.target_key,
                                      idempotency_key(self.mapping.exchange, item.source_key, item.content_hash,
                                                      "update"))

    def _check_ledger(self, items: list[Item]) -> None:
        """Writes already done are not done again; uncertain ones without a lookup go to an operator."""
        # where the target was searched, what it holds decided already: the ledger is asked about the others only
        items = [i for i in items if not self._searched(i)]
        effects = self.store.effects([i.action.idempotency_key for i in items]) if items else {}  # type: ignore
        for item in items:
            status = effects.get(item.action.idempotency_key)  # type: ignore[union-attr]
            if status is None:
                continue
            # "done" is committed with the record's state, so it only meets a record whose state moved on
            # since (a value changed back and forth): where the target was searched, what it holds now decides
            if status[0] == "done" and not self._searched(item):
                item.outcome, item.target_key, item.action = "unchanged", status[1], None
            elif status[0] == "pending" and not self.can_lookup:
                item.reject(OutcomeUnknown(
                    "an earlier attempt to write this record was interrupted and the target cannot be searched "
                    "to tell whether it happened; check the target, then replay or discard this dead letter"))

    def _searched(self, item: Item) -> bool:
        """Whether :meth:`_find_existing` could look for this record's object in the target."""
        return self.can_lookup and bool(self.mapping.target.match or (self.key_field and item.prior
                                                                      and item.prior.target_key))

    def _write(self, items: list[Item]) -> None:
        """Plan and write with retries; a retry re-plans first, so a write that did land is not repeated."""
        pending = [i for i in items if i.pending]
        if not pending:
            return
        attempted: dict[str, WriteAction] = {}  # source key -> the action sent in an earlier attempt
        for attempt in self._retrying():
            with attempt:
                for item in pending:
                    item.existing, item.owner, item.action, item.changes = None, None, None, ()
                    item.outcome, item.error = None, None
                self._find_existing(pending)
                self._decide([i for i in pending if i.pending])
                for item in pending:  # a lost response: the re-read shows the earlier attempt did land
                    earlier = attempted.get(item.source_key)
                    if item.outcome == "unchanged" and earlier is not None:
                        item.outcome = "created" if earlier.kind == "create" else "updated"
                        item.action = earlier  # so that the ledger records it as done
                with_action = [i for i in pending if i.action and i.pending]
                self._check_ledger(with_action)
                with_action = [i for i in with_action if i.action and i.pending]
                attempted.update((i.source_key, i.action) for i in with_action)  # type: ignore[misc]
                if with_action:
                    self._intend([i.action for i in with_action if self._needs_intent(i.action.kind)])  # type: ignore
                    results = self._written(with_action)
                    self._take_results(with_action, results)

    def _written(self, items: list[Item]) -> list[WriteResult]:
        target = self.mapping.target
        with blamed(target.connector, f"writing {target.entity!r}", [i.source_key for i in items]):
            return self.target.write(target.entity, [i.action for i in items], self.target_options)  # type: ignore

    def _intend(self, actions: list[WriteAction]) -> None:
        """Record these writes as pending before they are made: one ledger row each, or, where the upsert cannot
        duplicate and the target can find each object by its match values again, one entry for them all."""
        if not actions:
            return
        # plain tuples in Intent's field order: one is made for every record a first load creates
        intents = [(a.idempotency_key, a.source_key, a.kind, a.match, a.target_key) for a in actions]
        if all(self._intended_by_batch(action.kind) for action in actions):
            self.intent_batches.append(self.store.intend_batch(self.mapping.exchange, self.report.run_id, intents))
        else:
            self.store.intend(self.mapping.exchange, self.report.run_id, intents)

    def _intended_by_batch(self, kind: ActionKind) -> bool:
        """Whether the intent of a write of this kind goes into its batch's one ledger entry: a create by an
        idempotent upsert into a target that can find the object again by its match values (see
        :meth:`StateStore.intend_batch`)."""
        return kind == "create" and self.idempotent and self.can_lookup

    def _needs_intent(self, kind: ActionKind) -> bool:
        """Whether the ledger tracks writes of this kind: all of them, but updates written by an idempotent
        upsert (their object is known already, and writing them again is harmless)."""
        return not (self.idempotent and kind == "update")

    def _retrying(self) -> Retrying:
        policy = self.runner.settings.retry
        return Retrying(retry=retry_if_exception_type(RetriableError), reraise=True,
                        stop=stop_after_attempt(policy.attempts),
                        wait=wait_exponential(multiplier=policy.initial_wait, max=policy.max_wait),
                        before_sleep=self._before_retry)

    def _before_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        self.note_retry("talking to a system", state.attempt_number, exc,
                        state.next_action.sleep if state.next_action else 0.0)

    def note_retry(self, during: str, attempt: int, cause: BaseException | None, wait: float) -> None:
        """A transient failure is retried: never in silence (the operator sees a flaky link before it fails)."""
        self.report.retries += 1
        log.warning("retrying after a transient failure", exchange=self.mapping.exchange, during=during,
                    attempt=attempt, of=self.runner.settings.retry.attempts, wait_seconds=round(wait, 3),
                    cause=f"{type(cause).__name__}: {_one_line(cause)}" if cause else None)

    def _retried(self, call: Callable[[], T]) -> T:
        """``call()``, retried on retriable errors (a read-only call: repeating it is harmless)."""
        for attempt in self._retrying():
            with attempt:
                return call()
        raise AssertionError("unreachable: the last failure is re-raised")

    def _take_results(self, items: list[Item], results: list[WriteResult]) -> None:
        if len(results) != len(items):
            raise FatalError(f"connector {self.mapping.target.connector!r} returned {len(results)} results "
                             f"for {len(items)} writes")
        for item, result in zip(items, results, strict=True):
            if result.status == "rejected":
                error, action = result.error or RecordError("rejected by the target"), item.action
                item.reject(error)
                if not isinstance(error, OutcomeUnknown):
                    item.action = action  # the ledger records "rejected": nothing happened, a replay may write
            else:
                item.outcome = result.status
                item.target_key = key_text(result.target_key) if result.target_key is not None else item.target_key

    # -- deletions

    def delete_missing(self, apply: bool, allow_mass_delete: bool) -> None:
        """Known records the complete sweep did not see: deleted, kept or handed to a person (hub.runner.deletions)."""
        missing = self.store.unseen_keys(self.mapping.exchange, self.report.run_id)
        if not apply:
            missing = [(key, target_key) for key, target_key in missing if key not in self.planned_seen]
        kept, gone, guess = deletions.split_by_source(self, missing)
        known = len(missing) + self.report.counts.read
        if len(gone) > 10 and len(gone) > MASS_DELETE_SHARE * known and not allow_mass_delete:
            raise FatalError(f"refusing to delete {len(gone)} of {known} objects in one run: the source may be "
                             "unreachable or filtered by permissions; check it, then run with --allow-mass-delete")
        for chunk in chunks(kept, self.runner.batch_size):
            self.apply_deletes(list(chunk), apply, resolve_always=False)
        for chunk in chunks(gone, self.runner.batch_size):
            self.apply_deletes(deletions.decide(self, chunk, guess), apply)

    def apply_deletes(self, items: list[Item], apply: bool, resolve_always: bool = True) -> None:
        """Write the deletions among ``items`` (those still pending), then commit all of them."""
        doing = [i for i in items if i.pending]
        if apply and doing:
            self.store.intend(self.mapping.exchange, self.report.run_id,
                              [Intent(i.action.idempotency_key, i.source_key, "delete", None,  # type: ignore[union-attr]
                                      i.target_key) for i in doing])
            for attempt in self._retrying():
                with attempt:
                    results = self._written(doing)
            self._take_results(doing, results)
        elif not apply:
            for item in doing:
                item.outcome = "deleted"
        self._finish(items, apply=apply, resolve_always=resolve_always, forget=True)

    def delete_item(self, key: str, target_key: str | None) -> Item:
        target = self.mapping.target
        item = Item(source_key=key, record={DELETE_MARK: True, "target_key": target_key}, target_key=target_key)
        item.action = WriteAction("delete", key, dict(target.delete_fields) if target.on_delete == "mark" else {},
                                  {}, target_key, idempotency_key(self.mapping.exchange, key, None, "delete"))
        return item

    # -- committing

    def _finish(self, items: list[Item], *, apply: bool, resolve_always: bool, checkpoint: Any = None,
                save_checkpoint: bool = False, unchanged_keys: Sequence[str] = (), forget: bool = False,
                commit_later: bool = False) -> None:
        """Count, report and (``apply``) commit a processed batch in one transaction. ``checkpoint`` is saved
        only with ``save_checkpoint``; ``unchanged_keys``: records a version sweep did not re-read;
        ``resolve_always``: every record that got through closes its dead letter (a replay); ``forget``: a
        deletion batch (a record leaves the state only if its object was deleted)."""
        counts = Counts(read=0 if forget else len(items))
        commit = BatchCommit(self.mapping.exchange, self.report.run_id, self.compiled.version,
                             checkpoint=checkpoint, save_checkpoint=save_checkpoint, counts=counts,
                             intent_batches=self.intent_batches)
        self.intent_batches = []
        entity = self.mapping.target.key_map_entity or self.mapping.target.entity
        source_conn, target_conn = self.mapping.source.connection, self.mapping.target.connection
        tally: dict[str, int] = {}
        sampling = {outcome for outcome in OUTCOMES if self.report.wants_sample(outcome)}  # the rest are full
        for item in items:
            outcome = item.outcome or "skipped"
            tally[outcome] = tally.get(outcome, 0) + 1
            if outcome in sampling and self.report.wants_sample(outcome):
                self.report.sample(Sample(outcome, item.source_key, item.target_key, item.changes,
                                          str(item.error) if item.error else item.note))
            action = item.action
            if action is not None and action.kind in (self.ledger_rejected if outcome == "rejected" else
                                                       self.ledger_done):
                commit.effects_done[action.idempotency_key] = EffectOutcome(
                    "rejected" if outcome == "rejected" else "done", item.target_key, item.source_key, action.kind)
            if outcome == "rejected":
                error = item.error or RecordError("rejected")
                commit.failures.append(Failure(item.source_key, item.record, type(error).__name__, str(error)))
                continue
            if item.losses:
                counts.warnings += len(item.losses)
                for loss in item.losses:
                    self.report.warn(FieldWarning(item.source_key, loss.field, loss.problem))
            if item.source_key in self.open_letters or resolve_always:
                commit.resolved.append(item.source_key)
            if forget:  # deletions: the record leaves the state only if its object was deleted
                if outcome == "deleted":
                    commit.forget.append(item.source_key)
                continue
            if outcome in ("created", "updated", "unchanged") and item.content_hash is not None:
                commit.states[item.source_key] = PriorState(item.content_hash, item.version, item.target_key,
                                                            item.source_hash)
                if item.prior is None:
                    commit.first_crossings.add(item.source_key)
            if item.target_key is not None and outcome in ("created", "updated", "unchanged") and \
                    (item.prior is None or item.prior.target_key != item.target_key):
                commit.links.append(KeyLink(entity, source_conn, item.source_key, target_conn, item.target_key))
            if outcome in ("created", "updated", "deleted"):
                commit.log.append(LogEntry(item.source_key, item.target_key, outcome,
                                           ",".join([c.field for c in item.changes]) if item.changes else None))
        for counter, count in tally.items():
            setattr(counts, counter, getattr(counts, counter) + count)
        if self.mapping.source.incremental.detect_deletes:
            commit.seen = [i.source_key for i in items if i.source_key] + list(unchanged_keys)
            if not apply:
                self.planned_seen.update(commit.seen)
        counts.unchanged += len(unchanged_keys)
        counts.read += len(unchanged_keys)
        self.report.counts.add(counts)
        if apply:
            commit.search = self.indexer.rows(items)
            (self.commits.later if commit_later else self.commits.now)(commit)
        if self.runner.progress:
            self.runner.progress(self.report)

    def _committed(self, dead_letters_added: int) -> None:
        self.report.counts.dead_letters_added += dead_letters_added


def batch_size_for(compiled: CompiledMapping, settings: HubSettings) -> int:
    """The mapping's ``batch_size``, else ``HUB_BATCH_SIZE`` when set, else the smallest batch that every connector
    of the exchange declares it handles best (:attr:`Capabilities.batch_size`), else the hub's default."""
    mapping = compiled.mapping
    if mapping.batch_size:
        return mapping.batch_size
    if "batch_size" in settings.model_fields_set:
        return settings.batch_size
    names = {mapping.source.connector, mapping.target.connector,
             *(rule.connector or mapping.target.connector for rule in mapping.lookups.values())}
    preferred = [connector_class(name).capabilities.batch_size for name in sorted(names)]
    return min(size for size in preferred if size) if all(preferred) else settings.batch_size


def _ambiguous(where: str, by: Sequence[str], values: Sequence[Any], found: AmbiguousMatch) -> DataError:
    wanted = ", ".join(f"{f}={v!r}" for f, v in zip(by, values, strict=True))
    return DataError(f"{where}: {found.describe()} (all with {wanted}); the hub does not pick one by chance: "
                     "merge or correct the duplicates in the target, then replay this dead letter")


def _lost_values_first(error: RecordError, losses: list[Loss]) -> RecordError:
    """The error a lossy conversion led to, told by what was typed ("'12' is not a phone number"), not by what
    the conversion left of it ("None is not a phone number")."""
    field = getattr(error, "field", None)
    text = str(error)
    related = [loss for loss in losses if loss.field == field or (field is None and loss.field in text)]
    if not related:
        return error
    lost = "; ".join(f"field {loss.field!r}: {loss.detail}" for loss in related)
    if field is None:  # the target refused what the mapping left of the record
        return _same_kind(error, f"{lost}; the target refused what was left: {text}")
    wrapped = _same_kind(error, f"{lost} ({text.removeprefix(f'field {field!r}: ')})")
    wrapped.field = field  # type: ignore[attr-defined]
    return wrapped


def _same_kind(error: RecordError, message: str) -> RecordError:
    try:
        return type(error)(message)
    except TypeError:  # a connector's error class built differently: the record still goes to dead letters
        return DataError(message)


def _blamed_batches(name: str, connector: Connector, request: ReadRequest) -> Iterator[SourceBatch]:
    """The source's batches; an exception that is not a hub error names the last record read before it.
    Only the source's own code runs inside :func:`blamed`: what the runner does with a batch is not its fault."""
    doing = f"reading stream {request.stream!r}"
    last: list[str] = []
    with blamed(name, doing, last, after=True):
        batches = iter(connector.read(request))
    while True:
        with blamed(name, doing, last, after=True):
            batch = next(batches, None)
        if batch is None:
            return
        key = source_key(batch.records[-1], list(request.key)) if batch.records else None
        last = [key] if key else last
        yield batch


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 500 else text[:497] + "..."
