"""The CRM database connector: the customer's own tables on PostgreSQL, MariaDB/MySQL, Firebird or SQLite.

Tables are reflected, never modelled: mappings name the customer's tables and columns. Connection extras:

* ``url``: a full SQLAlchemy URL (else built from conn_type/``dialect``, host, port, login, schema)
* ``dialect``: postgresql | mysql | mariadb | firebird | sqlite (when conn_type does not say)
* ``db_schema``: the PostgreSQL schema (MySQL: database) holding the tables, default the connection's own
* ``timezone``: the zone naive datetimes are in (default: the hub's ``timezone`` setting)
* ``connect_timeout``: seconds (default 10)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from typing import Any, ClassVar

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.engine import Engine

from connectors.crm_db.coerce import Coerced, Coercer
from connectors.crm_db.dialects import DialectStrategy
from connectors.crm_db.engine import create_engine, reading
from connectors.crm_db.errors import translated
from connectors.crm_db.matching import normal_key, select_matching
from connectors.crm_db.options import CrmDbSourceOptions, ExistsFilter
from connectors.crm_db.reader import TableReader
from connectors.crm_db.schema import SchemaCache, TableSchema
from connectors.crm_db.writer import TableWriter
from hub.connections import Connection
from hub.connector import (
    Capabilities,
    Connector,
    EntityInfo,
    FieldInfo,
    OptionProblem,
    ReadRequest,
    Record,
    SourceBatch,
    WriteAction,
    WriteResult,
)
from hub.errors import RecordError
from hub.runner.items import source_key
from hub.settings import HubSettings

#: the default batch where both ends can take it (docs/benchmarks.md, "Sync against dlt": a 100,000-row first
#: load took 28.8 s in 500-row batches, 23.7 s in 2,000, 17.8-19.1 s in 5,000, 18.4 s in 10,000, 20.2 s in 20,000)
BATCH_SIZE = 5_000


class CrmDbConnector(Connector):
    name: ClassVar[str] = "crm_db"
    capabilities: ClassVar[Capabilities] = Capabilities(
        select_fields=True,
        incremental=frozenset({"cursor", "hash"}),
        lookup=True,
        write_modes=frozenset({"create", "upsert", "update_only"}),
        delete=True,
        batch_size=BATCH_SIZE,
        read_ahead=True,  # each batch is one query on a pooled connection of its own (TableReader)
    )
    source_options: ClassVar[type[BaseModel]] = CrmDbSourceOptions

    def __init__(self, connection: Connection, settings: HubSettings):
        super().__init__(connection, settings)
        self.timezone = connection.zone(settings.timezone)
        self._engine: Engine | None = None
        self._strategy: DialectStrategy | None = None
        self._schemas: SchemaCache | None = None
        self._coercer = Coercer(self.timezone)

    # -- lifecycle
    def _connect(self) -> tuple[Engine, DialectStrategy, SchemaCache]:
        """The engine is made on first use: building a connector never touches the network."""
        if self._engine is None or self._strategy is None or self._schemas is None:
            self._engine, self._strategy = create_engine(self.connection, self.timezone.key)
            self._schemas = SchemaCache(self._engine, self._strategy, self.connection.extra.get("db_schema"))
        return self._engine, self._strategy, self._schemas

    @property
    def where(self) -> str:
        return self.connection.describe()

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
        self._engine = self._strategy = self._schemas = None

    def check(self) -> str:
        engine, strategy, _ = self._connect()
        with translated(strategy, self.where), engine.connect() as conn:
            conn.execute(sa.select(1)).scalar_one()
            version = ".".join(str(part) for part in (engine.dialect.server_version_info or ())[:3])
        return f"{self.where}: connected to {engine.dialect.name} {version}".rstrip()

    # -- schema
    def table(self, entity: str) -> TableSchema | None:
        _, strategy, schemas = self._connect()
        with translated(strategy, self.where):
            return schemas.get(entity)

    def _require(self, entity: str) -> TableSchema:
        _, strategy, schemas = self._connect()
        found = schemas.known(entity)  # prepare() asks for every record: no lock, no error context once reflected
        if found is None:
            with translated(strategy, self.where):
                found = schemas.require(entity, self.where)
        return found

    def describe(self, entity: str) -> EntityInfo | None:
        found = self.table(entity)
        return found.entity_info() if found else None

    def option_problems(self, stream: str, options: BaseModel) -> Iterator[OptionProblem]:
        """Tables and columns named by ``where``, ``exists`` (nested too) and ``children`` must exist."""
        schema = self.table(stream)
        if schema is None or not isinstance(options, CrmDbSourceOptions):
            return
        yield from _missing_columns(schema, options.where, ("where",))
        for number, rule in enumerate(options.exists):
            yield from self._exists_problems(schema, rule, ("exists", number))
        for name, child in options.children.items():
            table = self.table(child.table)
            if table is None:
                yield ("children", name, "table"), f"there is no table {child.table!r}"
                continue
            for part in ("foreign_key", "order_by", "fields"):
                yield from _missing_columns(table, getattr(child, part) or [], ("children", name, part))
            yield from _missing_columns(schema, child.parent_key, ("children", name, "parent_key"))

    def _exists_problems(self, parent: TableSchema, rule: ExistsFilter,
                         path: tuple[str | int, ...]) -> Iterator[OptionProblem]:
        table = self.table(rule.table)
        if table is None:
            yield (*path, "table"), f"there is no table {rule.table!r}"
            return
        yield from _missing_columns(table, rule.on, (*path, "on"))
        for theirs, ours in rule.on.items():
            if ours not in parent.columns:
                yield (*path, "on", theirs), f"table {parent.name!r} has no column {ours!r}"
        yield from _missing_columns(table, rule.where, (*path, "where"))
        for number, inner in enumerate(rule.exists):
            yield from self._exists_problems(table, inner, (*path, "exists", number))

    def describe_source(self, stream: str, options: BaseModel) -> EntityInfo | None:
        """The stream's columns plus ``options.children``: each a list field whose rows are the child columns."""
        info = self.describe(stream)
        if info is None or not isinstance(options, CrmDbSourceOptions) or not options.children:
            return info
        fields = dict(info.fields)
        for name, child in options.children.items():
            table = self.describe(child.table)
            columns = table.fields if table else {}
            rows = {n: f for n, f in columns.items() if child.fields is None or n in child.fields}
            fields[name] = FieldInfo(name=name, kind="list", nullable=False, children=rows)
        return replace(info, fields=fields)

    # -- reading
    def read(self, request: ReadRequest) -> Iterator[SourceBatch]:
        engine, strategy, schemas = self._connect()
        return TableReader(engine, strategy, schemas, self._coercer, self.where).read(request)

    def source_keys_present(self, stream: str, key: tuple[str, ...], keys: Sequence[str],
                            options: BaseModel) -> set[str] | None:
        """Keys whose row is still in the stream's table, whatever ``where``/``exists`` say (leaving the scope
        is not a deletion). A key that cannot be read back into its columns counts as present: never guess."""
        engine, strategy, _ = self._connect()
        schema = self._require(stream)
        names = list(key)
        schema.check_columns(names, f"stream {stream!r} key")
        converters = self._coercer.converters(schema)
        present: set[str] = set()
        wanted: list[tuple[Any, ...]] = []
        for text in keys:
            parts = text.split("|") if len(names) > 1 else [text]
            try:
                if len(parts) != len(names):  # a key value with "|" in it: cannot be split back
                    raise ValueError(text)
                wanted.append(tuple(converters[name](part) for name, part in zip(names, parts, strict=True)))
            except (ValueError, TypeError, ArithmeticError):
                present.add(text)
        with translated(strategy, self.where), engine.connect() as conn:
            for row in select_matching(conn, schema, names, wanted, ()):
                present.add(source_key(dict(row), names) or "")
        return present & set(keys)

    def lookup(self, entity: str, by: Sequence[str], values: Sequence[tuple[Any, ...]],
               fields: Sequence[str]) -> dict[tuple[Any, ...], Record]:
        engine, strategy, _ = self._connect()
        schema = self._require(entity)
        schema.check_columns([*by, *fields], f"lookup in {entity!r}")
        wanted: dict[tuple[Any, ...], tuple[Any, ...]] = {}  # normal_key(converted) -> the tuple asked for
        to_send: list[tuple[Any, ...]] = []
        converters = [self._coercer.converters(schema)[name] for name in by]  # columns checked above
        for original in values:
            try:
                converted = tuple([convert(value) for convert, value in zip(converters, original, strict=True)])
            except (ValueError, TypeError, ArithmeticError, RecordError):
                continue  # a value the column cannot hold matches no row
            normal = normal_key(converted, strategy)
            if normal not in wanted:
                wanted[normal] = tuple(original)
                to_send.append(converted)
        found: dict[tuple[Any, ...], Record] = {}
        returned = list(dict.fromkeys([*schema.primary_key, *by, *fields]))
        with translated(strategy, self.where), reading(engine) as conn:
            for row in select_matching(conn, schema, by, to_send, fields, strategy):
                asked = wanted.get(normal_key((row[name] for name in by), strategy))
                if asked is not None and asked not in found:  # several rows: the lowest key wins
                    found[asked] = {name: row[name] for name in returned}
        return found

    # -- writing
    def prepare(self, entity: str, record: Record) -> Record:
        schema = self._require(entity)
        return Coerced(self._coercer.record(schema, record), schema)

    def write(self, entity: str, actions: Sequence[WriteAction], options: BaseModel) -> list[WriteResult]:
        if not actions:
            return []
        engine, strategy, _ = self._connect()
        return TableWriter(engine, strategy, self._require(entity), self._coercer, self.where).write(actions)

    def upsert_is_idempotent(self, entity: str, match: Sequence[str]) -> bool:
        # a unique key on exactly the match columns: the database itself refuses a second row with the same
        # values, whether the writer upserts natively or finds and updates (TableWriter._create)
        found = self.table(entity)
        return found is not None and bool(match) and found.conflict_key(match) is not None

    def target_key_field(self, entity: str) -> str | None:
        found = self.table(entity)
        return found.primary_key[0] if found is not None and len(found.primary_key) == 1 else None


def _missing_columns(table: TableSchema, names: Iterable[str],
                     path: tuple[str | int, ...]) -> Iterator[OptionProblem]:
    for position, name in enumerate(names):
        where = (*path, name) if isinstance(names, dict) else (*path, position)
        if name not in table.columns:
            yield where, f"table {table.name!r} has no column {name!r}"
