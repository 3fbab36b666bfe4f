"""Row fingerprints: where the database computes them (PostgreSQL), each record read comes with one, and it
changes exactly when a selected column does (NULL and empty text differ, so do 1.5 and 1.50), or when the reading
time zone does; by the types' own hashes where they tell every two values apart, else by an md5 of the row's text
(a float column). Elsewhere the records come without, and the runner hashes them itself."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from hub.mapping.model import Incremental
from hub.testing.connector_kit import StreamCase, read_all, read_request

from .support import Backend

ROWS = [{"id": i, "name": f"client {i}", "city": "Казань" if i % 2 else None, "note": "x",
         "balance": Decimal("1.5") * i} for i in range(1, 8)]


def make_table(backend: Backend, with_float: bool = False) -> str:
    name = backend.table_name("fingerprinted")
    table = sa.Table(name, sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
                     sa.Column("name", sa.String(100)), sa.Column("city", sa.String(100)),
                     sa.Column("note", sa.String(100)), sa.Column("balance", sa.Numeric()),
                     *([sa.Column("rate", sa.Float)] if with_float else []))
    backend.create(table, rows={name: ROWS})
    return name


def fingerprints(backend: Backend, table: str, strategy: str = "hash", **extra: Any) -> dict[int, str | None]:
    incremental = Incremental(strategy="cursor", cursor="id") if strategy == "cursor" else Incremental()
    case = StreamCase(table, key=("id",), rows=[], incremental=incremental, batch_size=3)
    found: dict[int, str | None] = {}
    fields = frozenset({"name", "city", "balance", "rate"} if "rate" in columns(backend, table) else
                       {"name", "city", "balance"})
    for batch in read_all(backend.connector(**extra), read_request(case, fields=fields)):
        prints = batch.fingerprints if batch.fingerprints is not None else [None] * len(batch.records)
        assert len(prints) == len(batch.records)
        found.update((record["id"], fingerprint) for record, fingerprint in zip(batch.records, prints, strict=True))
    return found


def columns(backend: Backend, table: str) -> set[str]:
    return {column["name"] for column in sa.inspect(backend.engine).get_columns(table)}


def update(backend: Backend, sql: str) -> None:
    with backend.engine.begin() as conn:
        conn.execute(sa.text(sql))


@pytest.mark.postgres
@pytest.mark.parametrize("strategy", ["hash", "cursor"])
@pytest.mark.parametrize("with_float", [False, True], ids=["types' hashes", "md5 of the text"])
def test_a_fingerprint_changes_exactly_when_a_selected_column_does(postgres_backend: Backend, strategy: str,
                                                                   with_float: bool) -> None:
    table = make_table(postgres_backend, with_float)
    before = fingerprints(postgres_backend, table, strategy)
    assert len(before) == len(ROWS) and len(set(before.values())) == len(ROWS)  # one per record, all different
    assert all(len(f or "") == 32 for f in before.values()) == with_float  # an md5 only where a float is read

    update(postgres_backend, f"UPDATE {table} SET note = 'changed' WHERE id = 1")  # not read: no change
    update(postgres_backend, f"UPDATE {table} SET name = 'renamed' WHERE id = 3")
    update(postgres_backend, f"UPDATE {table} SET city = '' WHERE id = 2")  # NULL -> empty text
    update(postgres_backend, f"UPDATE {table} SET balance = 6.00 WHERE id = 4")  # 6.0 -> 6.00: equal, not the same
    after = fingerprints(postgres_backend, table, strategy)

    assert {i for i in before if before[i] != after[i]} == {2, 3, 4}


@pytest.mark.postgres
def test_another_reading_time_zone_gives_other_fingerprints(postgres_backend: Backend) -> None:
    table = make_table(postgres_backend)
    moscow = fingerprints(postgres_backend, table, timezone="Europe/Moscow")
    samara = fingerprints(postgres_backend, table, timezone="Europe/Samara")
    assert moscow == fingerprints(postgres_backend, table, timezone="Europe/Moscow")
    assert all(moscow[i] != samara[i] for i in moscow)


def test_without_fingerprints_from_the_database_the_records_come_without(sqlite_backend: Backend) -> None:
    table = make_table(sqlite_backend)
    assert set(fingerprints(sqlite_backend, table).values()) == {None}
