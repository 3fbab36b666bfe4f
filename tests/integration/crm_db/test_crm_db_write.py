"""Writing: type coercion, native upserts per dialect, per-row rejection, updates, deletes, lookups."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from connectors.crm_db import CrmDbConnector, pipelined
from hub.connector import WriteAction
from hub.errors import BusinessError, ConfigError, DataError, RetriableError

from .support import Backend, Statements

MOSCOW = ZoneInfo("Europe/Moscow")


def _people(backend: Backend) -> sa.Table:
    """email is the match key; phone is a second unique key; company_id must exist in companies."""
    metadata = sa.MetaData()
    companies = sa.Table(backend.table_name("companies"), metadata,
                         sa.Column("id", sa.Integer, primary_key=True, autoincrement=False))
    people = sa.Table(
        backend.table_name("people"), metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(100), nullable=False),
        sa.Column("phone", sa.String(20)),
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("balance", sa.Numeric(10, 2)),
        sa.Column("born_on", sa.Date),
        sa.Column("seen_at", sa.DateTime),
        sa.Column("vip", sa.Boolean),
        sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("company_id", sa.Integer, sa.ForeignKey(companies.c.id, name=f"fk_{companies.name}")),
        sa.UniqueConstraint("email", name="uq_" + "people_email_" + companies.name[-6:]),
        sa.UniqueConstraint("phone", name="uq_" + "people_phone_" + companies.name[-6:]),
    )
    backend.create(companies, people, rows={companies.name: [{"id": 1}, {"id": 2}]})
    return people


def _create(n: int, **fields: Any) -> WriteAction:
    record = {"email": f"p{n}@example.ru", "name": f"Person {n}", **fields}
    return WriteAction("create", f"src-{n}", record, {"email": record["email"]}, None, f"create-{n}")


def _update(n: int, fields: dict[str, Any], target_key: Any = None, match: dict[str, Any] | None = None) -> WriteAction:
    return WriteAction("update", f"src-{n}", fields, match or {}, target_key, f"update-{n}")


def _rows(backend: Backend, table: sa.Table) -> list[dict[str, Any]]:
    with backend.engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(table).order_by(table.c.id)).mappings()]


# -- prepare -----------------------------------------------------------------------------------------------

def test_prepare_converts_mapped_values_to_the_column_types(backend: Backend, connector: CrmDbConnector) -> None:
    people = _people(backend)
    prepared = connector.prepare(people.name, {
        "name": 42, "balance": "1234.5", "born_on": "1990-05-17", "vip": "yes",
        "seen_at": "2025-03-01T09:30:00.123456Z", "company_id": "2",
    })
    assert prepared == {
        "name": "42", "balance": Decimal("1234.50"), "born_on": date(1990, 5, 17), "vip": True,
        # an aware time becomes the connection's local time (Moscow, UTC+3) for a column without time zone
        "seen_at": {"mariadb": datetime(2025, 3, 1, 12, 30, 0),  # DATETIME keeps whole seconds on MariaDB
                    "firebird": datetime(2025, 3, 1, 12, 30, 0, 123400),  # TIMESTAMP keeps 1/10,000 s
                    }.get(backend.name, datetime(2025, 3, 1, 12, 30, 0, 123456)),
        "company_id": 2,
    }


def test_prepared_values_read_back_exactly(backend: Backend, connector: CrmDbConnector) -> None:
    people = _people(backend)
    prepared = connector.prepare(people.name, {"email": "same@example.ru", "name": "Same", "balance": 10,
                                               "seen_at": datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
                                               "born_on": datetime(2000, 1, 1, 22, 0, tzinfo=UTC),
                                               "vip": 0})
    connector.write(people.name, [WriteAction("create", "s", prepared, {"email": "same@example.ru"}, None, "k")],
                    None)  # type: ignore[arg-type]
    found = connector.lookup(people.name, ["email"], [("same@example.ru",)], list(prepared))
    row = found[("same@example.ru",)]
    assert {f: row[f] for f in prepared} == prepared
    assert prepared["born_on"] == date(2000, 1, 2)  # 22:00 UTC is already the next day in Moscow


@pytest.mark.parametrize("field, value, problem", [
    ("name", "x" * 51, "longer than 50"),
    ("name", None, "must not be empty"),
    ("balance", "12abc", "number"),
    ("balance", "123456789", "too large"),
    ("born_on", "17.05.1990", "date"),
    ("seen_at", "yesterday", "ISO 8601"),
    ("vip", "maybe", "true or false"),
    ("company_id", "1.5", "whole number"),
])
def test_prepare_names_the_field_of_an_impossible_value_but_not_the_value(
        backend: Backend, connector: CrmDbConnector, field: str, value: Any, problem: str) -> None:
    people = _people(backend)
    with pytest.raises(DataError, match=problem) as caught:
        connector.prepare(people.name, {field: value})
    assert f"{people.name}.{field}" in str(caught.value)
    if isinstance(value, str) and len(value) > 2:
        assert value not in str(caught.value)


def test_prepare_of_an_unknown_column_is_a_config_error(backend: Backend, connector: CrmDbConnector) -> None:
    people = _people(backend)
    with pytest.raises(ConfigError, match="colour"):
        connector.prepare(people.name, {"colour": "red"})


@pytest.mark.postgres
def test_timestamptz_values_come_back_in_the_connections_zone(postgres_backend: Backend) -> None:
    table = sa.Table(postgres_backend.table_name("stamps"), sa.MetaData(),
                     sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("at", sa.DateTime(timezone=True), nullable=False))
    postgres_backend.create(table)
    with postgres_backend.connector() as connector:
        prepared = connector.prepare(table.name, {"at": "2025-03-01T09:30:00+00:00"})
        [result] = connector.write(table.name, [WriteAction("create", "s", prepared, {}, None, "k")], None)  # type: ignore[arg-type]
        row = connector.lookup(table.name, ["id"], [(result.target_key,)], ["at"])[(result.target_key,)]
    assert prepared["at"] == datetime(2025, 3, 1, 12, 30, tzinfo=MOSCOW)
    assert row["at"] == prepared["at"] and row["at"].utcoffset() == timedelta(hours=3)


# -- create: native upserts --------------------------------------------------------------------------------

def test_create_of_an_existing_match_updates_it_in_place(backend: Backend, connector: CrmDbConnector,
                                                         statements: Statements) -> None:
    people = _people(backend)
    [first] = connector.write(people.name, [_create(1, balance="10")], None)  # type: ignore[arg-type]
    sql = statements(connector)
    [again] = connector.write(people.name, [_create(1, balance="20", name="Renamed")], None)  # type: ignore[arg-type]
    assert (first.status, again.status) == ("created", "updated")
    assert again.target_key == first.target_key
    rows = _rows(backend, people)
    assert [(r["id"], r["name"], r["balance"]) for r in rows] == [(first.target_key, "Renamed", Decimal("20.00"))]
    upsert = {"mariadb": "ON DUPLICATE KEY UPDATE", "firebird": "UPDATE OR INSERT"}.get(
        backend.name, "ON CONFLICT (email) DO UPDATE")
    assert [s for s, _ in sql if upsert in s], f"expected a native upsert ({upsert})"


def test_a_batch_of_creates_is_one_upsert_statement(backend: Backend, connector: CrmDbConnector,
                                                    statements: Statements) -> None:
    people = _people(backend)
    connector.describe(people.name)
    sql = statements(connector)
    results = connector.write(people.name, [_create(n) for n in range(50)], None)  # type: ignore[arg-type]
    inserts = [s for s, _ in sql if s.lstrip().upper().startswith(("INSERT", "UPDATE OR INSERT"))]
    assert [r.status for r in results] == ["created"] * 50
    assert len(inserts) == 1
    if backend.name == "postgres":  # one array per column, unnested by the server
        assert "unnest" in inserts[0]
    assert len({r.target_key for r in results}) == 50
    assert sorted(r.target_key for r in results) == [r["id"] for r in _rows(backend, people)]


def test_decimals_of_every_form_are_written_exactly_by_the_batch_upsert(backend: Backend,
                                                                      connector: CrmDbConnector) -> None:
    """A batch of creates is one statement (PostgreSQL: one array per column): every number lands as it was sent,
    rounded to the column's scale."""
    people = _people(backend)
    sent = ["1E+2", "-0.5", "12345678.99", "0E-7", "3", "-12345678.994", "0.005", None]
    results = connector.write(people.name, [_create(n, balance=None if v is None else Decimal(v))
                                            for n, v in enumerate(sent)], None)  # type: ignore[arg-type]
    assert [r.status for r in results] == ["created"] * len(sent)
    assert [r["balance"] for r in _rows(backend, people)] == [
        Decimal("100.00"), Decimal("-0.50"), Decimal("12345678.99"), Decimal("0.00"), Decimal("3.00"),
        Decimal("-12345678.99"), Decimal("0.01"), None]


def test_the_same_match_twice_in_one_batch_writes_one_row(backend: Backend, connector: CrmDbConnector) -> None:
    people = _people(backend)
    results = connector.write(people.name, [_create(1, balance=1), _create(2), _create(1, balance=2)], None)  # type: ignore[arg-type]
    assert [r.status for r in results] == ["created", "created", "updated"]
    assert results[0].target_key == results[2].target_key
    assert [(r["email"], r["balance"]) for r in _rows(backend, people)] == [
        ("p1@example.ru", Decimal("2.00")), ("p2@example.ru", None)]


def test_only_a_native_upsert_on_a_unique_match_key_is_idempotent(backend: Backend,
                                                                 connector: CrmDbConnector) -> None:
    people = _people(backend)
    assert connector.upsert_is_idempotent(people.name, ["email"])  # ON CONFLICT (email): a repeat updates it
    assert connector.upsert_is_idempotent(people.name, ["id"])
    assert not connector.upsert_is_idempotent(people.name, ["name"])  # no unique key: a repeat inserts again
    assert not connector.upsert_is_idempotent(people.name, [])


def test_create_without_a_unique_key_on_the_match_inserts(backend: Backend, connector: CrmDbConnector,
                                                          statements: Statements) -> None:
    people = _people(backend)
    sql = statements(connector)
    action = WriteAction("create", "s", {"email": "x@example.ru", "name": "Ann"}, {"name": "Ann"}, None, "k")
    [result] = connector.write(people.name, [action], None)  # type: ignore[arg-type]
    assert result.status == "created" and result.target_key == _rows(backend, people)[0]["id"]
    assert not [s for s, _ in sql if "ON CONFLICT" in s or "ON DUPLICATE" in s]


def test_an_explicit_id_clash_is_rejected_and_never_overwrites_another_row(
        backend: Backend, connector: CrmDbConnector) -> None:
    """On MariaDB ON DUPLICATE KEY would fire on the primary key and update the other row: it must not."""
    people = _people(backend)
    [existing] = connector.write(people.name, [_create(1)], None)  # type: ignore[arg-type]
    [clash] = connector.write(people.name, [_create(2, id=existing.target_key)], None)  # type: ignore[arg-type]
    assert clash.status == "rejected" and isinstance(clash.error, BusinessError)
    assert [(r["id"], r["email"]) for r in _rows(backend, people)] == [(existing.target_key, "p1@example.ru")]


# -- per-row rejection -------------------------------------------------------------------------------------

def test_bad_rows_are_rejected_with_the_constraint_named_and_the_rest_written(
        backend: Backend, connector: CrmDbConnector) -> None:
    people = _people(backend)
    connector.write(people.name, [_create(0, phone="+79160000000")], None)  # type: ignore[arg-type]
    actions = [
        _create(1, company_id=1),
        _create(2, phone="+79160000000"),  # the phone belongs to person 0
        _create(3, company_id=999),  # no such company
        _create(4, name="x" * 60),  # too long: caught before the database
        _create(5, company_id=2),
    ]
    results = connector.write(people.name, actions, None)  # type: ignore[arg-type]
    assert [r.status for r in results] == ["created", "rejected", "rejected", "rejected", "created"]
    phone_error, company_error, name_error = (results[i].error for i in (1, 2, 3))
    assert isinstance(phone_error, BusinessError) and "phone" in str(phone_error)
    assert "+79160000000" not in str(phone_error)
    assert isinstance(company_error, BusinessError)
    assert ("fk_" in str(company_error) or "FOREIGN KEY" in str(company_error)) and "999" not in str(company_error)
    assert isinstance(name_error, DataError) and "name" in str(name_error)
    assert [r["email"] for r in _rows(backend, people)] == ["p0@example.ru", "p1@example.ru", "p5@example.ru"]


# -- update / delete ---------------------------------------------------------------------------------------

def test_update_by_target_key_sets_only_the_given_fields(backend: Backend, connector: CrmDbConnector) -> None:
    people = _people(backend)
    created = connector.write(people.name, [_create(1, balance=5, vip=True), _create(2, balance=7)], None)  # type: ignore[arg-type]
    # the key map stores ids as text: "15", not 15
    results = connector.write(people.name, [_update(1, {"balance": 6}, str(created[0].target_key)),
                                            _update(2, {"name": "Second", "vip": False}, created[1].target_key)],
                              None)  # type: ignore[arg-type]
    assert [r.status for r in results] == ["updated", "updated"]
    rows = _rows(backend, people)
    assert [(r["name"], r["balance"], r["vip"]) for r in rows] == [
        ("Person 1", Decimal("6.00"), True), ("Second", Decimal("7.00"), False)]


def test_update_without_a_target_key_finds_the_row_by_match(backend: Backend, connector: CrmDbConnector) -> None:
    people = _people(backend)
    [created] = connector.write(people.name, [_create(1)], None)  # type: ignore[arg-type]
    results = connector.write(people.name, [_update(1, {"name": "Found"}, match={"email": "p1@example.ru"}),
                                            _update(2, {"name": "Lost"}, match={"email": "nobody@example.ru"}),
                                            _update(3, {"name": "Gone"}, target_key=987654)], None)  # type: ignore[arg-type]
    assert [r.status for r in results] == ["updated", "rejected", "rejected"]
    assert results[0].target_key == created.target_key
    assert all(isinstance(r.error, BusinessError) for r in results[1:])
    assert [r["name"] for r in _rows(backend, people)] == ["Found"]


def test_delete_removes_the_row_or_marks_it(backend: Backend, connector: CrmDbConnector) -> None:
    people = _people(backend)
    a, b = connector.write(people.name, [_create(1), _create(2)], None)  # type: ignore[arg-type]
    results = connector.write(people.name, [
        WriteAction("delete", "src-1", {}, {}, str(a.target_key), "d1"),
        WriteAction("delete", "src-2", {"deleted": True}, {}, str(b.target_key), "d2"),  # on_delete: mark
        WriteAction("delete", "src-3", {}, {}, "987654", "d3"),  # already gone: the state asked for holds
    ], None)  # type: ignore[arg-type]
    assert [r.status for r in results] == ["deleted", "deleted", "deleted"]
    assert [(r["id"], r["deleted"]) for r in _rows(backend, people)] == [(b.target_key, True)]


def test_composite_primary_keys_round_trip_through_the_key_map(backend: Backend, connector: CrmDbConnector) -> None:
    table = sa.Table(backend.table_name("stock"), sa.MetaData(),
                     sa.Column("warehouse", sa.String(10), primary_key=True),
                     sa.Column("sku", sa.String(20), primary_key=True),
                     sa.Column("qty", sa.Integer, nullable=False))
    backend.create(table)
    [created] = connector.write(table.name, [WriteAction("create", "s", {"warehouse": "msk", "sku": "A-1", "qty": 3},
                                                         {"warehouse": "msk", "sku": "A-1"}, None, "c")], None)  # type: ignore[arg-type]
    assert json.loads(created.target_key) == ["msk", "A-1"]
    assert connector.target_key_field(table.name) is None
    [updated] = connector.write(table.name, [WriteAction("update", "s", {"qty": 5}, {}, created.target_key, "u")],
                                None)  # type: ignore[arg-type]
    assert updated.status == "updated"
    with backend.engine.connect() as conn:
        assert conn.execute(sa.select(table.c.qty)).scalar_one() == 5
    [deleted] = connector.write(table.name, [WriteAction("delete", "s", {}, {}, created.target_key, "d")], None)  # type: ignore[arg-type]
    assert deleted.status == "deleted"
    with backend.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one() == 0


# -- lookup ------------------------------------------------------------------------------------------------

def test_lookup_pairs_rows_with_the_values_asked_for(backend: Backend, connector: CrmDbConnector,
                                                     statements: Statements) -> None:
    people = _people(backend)
    created = connector.write(people.name, [_create(n) for n in range(1200)], None)  # type: ignore[arg-type]
    sql = statements(connector)
    wanted = [(f"p{n}@example.ru",) for n in range(0, 2400, 2)]  # half exist
    found = connector.lookup(people.name, ["email"], wanted, ["name"])
    queries = [s for s, _ in sql if people.name in s]
    assert set(found) == {(f"p{n}@example.ru",) for n in range(0, 1200, 2)}
    assert found[("p10@example.ru",)] == {"id": created[10].target_key, "email": "p10@example.ru", "name": "Person 10"}
    assert len(queries) == 2  # 1200 values: one query per chunk of 1000


def test_lookup_by_the_text_id_the_key_map_stores(backend: Backend, connector: CrmDbConnector) -> None:
    people = _people(backend)
    [created] = connector.write(people.name, [_create(1)], None)  # type: ignore[arg-type]
    key = str(created.target_key)
    found = connector.lookup(people.name, ["id"], [(key,), ("not a number",)], ["email"])
    assert list(found) == [(key,)]
    assert found[(key,)]["email"] == "p1@example.ru"


def test_lookup_follows_the_databases_text_comparison(backend: Backend, connector: CrmDbConnector) -> None:
    people = _people(backend)
    connector.write(people.name, [_create(1)], None)  # type: ignore[arg-type]
    found = connector.lookup(people.name, ["email"], [("P1@Example.RU",)], ["name"])
    # MariaDB's default collation ignores case; PostgreSQL and SQLite compare exactly
    assert bool(found) is (backend.name == "mariadb")


# -- retriable errors --------------------------------------------------------------------------------------

LOCK_TIMEOUT = {  # make the connector give up on a lock quickly, per dialect
    "sqlite": "timeout=0.2",
    "postgres": "options=-c%20lock_timeout%3D300",
    "mariadb": "init_command=SET%20innodb_lock_wait_timeout%3D1",
    "firebird": "lock_timeout=1",
}


def test_a_lock_held_elsewhere_is_a_retriable_error(backend: Backend) -> None:
    people = _people(backend)
    with backend.connector() as connector:
        [created] = connector.write(people.name, [_create(1)], None)  # type: ignore[arg-type]
    separator = "&" if "?" in backend.url else "?"
    url = f"{backend.url}{separator}{LOCK_TIMEOUT[backend.name]}"
    holder = backend.engine.connect()
    try:
        holder.begin()
        if backend.name == "sqlite":
            holder.exec_driver_sql("BEGIN IMMEDIATE")  # pysqlite defers BEGIN: take the write lock now
        holder.execute(people.update().where(people.c.id == created.target_key).values(name="Locked"))
        with backend.connector(url=url) as connector, pytest.raises(RetriableError, match="unavailable or busy"):
            connector.write(people.name, [_update(1, {"name": "Mine"}, created.target_key)], None)  # type: ignore[arg-type]
    finally:
        holder.rollback()
        holder.close()


@pytest.mark.postgres
def test_columns_arrays_cannot_carry_take_the_generic_upsert(postgres_backend: Backend,
                                                            statements: Statements) -> None:
    """PostgreSQL upserts unnest one array per column; a JSON column falls back to a multi-row VALUES."""
    table = sa.Table(postgres_backend.table_name("docs"), sa.MetaData(),
                     sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("ref", sa.String(20), nullable=False, unique=True),
                     sa.Column("payload", postgresql.JSONB))
    postgres_backend.create(table)
    with postgres_backend.connector() as connector:
        sql = statements(connector)
        actions = [WriteAction("create", f"s{n}", {"ref": f"r{n}", "payload": {"n": n, "tags": ["a"]}},
                               {"ref": f"r{n}"}, None, f"k{n}") for n in range(3)]
        first = connector.write(table.name, actions, None)  # type: ignore[arg-type]
        again = connector.write(table.name, actions[:1], None)  # type: ignore[arg-type]
        found = connector.lookup(table.name, ["ref"], [("r2",)], ["payload"])
    assert [r.status for r in first] == ["created"] * 3 and again[0].status == "updated"
    assert found[("r2",)]["payload"] == {"n": 2, "tags": ["a"]}
    inserts = [s for s, _ in sql if s.startswith("INSERT")]
    assert inserts and all("unnest" not in s and "VALUES" in s for s in inserts)


@pytest.mark.postgres
def test_a_batch_larger_than_one_pipelined_chunk_keeps_every_rows_id_and_outcome(postgres_backend: Backend) -> None:
    """PostgreSQL sends a big batch as pipelined chunks; every row still gets its own id and created/updated,
    and a bad row in a later chunk rejects only itself."""
    people = _people(postgres_backend)
    size = 3 * pipelined.CHUNK_ROWS + 17
    bad = 2 * pipelined.CHUNK_ROWS + 101  # a new row (odd) in the third chunk
    with postgres_backend.connector() as connector:
        existing = connector.write(people.name, [_create(n) for n in range(0, size, 2)], None)  # type: ignore[arg-type]
        actions = [_create(n, company_id=999 if n == bad else 1) for n in range(size)]
        results = connector.write(people.name, actions, None)  # type: ignore[arg-type]
    expected = ["rejected" if n == bad else "updated" if n % 2 == 0 else "created" for n in range(size)]
    assert [r.status for r in results] == expected
    ids = {row["email"]: row["id"] for row in _rows(postgres_backend, people)}
    assert len(ids) == size - 1  # every row but the rejected one, none twice
    for n, result in enumerate(results):
        if result.status != "rejected":
            assert result.target_key == ids[f"p{n}@example.ru"], f"row {n} got another row's id"
    assert [r.target_key for r in existing] == [ids[f"p{n}@example.ru"] for n in range(0, size, 2)]


@pytest.mark.postgres
def test_a_connection_lost_during_an_upsert_is_retriable_and_not_reused(postgres_backend: Backend) -> None:
    people = _people(postgres_backend)
    with postgres_backend.engine.begin() as conn:  # a row that takes a while, so the session can be killed
        conn.exec_driver_sql(f"""
            CREATE FUNCTION {people.name}_slow() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN IF NEW.name = 'slow' THEN PERFORM pg_sleep(5); END IF; RETURN NEW; END $$;
            CREATE TRIGGER slow BEFORE INSERT ON {people.name} FOR EACH ROW EXECUTE FUNCTION {people.name}_slow();
        """)

    def kill_the_upsert() -> None:
        with postgres_backend.engine.connect() as conn:
            for _ in range(100):
                killed = conn.execute(sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE state = 'active' AND query LIKE :upsert AND pid <> pg_backend_pid()"),
                    {"upsert": f"INSERT INTO %{people.name}%"}).all()
                if killed:
                    return
                conn.rollback()  # pg_stat_activity is a snapshot per transaction: look again in a new one
                time.sleep(0.05)

    with postgres_backend.connector() as connector:
        connector.describe(people.name)
        killer = threading.Thread(target=kill_the_upsert)
        killer.start()
        with pytest.raises(RetriableError):
            connector.write(people.name, [_create(n, name="slow" if n == 300 else f"P{n}") for n in range(400)],
                            None)  # type: ignore[arg-type]
        killer.join()
        assert _rows(postgres_backend, people) == []  # the transaction died with the session: nothing half-written
        again = connector.write(people.name, [_create(1)], None)  # type: ignore[arg-type]
    assert again[0].status == "created"
