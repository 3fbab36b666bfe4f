"""Standard tests every connector should pass, in the spirit of the Singer SDK's and Airbyte CDK's suites.

A connector's test class composes the kits for what the connector is — :class:`SourceKit`,
:class:`TargetKit` plus :class:`LookupKit`, :class:`UpdateKit`, :class:`RejectionKit`, or all of them as
:class:`ConnectorKit`; a source that refuses bad rows or files adds :class:`SourceRejectionKit` (fixture
``rejection_case``) — and provides the fixtures they use::

    class TestMyConnector(ConnectorKit):
        @pytest.fixture
        def connector_factory(self) -> Callable[[], Connector]: ...   # a fresh, unopened connector
        @pytest.fixture
        def stream_case(self) -> StreamCase: ...       # a stream whose rows are known
        @pytest.fixture
        def target_case(self) -> TargetCase: ...       # an entity the kit may write to

and gets the tests below. Nothing is skipped: a target's test class must include the kit of every capability
its connector declares (``TargetKit`` checks that). :class:`ChangesKit` adds data that changes between two
runs (fixture ``stream_change``), :class:`ErrorKit` the error classes of a system that is away (fixture
``unreachable_factory``). Helpers (:func:`read_all`, :func:`read_request`, :func:`create_action`) are public
so connector-specific tests can use them too.

A failing check shows what the connector gave against what was expected, as a diff: the kit is registered
for pytest's assertion rewriting (the ``hub_connector_kit`` pytest plugin, installed with the hub).

The contract checked is the one in :mod:`hub.connector`: every row exactly once across batches; resuming
from any saved (JSON round-tripped) checkpoint skips nothing and repeats nothing; the last batch of a hash
sweep has ``checkpoint=None``; create is idempotent on the match fields; update changes only what it is
given; one bad record is rejected without stopping the others; prepared values read back equal.
"""

from __future__ import annotations

import itertools
import json
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel

from hub.connector import (
    SOURCE_REJECTED,
    AmbiguousMatch,
    Connector,
    NoOptions,
    ReadRequest,
    Record,
    SourceBatch,
    WriteAction,
    WriteResult,
)
from hub.errors import ConfigError, HubError, RecordError, RetriableError
from hub.mapping.model import Incremental

#: record numbers handed to ``TargetCase.make_record``: distinct within a session, and across sessions
#: sharing a database (random start)
_numbers = itertools.count(random.SystemRandom().randrange(1, 10**6) * 1000)


def next_number() -> int:
    return next(_numbers)


@dataclass(frozen=True)
class StreamCase:
    """A stream the kit reads, with every row it holds (only the fields given are compared)."""

    name: str
    key: tuple[str, ...]
    rows: Sequence[Record]
    incremental: Incremental = field(default_factory=Incremental)
    options: BaseModel = field(default_factory=NoOptions)
    #: a few fields for the select_fields test (default: the first field that is not part of the key)
    select: frozenset[str] | None = None
    #: small, so that even a short stream spans several batches
    batch_size: int = 3
    #: a cursor read starts AT the checkpoint's value, not after it (the value is not unique, e.g. a document
    #: date): the rows with that value are read again, harmlessly, and resuming is not exact
    cursor_inclusive: bool = False

    @property
    def exact_resume(self) -> bool:
        return self.incremental.lookback == 0 and not self.cursor_inclusive

    def key_of(self, record: Record) -> tuple[Any, ...]:
        return tuple(record[k] for k in self.key)


@dataclass(frozen=True)
class TargetCase:
    """An entity the kit writes to. ``make_record(n)``: a valid new record; distinct ``n``, distinct match."""

    entity: str
    match: tuple[str, ...]
    make_record: Callable[[int], Record]
    update_field: str  # a field the update test changes
    update_value: Callable[[int], Any]  # its new value (different from make_record's)
    make_bad_record: Callable[[int], Record] | None = None  # one the target refuses (constraint, bad value)
    options: BaseModel = field(default_factory=NoOptions)


@dataclass(frozen=True)
class RejectionCase:
    """A stream with rows or files the source must refuse: ``stream.rows`` are the good rows, ``rejected`` the
    keys of the refused ones (``"file:line"`` where the row has no readable key)."""

    stream: StreamCase
    rejected: Sequence[str]


def read_request(case: StreamCase, *, checkpoint: Any = None, fields: frozenset[str] | None = None,
                 batch_size: int | None = None) -> ReadRequest:
    return ReadRequest(stream=case.name, key=case.key, fields=fields, incremental=case.incremental,
                       checkpoint=checkpoint, batch_size=batch_size or case.batch_size, options=case.options)


def read_all(connector: Connector, request: ReadRequest) -> list[SourceBatch]:
    """Every batch, each checkpoint passed through JSON as the state store would."""
    batches = list(connector.read(request))
    for batch in batches:
        batch.checkpoint = json.loads(json.dumps(batch.checkpoint))
    return batches


def create_action(case: TargetCase, record: Record, number: int, *, attempt: int = 1) -> WriteAction:
    return WriteAction(kind="create", source_key=f"kit-{number}", fields=record,
                       match={f: record[f] for f in case.match}, target_key=None,
                       idempotency_key=f"kit-{number}-create-{attempt}")


def _records(batches: Sequence[SourceBatch]) -> list[Record]:
    return [record for batch in batches for record in batch.records]


class _KitHelpers:
    @staticmethod
    def _write(connector: Connector, case: TargetCase, actions: list[WriteAction]) -> list[WriteResult]:
        results = connector.write(case.entity, actions, case.options)
        assert len(results) == len(actions), "write must return one result per action"
        assert [r.source_key for r in results] == [a.source_key for a in actions], "results must keep the order"
        return results

    def _create(self, connector: Connector, case: TargetCase) -> tuple[int, Record, WriteResult]:
        number = next_number()
        record = connector.prepare(case.entity, case.make_record(number))
        [result] = self._write(connector, case, [create_action(case, record, number)])
        assert result.status == "created", f"creating a new record gave {result.status}: {result.error}"
        return number, record, result

    def _find(self, connector: Connector, case: TargetCase, record: Record) -> Record | None:
        connector.use_target_options(case.entity, case.options)  # as the runner does before its lookups
        values = tuple(record[f] for f in case.match)
        found = connector.lookup(case.entity, case.match, [values], sorted(record)).get(values)
        assert not isinstance(found, AmbiguousMatch), f"one record written, yet lookup found {found.describe()}"
        return found

    def test_check_reports_success(self, connector_factory: Callable[[], Connector]) -> None:
        with connector_factory() as connector:
            status = connector.check()
        assert isinstance(status, str) and status.strip()


class SourceKit(_KitHelpers):
    """Standard tests of a source: describe, read every row once, resume from any checkpoint, select fields."""

    #: False for a source that reads any stream name (an inbox stream exists before its first event)
    fixed_streams: ClassVar[bool] = True

    def test_describe_lists_the_stream_fields(self, connector_factory: Callable[[], Connector],
                                              stream_case: StreamCase) -> None:
        with connector_factory() as connector:
            info = connector.describe_source(stream_case.name, stream_case.options)
        assert info is not None, f"describe_source({stream_case.name!r}, <the case's options>) found nothing"
        if "*" not in info.fields:  # a schemaless stream may have any field
            expected = set(stream_case.key).union(*(row.keys() for row in stream_case.rows))
            missing = sorted(expected - set(info.fields))
            assert missing == [], "fields the rows have that describe_source does not list"

    def test_describe_of_an_unknown_stream(self, connector_factory: Callable[[], Connector]) -> None:
        with connector_factory() as connector:
            info = connector.describe("no_such_entity_kit_xyz")
        if self.fixed_streams:
            assert info is None, "describe() of a stream that does not exist must be None"
        else:
            assert info is not None, "this source reads any stream name, so describe() must answer for any"

    def test_reading_an_unknown_stream_is_a_config_error(self, connector_factory: Callable[[], Connector],
                                                          stream_case: StreamCase) -> None:
        """A misspelt stream is the mapping's mistake: a ConfigError (one line, not retried), not a crash."""
        if not self.fixed_streams:
            return  # any name is a stream (an inbox stream exists before its first event)
        unknown = StreamCase("no_such_entity_kit_xyz", stream_case.key, [], stream_case.incremental,
                             stream_case.options)
        with connector_factory() as connector:
            try:
                batches = read_all(connector, read_request(unknown))
            except ConfigError:
                return
            except HubError as exc:
                raise AssertionError(f"reading a stream that does not exist raised {type(exc).__name__} ({exc}); "
                                     "expected a ConfigError") from exc
        raise AssertionError(f"reading a stream that does not exist gave {len(batches)} batches, not a ConfigError")

    # -- reading
    def test_full_read_returns_every_row_exactly_once(self, connector_factory: Callable[[], Connector],
                                                      stream_case: StreamCase) -> None:
        with connector_factory() as connector:
            batches = read_all(connector, read_request(stream_case))
        records = _records(batches)
        counts = Counter(stream_case.key_of(r) for r in records)
        assert [k for k, n in counts.items() if n > 1] == [], "rows read more than once"
        expected = {stream_case.key_of(row): row for row in stream_case.rows}
        assert sorted(counts, key=repr) == sorted(expected, key=repr), "the keys read are not the stream's keys"
        for record in records:
            row = expected[stream_case.key_of(record)]
            got = {f: record.get(f) for f in row}
            assert got == dict(row), f"record {stream_case.key_of(record)} read differently"
        assert all(len(b.records) <= stream_case.batch_size for b in batches), "a batch exceeds batch_size"
        if stream_case.incremental.strategy == "hash":
            assert batches and batches[-1].checkpoint is None, "a complete sweep must end with checkpoint None"

    def test_resume_from_every_checkpoint_skips_and_repeats_nothing(
            self, connector_factory: Callable[[], Connector], stream_case: StreamCase) -> None:
        with connector_factory() as connector:
            batches = read_all(connector, read_request(stream_case))
        assert len(batches) > 1, "the case must span several batches to test resuming"
        exact = stream_case.exact_resume
        for position, batch in enumerate(batches[:-1]):
            assert batch.checkpoint is not None, f"batch {position} has no checkpoint to resume from"
            with connector_factory() as connector:  # a new process after a kill
                rest = _records(read_all(connector, read_request(stream_case, checkpoint=batch.checkpoint)))
            expected = [stream_case.key_of(r) for r in _records(batches[position + 1:])]
            got = [stream_case.key_of(r) for r in rest]
            if exact:
                assert got == expected, f"resuming after batch {position}"
            else:  # a lookback window re-reads a little before the checkpoint: nothing may be missing
                assert set(expected) <= set(got), f"resuming after batch {position} lost rows"
        if stream_case.incremental.strategy == "cursor" and exact:
            with connector_factory() as connector:
                again = _records(read_all(connector, read_request(stream_case, checkpoint=batches[-1].checkpoint)))
            assert again == [], "nothing changed since the last checkpoint, yet rows were read"

    def test_selected_fields_are_read(self, connector_factory: Callable[[], Connector],
                                                       stream_case: StreamCase) -> None:
        with connector_factory() as connector:
            selects = connector.capabilities.select_fields
            fields = stream_case.select or frozenset(
                [next(f for f in stream_case.rows[0] if f not in stream_case.key)])
            records = _records(read_all(connector, read_request(stream_case, fields=fields)))
        incremental = stream_case.incremental  # reading needs its cursor or version field too
        allowed = set(fields) | set(stream_case.key) | {incremental.cursor, incremental.version_field}
        assert len(records) == len(stream_case.rows)
        for record in records:
            assert set(fields) <= set(record), "a selected field is missing"
            if selects:  # a source that declares select_fields must not fetch more than it was asked
                assert set(record) <= allowed, f"fields not asked for: {sorted(set(record) - allowed)}"


class SourceRejectionKit(_KitHelpers):
    """A source that refuses one bad row or file as a dead letter, instead of stopping the read."""

    def test_bad_rows_are_rejected_and_the_rest_is_read(self, connector_factory: Callable[[], Connector],
                                                        rejection_case: RejectionCase) -> None:
        case = rejection_case.stream
        with connector_factory() as connector:
            batches = read_all(connector, read_request(case))
        got = sorted(case.key_of(r) for r in _records(batches))
        assert got == sorted(case.key_of(row) for row in case.rows), "the good rows, each once"
        rejections = [r for batch in batches for r in batch.rejected]
        assert sorted(r.key for r in rejections) == sorted(rejection_case.rejected)
        for rejection in rejections:
            assert isinstance(rejection.error, RecordError), f"{rejection.key}: not a RecordError"
            assert str(rejection.error).strip(), f"{rejection.key}: a rejection must say why"
            assert rejection.raw.get(SOURCE_REJECTED), f"{rejection.key}: build rejections with SourceRejection.of"
            assert json.loads(json.dumps(rejection.raw, default=str)) is not None

    def test_resuming_repeats_no_rejection(self, connector_factory: Callable[[], Connector],
                                           rejection_case: RejectionCase) -> None:
        case = rejection_case.stream
        with connector_factory() as connector:
            batches = read_all(connector, read_request(case))
        for position, batch in enumerate(batches[:-1]):
            with connector_factory() as connector:
                rest = read_all(connector, read_request(case, checkpoint=batch.checkpoint))
            expected = [r.key for b in batches[position + 1:] for r in b.rejected]
            assert [r.key for b in rest for r in b.rejected] == expected, f"resuming after batch {position}"
#: data that changes between two runs: called, it changes the source (edits a row, adds one) and returns those
#: rows as the next run must read them (only the fields given are compared)
StreamChange = Callable[[], Sequence[Record]]


class ChangesKit(_KitHelpers):
    """A source whose data changes between runs (fixture ``stream_change``): the next run reads the change."""

    def test_the_next_run_reads_what_changed(self, connector_factory: Callable[[], Connector],
                                             stream_case: StreamCase, stream_change: StreamChange) -> None:
        with connector_factory() as connector:
            first = read_all(connector, read_request(stream_case))
        changed_rows = stream_change()
        by_cursor = stream_case.incremental.strategy == "cursor"
        with connector_factory() as connector:  # a cursor resumes after the last run; a sweep starts again
            second = _records(read_all(connector, read_request(
                stream_case, checkpoint=first[-1].checkpoint if by_cursor and first else None)))
        got = {stream_case.key_of(r): r for r in second}
        for row in changed_rows:
            key = stream_case.key_of(row)
            assert key in got, f"the changed row {key} was not read by the next run"
            assert {f: got[key].get(f) for f in row} == dict(row), f"row {key} was read with other values"
        if by_cursor and stream_case.exact_resume:
            changed = sorted((stream_case.key_of(r) for r in changed_rows), key=repr)
            assert sorted(got, key=repr) == changed, "a cursor read after the change must read only what changed"


class ErrorKit:
    """Error classes (fixture ``unreachable_factory``: the connector pointed at a system that is away, e.g. a
    closed port): that is a RetriableError, which the hub retries and the next run tries again, not a crash or
    a ConfigError that would wait for a person. Record-level refusals are :class:`RejectionKit`'s, a wrong
    stream name is :class:`SourceKit`'s."""

    def test_a_system_that_is_away_is_retriable(self, unreachable_factory: Callable[[], Connector]) -> None:
        with unreachable_factory() as connector:
            try:
                status = connector.check()
            except RetriableError:
                return
            except HubError as exc:
                raise AssertionError(f"an unreachable system gave {type(exc).__name__} ({exc}); expected a "
                                     "RetriableError") from exc
        raise AssertionError(f"check() of an unreachable system succeeded: {status}")


class TargetKit(_KitHelpers):
    """Standard tests of a target: creating is idempotent on the match fields, and the capabilities the
    connector declares are the ones its test class checks (compose the kits below accordingly)."""

    def test_declared_capabilities_are_tested(self, connector_factory: Callable[[], Connector]) -> None:
        with connector_factory() as connector:
            caps = connector.capabilities
        writes = set(caps.write_modes)
        assert writes & {"create", "upsert"}, "a target must be able to create"
        if caps.lookup:
            assert isinstance(self, LookupKit), "the connector declares lookup: add LookupKit to its tests"
        if writes & {"upsert", "update_only"}:
            assert isinstance(self, UpdateKit), "the connector declares updates: add UpdateKit to its tests"

    def test_create_twice_does_not_duplicate(self, connector_factory: Callable[[], Connector],
                                             target_case: TargetCase) -> None:
        with connector_factory() as connector:
            number, record, first = self._create(connector, target_case)
        with connector_factory() as connector:  # a retry after the first response was lost
            if not connector.upsert_is_idempotent(target_case.entity, target_case.match):
                # the runner re-plans a retry: a lookup by the match values must find the object created
                found = self._find(connector, target_case, record)
                assert found is not None, "the object created is not found by its match values"
                key_field = connector.target_key_field(target_case.entity)
                if key_field is not None:
                    assert found[key_field] == first.target_key, "the lookup found another object"
                return
            [second] = self._write(connector, target_case, [create_action(target_case, record, number, attempt=2)])
            assert second.status in ("created", "updated", "unchanged"), second.error
            assert second.target_key == first.target_key, "the retry must land on the same object"
            if connector.capabilities.read and connector.describe(target_case.entity) is not None:
                keys = tuple(target_case.match)
                stream = StreamCase(target_case.entity, key=(connector.target_key_field(target_case.entity)
                                                             or keys[0],), rows=[])
                rows = _records(read_all(connector, read_request(stream, fields=frozenset(keys), batch_size=500)))
                same = [r for r in rows if all(r[f] == record[f] for f in keys)]
                assert len(same) == 1, f"{len(same)} objects with the same match values"



class LookupKit(_KitHelpers):
    """A target that finds existing objects: lookup finds exactly them, and prepared values read back equal."""

    def test_prepared_values_read_back_equal(self, connector_factory: Callable[[], Connector],
                                             target_case: TargetCase) -> None:
        with connector_factory() as connector:
            _, record, _ = self._create(connector, target_case)
            found = self._find(connector, target_case, record)
        assert found is not None
        assert {f: found[f] for f in record} == record

    def test_lookup_finds_existing_rows_only(self, connector_factory: Callable[[], Connector],
                                             target_case: TargetCase) -> None:
        with connector_factory() as connector:
            _, record, result = self._create(connector, target_case)
            absent = connector.prepare(target_case.entity, target_case.make_record(next_number()))
            present_key = tuple(record[f] for f in target_case.match)
            absent_key = tuple(absent[f] for f in target_case.match)
            key_field = connector.target_key_field(target_case.entity)
            connector.use_target_options(target_case.entity, target_case.options)
            found = connector.lookup(target_case.entity, target_case.match, [present_key, absent_key],
                                     [target_case.update_field])
        assert set(found) == {present_key}
        if key_field is not None:
            present = found[present_key]
            assert not isinstance(present, AmbiguousMatch), f"one record written, yet {present.describe()}"
            assert present[key_field] == result.target_key, "lookup must return the target's id"



class UpdateKit(_KitHelpers):
    """A target that updates: only the given fields change."""

    def test_update_changes_only_the_given_fields(self, connector_factory: Callable[[], Connector],
                                                  target_case: TargetCase) -> None:
        with connector_factory() as connector:
            number, record, created = self._create(connector, target_case)
            change = connector.prepare(target_case.entity,
                                       {target_case.update_field: target_case.update_value(number)})
            assert change[target_case.update_field] != record[target_case.update_field], "the case must change it"
            action = WriteAction("update", f"kit-{number}", change, {f: record[f] for f in target_case.match},
                                 created.target_key, f"kit-{number}-update")
            [result] = self._write(connector, target_case, [action])
            assert result.status == "updated", result.error
            found = self._find(connector, target_case, record)
        assert found is not None
        assert found[target_case.update_field] == change[target_case.update_field]
        untouched = {f: v for f, v in record.items() if f != target_case.update_field}
        assert {f: found[f] for f in untouched} == untouched



class RejectionKit(_KitHelpers):
    """A target that refuses some records: one refused record does not stop the others."""

    def test_rejected_rows_do_not_stop_the_batch(self, connector_factory: Callable[[], Connector],
                                                 target_case: TargetCase) -> None:
        assert target_case.make_bad_record is not None, "a RejectionKit case needs make_bad_record"
        with connector_factory() as connector:
            numbers = [next_number() for _ in range(3)]
            good = [connector.prepare(target_case.entity, target_case.make_record(n)) for n in numbers[::2]]
            bad = target_case.make_bad_record(numbers[1])
            actions = [create_action(target_case, good[0], numbers[0]), create_action(target_case, bad, numbers[1]),
                       create_action(target_case, good[1], numbers[2])]
            results = self._write(connector, target_case, actions)
            assert [r.status for r in results] == ["created", "rejected", "created"]
            assert isinstance(results[1].error, RecordError)
            if connector.capabilities.lookup:
                assert all(self._find(connector, target_case, record) is not None for record in good)


class ConnectorKit(SourceKit, TargetKit, LookupKit, UpdateKit, RejectionKit):
    """Everything, for a connector that reads and writes (the CRM database)."""
