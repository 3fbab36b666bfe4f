"""Reading: the crm_db source options (children, exists, where), cursor lookback, keyset pagination."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from connectors.crm_db import CrmDbConnector, CrmDbSourceOptions
from hub.connections import Connection
from hub.connector import SourceBatch, parse_options
from hub.errors import ConfigError
from hub.mapping.model import Incremental
from hub.testing.connector_kit import StreamCase, read_all, read_request

from .support import SETTINGS, Backend, Statements

CURSOR = Incremental(strategy="cursor", cursor="updated_at")


def _options(**options: Any) -> CrmDbSourceOptions:
    return parse_options(CrmDbSourceOptions, options, "source")  # type: ignore[return-value]


def _records(batches: list[SourceBatch]) -> list[dict[str, Any]]:
    return [r for b in batches for r in b.records]


def _rows(backend: Backend, sql: str) -> list[Any]:
    with backend.engine.connect() as conn:
        return list(conn.execute(sa.text(sql)).all())


# -- children ----------------------------------------------------------------------------------------------

ITEMS = {"items": {"table": "deal_items", "foreign_key": "deal_id", "parent_key": "id", "order_by": ["line_no"],
                   "fields": ["line_no", "sku", "quantity", "price", "amount"]}}


def test_children_attach_each_deals_item_lines_in_order(crm: Backend, connector: CrmDbConnector) -> None:
    case = StreamCase("deals", key=("id",), rows=[], options=_options(children=ITEMS), batch_size=7)
    deals = _records(read_all(connector, read_request(case, fields=frozenset({"title", "items"}))))
    expected: dict[int, list[tuple[Any, ...]]] = {}
    for deal_id, *line in _rows(crm, "SELECT deal_id, line_no, sku, quantity, price, amount FROM deal_items "
                                     "ORDER BY deal_id, line_no"):
        # raw SQL on SQLite gives floats for NUMERIC: compare as decimals
        expected.setdefault(deal_id, []).append(tuple(Decimal(str(v)) if isinstance(v, float) else v for v in line))
    assert len(deals) == crm.seeded_crm()["deals"]
    for deal in deals:
        assert set(deal) == {"id", "title", "items"}
        got = [(i["line_no"], i["sku"], i["quantity"], i["price"], i["amount"]) for i in deal["items"]]
        assert got == expected.get(deal["id"], [])
        assert all(set(item) == set(ITEMS["items"]["fields"]) for item in deal["items"])


def test_children_cost_one_query_per_batch(crm: Backend, connector: CrmDbConnector,
                                           statements: Statements) -> None:
    case = StreamCase("deals", key=("id",), rows=[], options=_options(children=ITEMS), batch_size=10)
    connector.describe("deals"), connector.describe("deal_items")  # reflection is not what is counted
    sql = statements(connector)
    batches = read_all(connector, read_request(case, fields=frozenset({"items"})))
    selects = [s for s, _ in sql if s.lstrip().upper().startswith("SELECT") and s.strip() != "SELECT 1"]
    child_queries = [s for s in selects if "deal_items" in s]
    assert len(batches) >= 3
    assert len(child_queries) == len([b for b in batches if b.records])
    assert len(selects) == len(batches) + len(child_queries)


def test_children_not_asked_for_are_not_fetched(crm: Backend, connector: CrmDbConnector,
                                                statements: Statements) -> None:
    case = StreamCase("deals", key=("id",), rows=[], options=_options(children=ITEMS), batch_size=50)
    connector.describe("deals"), connector.describe("deal_items")
    sql = statements(connector)
    records = _records(read_all(connector, read_request(case, fields=frozenset({"title"}))))
    assert records and all("items" not in r for r in records)
    assert not [s for s, _ in sql if "deal_items" in s]


# -- exists / where ----------------------------------------------------------------------------------------

def test_exists_keeps_only_clients_with_a_realization(crm: Backend, connector: CrmDbConnector) -> None:
    options = _options(exists=[{"table": "deals", "on": {"client_id": "id"},
                                "where": {"stage": ["shipped", "invoiced"]}}])
    case = StreamCase("clients", key=("id",), rows=[], options=options, batch_size=6)
    got = [r["id"] for r in _records(read_all(connector, read_request(case, fields=frozenset({"inn", "kpp"}))))]
    expected = [row[0] for row in _rows(crm, "SELECT id FROM clients WHERE id IN (SELECT client_id FROM deals "
                                             "WHERE stage IN ('shipped', 'invoiced')) ORDER BY id")]
    assert got == expected
    assert 0 < len(got) < crm.seeded_crm()["clients"]


def test_a_nested_exists_keeps_only_products_on_a_paid_deal_line(crm: Backend, connector: CrmDbConnector) -> None:
    options = _options(exists=[{"table": "deal_items", "on": {"sku": "sku"},
                                "exists": [{"table": "deals", "on": {"id": "deal_id"},
                                            "where": {"stage": ["paid"]}}]}])
    case = StreamCase("products", key=("id",), rows=[], options=options, batch_size=7)
    got = [r["sku"] for r in _records(read_all(connector, read_request(case, fields=frozenset({"sku"}))))]
    expected = [row[0] for row in _rows(crm, "SELECT sku FROM products WHERE sku IN (SELECT i.sku FROM deal_items i "
                                             "JOIN deals d ON d.id = i.deal_id WHERE d.stage = 'paid') ORDER BY id")]
    assert got == expected
    assert 0 < len(got) < crm.seeded_crm()["products"], "some items were never on a paid deal"


def test_where_filters_on_the_streams_own_columns(crm: Backend, connector: CrmDbConnector) -> None:
    case = StreamCase("deals", key=("id",), rows=[], options=_options(where={"stage": ["paid", "lost"]}))
    records = _records(read_all(connector, read_request(case, fields=frozenset({"stage"}), batch_size=100)))
    expected = _rows(crm, "SELECT COUNT(*) FROM deals WHERE stage IN ('paid', 'lost')")[0][0]
    assert len(records) == expected > 0
    assert {r["stage"] for r in records} == {"paid", "lost"}


def test_where_with_null_matches_missing_values(crm: Backend, connector: CrmDbConnector) -> None:
    case = StreamCase("deals", key=("id",), rows=[], options=_options(where={"shipped_on": None}))
    records = _records(read_all(connector, read_request(case, fields=frozenset({"shipped_on", "stage"}),
                                                        batch_size=100)))
    assert records and all(r["shipped_on"] is None for r in records)
    assert {r["stage"] for r in records} <= {"new", "in_progress", "lost"}


@pytest.mark.parametrize("options, problem", [
    ({"exists": [{"table": "no_such_table", "on": {"client_id": "id"}}]}, "no_such_table"),
    ({"exists": [{"table": "deals", "on": {"no_such_column": "id"}}]}, "no_such_column"),
    ({"where": {"stage": ["paid"], "colour": "red"}}, "colour"),
    ({"children": {"items": {"table": "deal_items", "foreign_key": "nope", "parent_key": "id"}}}, "nope"),
])
def test_options_naming_unknown_tables_or_columns_are_config_errors(
        crm: Backend, connector: CrmDbConnector, options: dict[str, Any], problem: str) -> None:
    case = StreamCase("deals", key=("id",), rows=[], options=_options(**options))
    with pytest.raises(ConfigError, match=problem):
        read_all(connector, read_request(case))


def test_options_reject_unknown_keys_and_raw_sql() -> None:
    with pytest.raises(ConfigError, match="sql"):
        _options(sql="SELECT * FROM clients")
    with pytest.raises(ConfigError, match="foreign_key"):
        _options(children={"items": {"table": "deal_items", "foreign_key": ["a", "b"], "parent_key": "id"}})


# -- cursor ------------------------------------------------------------------------------------------------

def _events(backend: Backend, rows: int) -> tuple[sa.Table, datetime]:
    base = datetime(2025, 3, 1, 12, 0)
    table = sa.Table(backend.table_name("events"), sa.MetaData(),
                     sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
                     sa.Column("version", sa.Integer, nullable=False),
                     sa.Column("updated_at", sa.DateTime, nullable=True))
    backend.create(table, rows={table.name: [
        {"id": n, "version": n * 10, "updated_at": base + timedelta(seconds=10 * n)} for n in range(1, rows + 1)]})
    return table, base


def _insert(backend: Backend, table: sa.Table, row: dict[str, Any]) -> None:
    with backend.engine.begin() as conn:
        conn.execute(table.insert(), row)


def test_lookback_rereads_rows_committed_late_with_an_older_cursor(backend: Backend,
                                                                   connector: CrmDbConnector) -> None:
    table, base = _events(backend, 10)
    plain = StreamCase(table.name, key=("id",), rows=[], incremental=CURSOR)
    windowed = StreamCase(table.name, key=("id",), rows=[],
                          incremental=Incremental(strategy="cursor", cursor="updated_at", lookback=60))
    checkpoint = read_all(connector, read_request(plain))[-1].checkpoint
    # a transaction that started earlier commits now, with a timestamp 30 s before the checkpoint
    _insert(backend, table, {"id": 99, "version": 0, "updated_at": base + timedelta(seconds=70)})
    missed = [r["id"] for r in _records(read_all(connector, read_request(plain, checkpoint=checkpoint)))]
    batches = read_all(connector, read_request(windowed, checkpoint=checkpoint))
    found = [r["id"] for r in _records(batches)]
    assert missed == []
    assert 99 in found
    assert set(found) == {4, 5, 6, 7, 8, 9, 10, 99}  # the 60 s before the last row (at 100 s): 40 s .. 100 s
    assert batches[-1].checkpoint == checkpoint, "re-reading the window must not move the checkpoint back"


def test_lookback_on_a_numeric_cursor_counts_units(backend: Backend, connector: CrmDbConnector) -> None:
    table, _ = _events(backend, 10)
    case = StreamCase(table.name, key=("id",), rows=[],
                      incremental=Incremental(strategy="cursor", cursor="version", lookback=25))
    checkpoint = read_all(connector, read_request(case))[-1].checkpoint
    again = [r["id"] for r in _records(read_all(connector, read_request(case, checkpoint=checkpoint)))]
    assert again == [8, 9, 10]  # versions 80, 90, 100 are within 25 of 100


def test_cursor_resumes_strictly_after_the_checkpoint_including_ties(backend: Backend,
                                                                     connector: CrmDbConnector) -> None:
    table, base = _events(backend, 4)
    for n in range(5, 9):  # four rows with one shared timestamp, spanning a batch boundary
        _insert(backend, table, {"id": n, "version": 0, "updated_at": base + timedelta(hours=1)})
    case = StreamCase(table.name, key=("id",), rows=[], incremental=CURSOR, batch_size=6)
    first = read_all(connector, read_request(case))[0]
    rest = _records(read_all(connector, read_request(case, checkpoint=first.checkpoint)))
    assert [r["id"] for r in first.records] == [1, 2, 3, 4, 5, 6]
    assert [r["id"] for r in rest] == [7, 8]


def test_rows_without_a_cursor_value_are_not_read_incrementally(backend: Backend,
                                                                connector: CrmDbConnector) -> None:
    table, _ = _events(backend, 3)
    _insert(backend, table, {"id": 50, "version": 1, "updated_at": None})
    ids = [r["id"] for r in _records(read_all(connector, read_request(
        StreamCase(table.name, key=("id",), rows=[], incremental=CURSOR))))]
    assert ids == [1, 2, 3]


# -- keyset pagination and sweeps ----------------------------------------------------------------------------

def test_batches_use_keyset_pagination_never_offset(backend: Backend, connector: CrmDbConnector,
                                                    statements: Statements) -> None:
    table, _ = _events(backend, 25)
    connector.describe(table.name)
    sql = statements(connector)
    batches = read_all(connector, read_request(StreamCase(table.name, key=("id",), rows=[], batch_size=10)))
    reads = [(s.upper(), params) for s, params in sql if table.name in s]
    assert [len(b.records) for b in batches] == [10, 10, 5]
    assert len(reads) == 3
    assert all(("ROWS" if backend.name == "firebird" else "LIMIT") in s for s, _ in reads)
    # SQLAlchemy writes "LIMIT ? OFFSET ?" for SQLite: the offset must then be 0
    assert all("OFFSET" not in s or params[-1] == 0 for s, params in reads)


def test_a_sweep_of_an_empty_table_still_reports_its_end(backend: Backend, connector: CrmDbConnector) -> None:
    table = sa.Table(backend.table_name("empty"), sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True))
    backend.create(table)
    batches = read_all(connector, read_request(StreamCase(table.name, key=("id",), rows=[])))
    assert [(b.records, b.checkpoint) for b in batches] == [([], None)]


def test_a_sweep_ending_exactly_on_a_batch_boundary_ends_with_checkpoint_none(
        backend: Backend, connector: CrmDbConnector) -> None:
    table, _ = _events(backend, 6)
    batches = read_all(connector, read_request(StreamCase(table.name, key=("id",), rows=[], batch_size=3)))
    assert [len(b.records) for b in batches] == [3, 3]
    assert batches[0].checkpoint is not None and batches[-1].checkpoint is None


def test_booleans_read_as_bool_on_every_dialect(backend: Backend, connector: CrmDbConnector) -> None:
    table = sa.Table(backend.table_name("flags"), sa.MetaData(),
                     sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
                     sa.Column("active", sa.Boolean, nullable=False))
    backend.create(table, rows={table.name: [{"id": 1, "active": True}, {"id": 2, "active": False}]})
    records = _records(read_all(connector, read_request(StreamCase(table.name, key=("id",), rows=[]))))
    assert [(r["active"], type(r["active"])) for r in records] == [(True, bool), (False, bool)]
    assert connector.describe(table.name).fields["active"].kind == "boolean"  # type: ignore[union-attr]


@pytest.mark.parametrize("change, problem", [
    ({"key": ("updated_at",)}, "NOT NULL"),
    ({"fields": frozenset({"colour"})}, "colour"),
    ({"incremental": Incremental(strategy="version", version_field="version")}, "version"),
    ({"checkpoint": {"position": [1, 2, 3]}}, "checkpoint"),
    ({"stream": "no_such_table"}, "no_such_table"),
])
def test_impossible_read_requests_are_config_errors(backend: Backend, connector: CrmDbConnector,
                                                    change: dict[str, Any], problem: str) -> None:
    table, _ = _events(backend, 2)
    request = read_request(StreamCase(table.name, key=("id",), rows=[]))
    request = type(request)(**{**request.__dict__, **change})
    with pytest.raises(ConfigError, match=problem):
        read_all(connector, request)


@pytest.mark.postgres
def test_postgres_schema_can_be_named_in_the_connection(postgres_backend: Backend) -> None:
    """extra.db_schema selects the schema without a search_path in the URL."""
    table, _ = _events(postgres_backend, 3)
    plain_url = postgres_backend.url.split("?", 1)[0]
    connection = Connection(conn_id="crm", conn_type="postgres", extra={"url": plain_url,
                                                                        "db_schema": postgres_backend.db_schema})
    with CrmDbConnector(connection, SETTINGS) as connector:
        ids = [r["id"] for r in _records(read_all(connector, read_request(
            StreamCase(table.name, key=("id",), rows=[]))))]
    assert ids == [1, 2, 3]
