"""The one small interface every connector implements, and how the core finds connectors.

A connector lives in a package that declares it in its manifest (:mod:`hub.manifest`), exported through the
entry-point group ``hub.connectors`` (docs/connectors.md). It speaks one system's real protocol and turns
that system's errors into :mod:`hub.errors` classes.

What a connector can do is declared as data (:class:`Capabilities`), never discovered by trial: the
runner and ``hub validate`` read the capabilities to decide how to plan and what to check.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from hub.connections import Connection, ConnectionResolver
from hub.errors import ConfigError, DataError, RecordError
from hub.mapping.model import Incremental, IncrementalStrategy, WriteMode
from hub.settings import HubSettings

Record = dict[str, Any]
OptionProblem = tuple[tuple[str | int, ...], str]
FieldKind = Literal[
    "string", "integer", "decimal", "float", "boolean", "date", "datetime", "uuid", "json", "list", "binary", "any",
]
ActionKind = Literal["create", "update", "delete"]
OptionsModel = TypeVar("OptionsModel", bound=BaseModel)
ResultStatus = Literal["created", "updated", "deleted", "unchanged", "rejected"]


@dataclass(frozen=True)
class Capabilities:
    read: bool = True
    select_fields: bool = False  # reads only the fields asked for (the agreed data is all that is fetched)
    incremental: frozenset[IncrementalStrategy] = frozenset({"hash"})
    lookup: bool = False  # finds existing objects by field values (so retries never duplicate)
    write_modes: frozenset[WriteMode] = frozenset()
    delete: bool = False
    #: records per batch this connector reads and writes best, where neither the mapping's ``batch_size`` nor
    #: ``HUB_BATCH_SIZE`` says (a database moves thousands of rows per statement about as fast as hundreds, and
    #: every batch costs the state store its round trips and commits); None: the hub's default (500)
    batch_size: int | None = None
    #: its ``read`` may run on a thread of its own, a batch ahead of the runner, while the runner calls the
    #: connector's other methods (hub.runner.read_ahead): the source works while the hub does
    read_ahead: bool = False


@dataclass(frozen=True)
class FieldInfo:
    name: str
    kind: FieldKind
    nullable: bool = True
    max_length: int | None = None
    children: dict[str, FieldInfo] | None = None  # rows of a list field (1C tabular section)
    choices: frozenset[str] | None = None  # the only values the field takes (an enumeration), if known


@dataclass(frozen=True)
class EntityInfo:
    name: str
    fields: dict[str, FieldInfo]
    primary_key: tuple[str, ...] = ()
    unique_keys: tuple[tuple[str, ...], ...] = ()


class NoOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class ReadRequest:
    stream: str
    key: tuple[str, ...]
    fields: frozenset[str] | None  # None: every field
    incremental: Incremental
    checkpoint: Any  # what the last committed batch returned, None on the first run
    batch_size: int
    options: BaseModel = field(default_factory=NoOptions)
    #: version strategy: the stored version of each key (missing: never seen); the connector fetches
    #: full objects only for new or changed versions
    known_versions: Callable[[Sequence[str]], dict[str, str]] | None = None


@dataclass(frozen=True)
class SourceRejection:
    """One row or file a source could not read (a corrupt file, a row with a bad value): it goes to dead letters
    with its reason and what was read of it, and the read goes on. Built by :meth:`of`."""

    key: str  # the record's key if it could be read (a later good read resolves the letter), else "file:line"
    error: RecordError  # its message says where: "prices.csv:12: column 'price': '12,3,4' is not a number"
    raw: Record  # the dead letter's payload: what was read of it, and where (SOURCE_REJECTED marks it)

    @classmethod
    def of(cls, key: str, problem: str, *, file: str | None = None, line: int | None = None,
           raw: Record | None = None) -> SourceRejection:
        where = f"{file}:{line}: " if file and line is not None else f"{file}: " if file else ""
        payload: Record = {SOURCE_REJECTED: True, "file": file, "line": line, "raw": raw or {}}
        return cls(key, DataError(where + problem), payload)


#: the payload mark of a dead letter a source made (a replay cannot send it through the mapping: the source
#: itself must be fixed; once it is read again, a record with the same key resolves the letter)
SOURCE_REJECTED = "$source_rejected"


@dataclass
class SourceBatch:
    records: list[Record]
    checkpoint: Any  # the state to save once this batch is applied; resuming from it skips nothing
    #: version strategy: keys seen with an unchanged version (still present; not re-read)
    unchanged_keys: list[str] = field(default_factory=list)
    #: rows or files of this batch the source could not read: dead letters; the batch goes on without them
    rejected: list[SourceRejection] = field(default_factory=list)
    #: per record, a text that changes whenever the record does, where the source makes one cheaply (a database's
    #: hash of the row, a file's cells as read): the runner's source hash is then taken over it, not the record
    fingerprints: list[str] | None = None
    #: per record, its source key (:func:`hub.runner.items.source_key` over the request's key fields), where the
    #: source computed it anyway (a file's reader does, to refuse a second row with the same key)
    keys: list[str] | None = None


# WriteAction and WriteResult: one of each per record written. Plain slotted classes, not frozen ones: a frozen
# dataclass sets each field through object.__setattr__, four times the cost (a connector reads them, never sets)
@dataclass(slots=True)
class WriteAction:
    kind: ActionKind
    source_key: str
    fields: Record  # create: every mapped field; update: only the changed ones; delete: delete_fields
    match: Record  # natural-key values (target.match)
    target_key: str | None  # the target's id as text, when known (connectors convert it to the key's type)
    idempotency_key: str


@dataclass(frozen=True)
class AmbiguousMatch:
    """What :meth:`Connector.lookup` gives for values that several objects have (two items with one article):
    the runner never picks one by chance, the record goes to dead letters naming every candidate."""

    candidates: tuple[str, ...]  # the target keys of the objects that match

    def describe(self) -> str:
        return f"{len(self.candidates)} objects match: " + ", ".join(self.candidates)


@dataclass(slots=True)
class WriteResult:
    source_key: str
    status: ResultStatus
    target_key: Any = None
    error: RecordError | None = None


#: told of a transient failure a connector retries by itself: (what it was doing, attempt, cause, seconds to the
#: next try)
RetryObserver = Callable[[str, int, "BaseException | None", float], None]


class Connector:
    """Base class: override what the capabilities promise."""

    name: ClassVar[str] = ""
    capabilities: ClassVar[Capabilities] = Capabilities()
    source_options: ClassVar[type[BaseModel]] = NoOptions
    target_options: ClassVar[type[BaseModel]] = NoOptions
    #: the run's connection resolver (set by the runner), for a connector whose options name more connections
    #: (so they resolve exactly as the run's own, e.g. from Airflow); None: the environment and connections file
    resolver: ConnectionResolver | None = None
    #: set by the runner: a retry the connector makes by itself is logged at WARNING and counted in the run
    on_retry: RetryObserver | None = None

    def __init__(self, connection: Connection, settings: HubSettings):
        self.connection = connection
        self.settings = settings

    def retried(self, during: str, attempt: int, cause: BaseException | None, wait: float) -> None:
        """Call this before retrying a transient failure inside the connector: never retry in silence."""
        if self.on_retry is not None:
            self.on_retry(during, attempt, cause, wait)

    # -- lifecycle
    def close(self) -> None:
        """Release sessions and pools."""

    def __enter__(self) -> Connector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def check(self) -> str:
        """Prove the system is reachable and the credentials work; return a one-line status."""
        raise NotImplementedError

    # -- schema
    def describe(self, entity: str) -> EntityInfo | None:
        """Fields of a stream/entity, or None if it does not exist."""
        raise NotImplementedError

    def describe_source(self, stream: str, options: BaseModel) -> EntityInfo | None:
        """Fields of ``stream`` as read with these source options (which may add fields, e.g. child rows)."""
        return self.describe(stream)

    def option_problems(self, stream: str, options: BaseModel) -> Iterator[OptionProblem]:
        """What the source options name that ``stream``'s system does not have (a misspelled field in a
        filter), for ``hub validate``: (path inside the options, problem)."""
        return iter(())

    # -- reading
    def read(self, request: ReadRequest) -> Iterator[SourceBatch]:
        raise NotImplementedError

    def source_keys_present(self, stream: str, key: tuple[str, ...], keys: Sequence[str],
                            options: BaseModel) -> set[str] | None:
        """Of ``keys`` (source keys as the runner writes them), those whose record still exists in ``stream``
        ignoring every scope filter in ``options``; None when this connector cannot tell."""
        return None

    # -- writing
    def prepare(self, entity: str, record: Record) -> Record:
        """Convert mapped values to what the target stores (so diffs and hashes compare like with like).

        Raise :class:`~hub.errors.DataError` for a value the target cannot take.
        """
        return record

    def use_target_options(self, entity: str, options: BaseModel) -> None:
        """The run's target options, given before any lookup (for a connector whose lookups need them, e.g. an
        API's auth and paths declared in the mapping)."""

    def lookup(self, entity: str, by: Sequence[str], values: Sequence[tuple[Any, ...]],
               fields: Sequence[str]) -> Mapping[tuple[Any, ...], Record | AmbiguousMatch]:
        """Existing objects whose ``by`` fields equal one of ``values``, keyed by those values; where several
        objects have the same values, an :class:`AmbiguousMatch` naming them instead of a record."""
        raise NotImplementedError

    def write(self, entity: str, actions: Sequence[WriteAction], options: BaseModel) -> list[WriteResult]:
        """Apply the actions; one result per action, in order. Record-level failures are results, not raises."""
        raise NotImplementedError

    def target_key_field(self, entity: str) -> str | None:
        """The field holding the target's own id (for the key map), if the entity has one."""
        return None

    def deletion_blockers(self, entity: str, target_keys: Sequence[str]) -> dict[str, str]:
        """Why some of these objects must not be deleted or marked (e.g. documents refer to them), by target key."""
        return {}

    def upsert_is_idempotent(self, entity: str, match: Sequence[str]) -> bool:
        """Whether writing a record again, with the same ``match`` values, can only ever touch the same one object
        (a native upsert on a unique key of exactly those fields): then a write interrupted before its outcome was
        committed is simply written again, and the ledger needs no pending entry before each write."""
        return False


def connector_class(name: str) -> type[Connector]:
    """The connector a mapping's ``connector:`` names, from the installed packages' manifests (:mod:`hub.registry`)."""
    from hub.registry import connector_class as find  # here: the registry refers back to this module's classes

    return find(name)


def parse_options(model: type[OptionsModel], options: dict[str, Any], where: str) -> OptionsModel:
    try:
        return model.model_validate(options)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        path = ".".join(str(p) for p in first["loc"])
        # where and what, apart too, so that `hub validate` can name the line
        raise ConfigError(f"{where}.options{'.' + path if path else ''}: {first['msg']}",
                          loc=tuple(part for part in first["loc"] if part != "[key]"),
                          problem=first["msg"].removeprefix("Value error, ")) from None
