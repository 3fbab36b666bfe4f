"""Reflect the customer's tables and describe their columns in the hub's vocabulary (:data:`FieldKind`).

Nothing here knows the reference CRM schema: every table is reflected from the live database once per
connector instance and cached.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from connectors.crm_db.dialects import DialectStrategy
from hub.connector import EntityInfo, FieldInfo, FieldKind
from hub.errors import ConfigError


@dataclass(frozen=True)
class ColumnSpec:
    """What the connector needs to know about one column to read, coerce and write it."""

    name: str
    kind: FieldKind
    nullable: bool
    max_length: int | None = None
    precision: int | None = None  # decimal: total digits
    scale: int | None = None  # decimal: digits after the point
    timezone: bool = False  # datetime stored with its offset
    fraction_digits: int = 6  # datetime: sub-second digits the column keeps


@dataclass(frozen=True)
class TableSchema:
    table: sa.Table
    columns: dict[str, ColumnSpec]
    primary_key: tuple[str, ...]
    unique_keys: tuple[tuple[str, ...], ...]

    @property
    def name(self) -> str:
        return self.table.name

    def column(self, name: str) -> sa.Column[Any]:
        """The column, or a ConfigError naming the table (a mapping names a column that is not there)."""
        if name not in self.columns:
            raise ConfigError(f"table {self.name!r} has no column {name!r}")
        return self.table.c[name]

    def check_columns(self, names: Iterable[str], what: str) -> None:
        for name in names:
            if name not in self.columns:
                raise ConfigError(f"{what}: table {self.name!r} has no column {name!r}")

    def conflict_key(self, match: Sequence[str]) -> tuple[str, ...] | None:
        """The primary or unique key made of exactly the ``match`` columns (a native upsert can target it)."""
        wanted = set(match)
        for key in (self.primary_key, *self.unique_keys):
            if key and set(key) == wanted:
                return key
        return None

    def entity_info(self) -> EntityInfo:
        fields = {
            spec.name: FieldInfo(name=spec.name, kind=spec.kind, nullable=spec.nullable, max_length=spec.max_length)
            for spec in self.columns.values()
        }
        return EntityInfo(name=self.name, fields=fields, primary_key=self.primary_key, unique_keys=self.unique_keys)


class SchemaCache:
    """Reflects a table on first use and keeps it for the connector's lifetime."""

    def __init__(self, engine: Engine, strategy: DialectStrategy, db_schema: str | None):
        self._engine = engine
        self._strategy = strategy
        self._metadata = sa.MetaData(schema=db_schema)
        self._tables: dict[str, TableSchema | None] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> TableSchema | None:
        with self._lock:
            if name not in self._tables:
                self._tables[name] = self._reflect(name)
            return self._tables[name]

    def known(self, name: str) -> TableSchema | None:
        """The table if it was reflected already and exists; None otherwise (without waiting for the lock: a
        dict lookup is atomic)."""
        return self._tables.get(name)

    def require(self, name: str, what: str = "") -> TableSchema:
        found = self.get(name)
        if found is None:
            where = f"{what}: " if what else ""
            raise ConfigError(f"{where}table {name!r} does not exist")
        return found

    def _reflect(self, name: str) -> TableSchema | None:
        with self._engine.connect() as conn:
            if not sa.inspect(conn).has_table(name, schema=self._metadata.schema):
                return None
            # resolve_fks=False: referenced tables are reflected when (and if) they are used
            table = sa.Table(name, self._metadata, autoload_with=conn, resolve_fks=False)
            extra_keys = self._strategy.extra_unique_keys(conn, table)
        columns = {col.name: self._column_spec(col) for col in table.columns}
        primary_key = tuple(col.name for col in table.primary_key.columns)
        return TableSchema(table, columns, primary_key, _unique_keys(table, primary_key, extra_keys))

    def _column_spec(self, column: sa.Column[Any]) -> ColumnSpec:
        col_type = column.type
        kind = self._strategy.reflected_kind(col_type) or generic_kind(col_type)
        is_datetime = kind == "datetime"
        return ColumnSpec(
            name=column.name,
            kind=kind,  # type: ignore[arg-type]
            nullable=bool(column.nullable) and not column.primary_key,  # SQLite reports key columns nullable
            max_length=getattr(col_type, "length", None) if kind == "string" else None,
            precision=getattr(col_type, "precision", None) if kind == "decimal" else None,
            scale=getattr(col_type, "scale", None) if kind == "decimal" else None,
            timezone=is_datetime and bool(getattr(col_type, "timezone", False)) and self._strategy.stores_timezone,
            fraction_digits=self._strategy.fraction_digits(col_type) if is_datetime else 6,
        )


def generic_kind(col_type: sa.types.TypeEngine[Any]) -> FieldKind:
    """The hub field kind of a SQLAlchemy type (order matters: Float is a Numeric, DateTime is not a Date)."""
    checks: list[tuple[type, FieldKind]] = [
        (sa.Boolean, "boolean"),
        (sa.Integer, "integer"),
        (sa.Float, "float"),
        (sa.Numeric, "decimal"),
        (sa.DateTime, "datetime"),
        (sa.Date, "date"),
        (sa.Uuid, "uuid"),
        (sa.JSON, "json"),
        (sa.LargeBinary, "binary"),
        (sa.Enum, "string"),
        (sa.String, "string"),
        (sa.Time, "string"),
    ]
    for sa_type, kind in checks:
        if isinstance(col_type, sa_type):
            return kind
    if isinstance(col_type, sa.types._Binary):  # MySQL BLOB/VARBINARY
        return "binary"
    return "any"


def _unique_keys(table: sa.Table, primary_key: tuple[str, ...],
                 extra: list[tuple[str, ...]]) -> tuple[tuple[str, ...], ...]:
    """Unique constraints and full unique indexes (partial or expression indexes cannot back an upsert)."""
    keys: list[tuple[str, ...]] = list(extra)
    for constraint in table.constraints:
        if isinstance(constraint, sa.UniqueConstraint):
            keys.append(tuple(col.name for col in constraint.columns))
    for index in table.indexes:
        if not index.unique or _is_partial(index):
            continue
        if all(isinstance(expr, sa.Column) for expr in index.expressions):
            keys.append(tuple(col.name for col in index.expressions))  # type: ignore[union-attr]
    unique: list[tuple[str, ...]] = []
    for key in keys:  # MySQL reports a unique constraint both ways
        if key and key != primary_key and key not in unique:
            unique.append(key)
    return tuple(unique)


def _is_partial(index: sa.Index) -> bool:
    return any(name.endswith("_where") and value is not None for name, value in index.dialect_kwargs.items())
