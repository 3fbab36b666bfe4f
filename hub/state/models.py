"""The hub's own tables (SQLAlchemy 2). Created and upgraded by the Alembic migrations next to this file.

All tables carry the ``hub_`` prefix so the hub can share a PostgreSQL database with Airflow or the CRM.
Payloads are stored as text in :mod:`hub.state.codec` JSON (portable across SQLite, PostgreSQL, MariaDB,
and lossless for Decimal and dates).
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from sqlalchemy import BigInteger, DateTime, Index, Integer, String, Table, Text, UniqueConstraint
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# BIGINT on servers, INTEGER on SQLite (where only INTEGER PRIMARY KEY autoincrements)
Id = BigInteger().with_variant(Integer(), "sqlite")
Key = String(255)
LongText = Text().with_variant(Text(length=2**24 - 1), "mysql", "mariadb")
# microseconds on MariaDB too (its DATETIME keeps whole seconds unless told otherwise)
PreciseTime = DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

# the closed vocabularies of the status columns
RunMode = Literal["plan", "apply", "replay"]
RunStatus = Literal["running", "success", "failed", "interrupted"]
#: not_happened: an interrupted write that the next run looked for in the target and did not find
EffectStatus = Literal["pending", "done", "rejected", "not_happened"]
LetterStatus = Literal["open", "resolved", "discarded"]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


def table_of(model: type[Base]) -> Table:
    """A model's table, for Core statements (SQLAlchemy types ``__table__`` as any ``FromClause``)."""
    table = model.__table__
    assert isinstance(table, Table)  # declarative models without __table__ overrides always map a Table
    return table


class Checkpoint(Base):
    """Where an exchange's source reading stands; saved after every applied batch."""

    __tablename__ = "hub_checkpoint"
    exchange: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str | None] = mapped_column(Text)
    run_id: Mapped[int | None] = mapped_column(Id)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class RecordState(Base):
    """What was last written for a source record: unchanged content is never written again."""

    __tablename__ = "hub_record_state"
    # which source record a target object belongs to: a second one with the same match values is refused
    __table_args__ = (Index("ix_hub_record_state_target", "exchange", "target_key"),)
    exchange: Mapped[str] = mapped_column(String(64), primary_key=True)
    source_key: Mapped[str] = mapped_column(Key, primary_key=True)
    content_hash: Mapped[str | None] = mapped_column(String(64))
    source_hash: Mapped[str | None] = mapped_column(String(64))  # the source record + mapping version
    version: Mapped[str | None] = mapped_column(String(128))
    target_key: Mapped[str | None] = mapped_column(Key)
    seen_run: Mapped[int | None] = mapped_column(Id)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class KeyMap(Base):
    """The same business object's id in two systems (e.g. CRM client 42 = 1C counterparty guid)."""

    __tablename__ = "hub_key_map"
    __table_args__ = (
        UniqueConstraint("entity", "system_a", "id_a", "system_b", name="uq_hub_key_map_a"),
        Index("ix_hub_key_map_b", "entity", "system_b", "id_b"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    entity: Mapped[str] = mapped_column(String(128))
    system_a: Mapped[str] = mapped_column(String(64))
    id_a: Mapped[str] = mapped_column(Key)
    system_b: Mapped[str] = mapped_column(String(64))
    id_b: Mapped[str] = mapped_column(Key)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Effect(Base):
    """The effect ledger: intent is recorded before a write, the outcome after it."""

    __tablename__ = "hub_effect_ledger"
    __table_args__ = (Index("ix_hub_effect_ledger_source", "exchange", "source_key"),)
    idempotency_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    exchange: Mapped[str] = mapped_column(String(64), index=True)
    source_key: Mapped[str] = mapped_column(Key)
    status: Mapped[str] = mapped_column(String(16))  # EffectStatus
    action: Mapped[str] = mapped_column(String(16))
    target_key: Mapped[str | None] = mapped_column(Key)
    #: codec JSON of the match values the write was planned with: what finds its object again (settlement)
    match_values: Mapped[str | None] = mapped_column(Text)
    run_id: Mapped[int | None] = mapped_column(Id)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class LedgerBatch(Base):
    """The creates of one batch, as ONE ledger entry: intent recorded before the writes, removed with the batch's
    state commit. For targets whose write is an idempotent upsert on the match key, where a create's entry only
    has to tell a run killed mid-batch which objects may exist (:mod:`hub.runner.settle` looks them up by their
    match values): one row instead of one row per create written, indexed and deleted again."""

    __tablename__ = "hub_ledger_batch"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    exchange: Mapped[str] = mapped_column(String(64), index=True)
    run_id: Mapped[int | None] = mapped_column(Id)
    size: Mapped[int] = mapped_column(Integer)  # how many writes (the unknown outcomes if the run dies)
    #: codec JSON: [[idempotency key, source key, action, match values, target key], ...]
    intents: Mapped[str] = mapped_column(LongText)  # PostgreSQL: STORAGE EXTERNAL, not compressed (migration 0009)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class InboxEvent(Base):
    """An incoming event (form submission, completed call), committed before it is acknowledged."""

    __tablename__ = "hub_inbox"
    __table_args__ = (UniqueConstraint("stream", "dedup_key", name="uq_hub_inbox_dedup"),
                      UniqueConstraint("stream", "position", name="uq_hub_inbox_position"))
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    stream: Mapped[str] = mapped_column(String(64))
    # the event's place in its stream, in the order events became visible (hub.state.inbox_order); given by the
    # first reader after the event is committed (None until then). What readers checkpoint on.
    position: Mapped[int | None] = mapped_column(BigInteger)
    dedup_key: Mapped[str] = mapped_column(String(128))
    payload: Mapped[str] = mapped_column(LongText)
    meta: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class InboxStream(Base):
    """The last position given in an inbox stream; its row lock makes readers number events one at a time."""

    __tablename__ = "hub_inbox_stream"
    stream: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_position: Mapped[int] = mapped_column(BigInteger)


class DeadLetter(Base):
    """A record that could not cross, with everything needed to replay it after a fix."""

    __tablename__ = "hub_dead_letter"
    __table_args__ = (
        UniqueConstraint("exchange", "source_key", name="uq_hub_dead_letter_record"),
        Index("ix_hub_dead_letter_status", "status", "exchange"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    exchange: Mapped[str] = mapped_column(String(64))
    source_key: Mapped[str] = mapped_column(Key)
    payload: Mapped[str] = mapped_column(LongText)
    mapping_version: Mapped[str] = mapped_column(String(32))
    error_class: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")  # LetterStatus
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    run_id: Mapped[int | None] = mapped_column(Id)
    first_seen: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_seen: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    discard_reason: Mapped[str | None] = mapped_column(Text)  # why an operator discarded it
    discarded_by: Mapped[str | None] = mapped_column(String(128))  # who: an Airflow user, or "cli"


class Run(Base):
    """The run log: one row per plan/apply/replay of an exchange, with its counts."""

    __tablename__ = "hub_run"
    __table_args__ = (Index("ix_hub_run_exchange", "exchange", "started_at"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    exchange: Mapped[str] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(16))  # RunMode
    status: Mapped[str] = mapped_column(String(16))  # RunStatus
    mapping_version: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    read: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    deleted: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    filtered: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    dead_letters_added: Mapped[int] = mapped_column(Integer, default=0)
    warnings: Mapped[int] = mapped_column(Integer, default=0)  # values a conversion emptied or cut
    out_of_scope: Mapped[int] = mapped_column(Integer, default=0)  # known records that left the source's scope
    message: Mapped[str | None] = mapped_column(Text)
    triggered_by: Mapped[str | None] = mapped_column(String(128))
    # which process runs it: a later run tells a killed run (its process is gone) from a live one
    host: Mapped[str | None] = mapped_column(String(255))
    pid: Mapped[int | None] = mapped_column(Integer)


class RecordLog(Base):
    """Provenance: which run wrote what to which object (field names only, never values)."""

    __tablename__ = "hub_record_log"
    __table_args__ = (
        Index("ix_hub_record_log_source", "exchange", "source_key"),
        Index("ix_hub_record_log_target", "target_key"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(Id)  # not indexed: nothing asks by run, and every write would pay for it
    exchange: Mapped[str] = mapped_column(String(64))
    source_key: Mapped[str] = mapped_column(Key)
    target_key: Mapped[str | None] = mapped_column(Key)
    action: Mapped[str] = mapped_column(String(16))
    fields: Mapped[str | None] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Lease(Base):
    """A named lease (one holder at a time until it expires), see :mod:`hub.state.leases`."""

    __tablename__ = "hub_leases"
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    holder: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[dt.datetime] = mapped_column(PreciseTime)  # by the database's clock, UTC
    acquired_at: Mapped[dt.datetime] = mapped_column(PreciseTime)


class SearchEntry(Base):
    """The search index: a business value (normalized) or a referenced object's key, and the record it belongs to.

    ``kind`` is a :data:`hub.mapping.model.SearchKind`, or ``ref`` for the key of an object the record refers to
    (``value`` is then ``connection/entity:key``). One row per value and record; a later write refreshes it.
    """

    __tablename__ = "hub_search_index"
    __table_args__ = (
        # record first: it also finds a record's entries (the chain's references), so no third index is needed
        UniqueConstraint("exchange", "source_key", "kind", "value", name="uq_hub_search_index_entry"),
        Index("ix_hub_search_index_value", "kind", "value"),
        Index("ix_hub_search_index_at", "at"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(Key)
    exchange: Mapped[str] = mapped_column(String(64))
    source_key: Mapped[str] = mapped_column(Key)
    target_key: Mapped[str | None] = mapped_column(Key)
    run_id: Mapped[int | None] = mapped_column(Id)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
