"""The reference CRM (sandbox/crm.py, config/crm/schema.yaml) and the ИНН helper (sandbox/inn.py)."""

from __future__ import annotations

import random
import re
from collections import Counter
from decimal import Decimal

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from sandbox.crm import SCHEMA_FILE, STAGES, build_metadata, ddl, generate, load_schema
from sandbox.inn import complete_inn, is_valid_inn, make_inn, make_kpp

from .support import SEED_CLIENTS, Backend

# -- ИНН -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("inn", ["7707083893", "7736207543", "500100732259", "7702070139"])
def test_real_inns_are_valid(inn: str) -> None:
    assert is_valid_inn(inn)


@pytest.mark.parametrize("inn", ["7707083894", "500100732258", "500100732249", "770708389", "77070838933",
                                 "77O7083893", ""])
def test_wrong_check_digits_lengths_and_characters_are_invalid(inn: str) -> None:
    assert not is_valid_inn(inn)


@given(st.text("0123456789", min_size=9, max_size=9) | st.text("0123456789", min_size=10, max_size=10))
def test_completing_any_prefix_gives_a_valid_inn_of_the_right_length(prefix: str) -> None:
    inn = complete_inn(prefix)
    assert inn.startswith(prefix) and len(inn) == len(prefix) + (1 if len(prefix) == 9 else 2)
    assert is_valid_inn(inn)


@given(st.integers(min_value=0, max_value=2**32), st.booleans())
def test_generated_inns_and_kpps_are_well_formed(seed: int, individual: bool) -> None:
    rng = random.Random(seed)
    inn = make_inn(rng, individual=individual)
    assert is_valid_inn(inn) and len(inn) == (12 if individual else 10)
    kpp = make_kpp(inn, rng)
    assert re.fullmatch(r"\d{9}", kpp) and kpp[:4] == inn[:4]


def test_complete_inn_refuses_a_bad_prefix() -> None:
    with pytest.raises(ValueError, match="9"):
        complete_inn("12345")


# -- generated data ----------------------------------------------------------------------------------------

DATA = generate(clients=60, seed=42)


def test_generation_is_deterministic_per_seed() -> None:
    assert generate(clients=60, seed=42) == DATA
    assert generate(clients=60, seed=43)["clients"] != DATA["clients"]


def test_clients_have_consistent_legal_details() -> None:
    clients = DATA["clients"]
    assert {c["legal_form"] for c in clients} >= {"ООО", "ИП", "АО"}
    for client in clients:
        assert is_valid_inn(client["inn"])
        if client["legal_form"] == "ИП":
            assert len(client["inn"]) == 12 and client["kpp"] == ""
            assert client["name"].startswith("ИП ") and client["full_name"].startswith("Индивидуальный предприниматель")
        else:
            assert len(client["inn"]) == 10 and re.fullmatch(r"\d{9}", client["kpp"])
            assert client["name"].startswith(f"{client['legal_form']} «")
        assert re.fullmatch(r"[a-z0-9._-]+@[a-z0-9.-]+\.[a-z]+", client["email"]), client["email"]


def test_phones_come_in_the_mixed_formats_people_type() -> None:
    phones = [c["phone"] for c in DATA["clients"]]
    shapes = {re.sub(r"\d", "9", phone) for phone in phones}
    assert len(shapes) >= 4
    assert all(len(re.sub(r"\D", "", phone)) in (10, 11) for phone in phones)


def test_every_deal_stage_is_present_and_amounts_add_up() -> None:
    assert {d["stage"] for d in generate(clients=2, seed=1)["deals"]} == set(STAGES)
    items: dict[int, list[Decimal]] = {}
    for item in DATA["deal_items"]:
        assert item["amount"] == (item["quantity"] * item["price"]).quantize(Decimal("0.01"))
        items.setdefault(item["deal_id"], []).append(item["amount"])
    for deal in DATA["deals"]:
        assert deal["amount"] == sum(items[deal["id"]]), "a deal's amount is the sum of its lines"


def test_invoices_and_payments_follow_the_deal_stage() -> None:
    stage = {d["id"]: d["stage"] for d in DATA["deals"]}
    invoiced = {i["deal_id"]: i for i in DATA["invoices"]}
    assert set(invoiced) == {d for d, s in stage.items() if s in ("invoiced", "paid")}
    paid = {i["id"] for i in DATA["invoices"] if i["status"] == "paid"}
    assert paid == {i["id"] for i in DATA["invoices"] if stage[i["deal_id"]] == "paid"}
    assert {p["invoice_id"] for p in DATA["payments"]} == paid


def test_managers_have_extensions_101_to_105() -> None:
    assert [m["extension"] for m in DATA["managers"]] == ["101", "102", "103", "104", "105"]


def test_generated_rows_respect_the_declared_unique_keys() -> None:
    for table, spec in load_schema().items():
        for key in spec.get("unique", []):
            values = [tuple(row[c] for c in key) for row in DATA[table] if None not in (row[c] for c in key)]
            duplicates = [v for v, n in Counter(values).items() if n > 1]
            assert duplicates == [], f"{table} {key}"


# -- the schema on real databases --------------------------------------------------------------------------

def test_seed_builds_the_schema_and_writes_every_row(crm: Backend) -> None:
    counts = crm.seeded_crm()
    with crm.engine.connect() as conn:
        stored = {name: conn.execute(sa.text(f"SELECT COUNT(*) FROM {name}")).scalar_one() for name in counts}
        inspector = sa.inspect(conn)
        uniques = {tuple(u["column_names"]) for u in inspector.get_unique_constraints("clients")}
        uniques |= {tuple(i["column_names"]) for i in inspector.get_indexes("clients") if i["unique"]}
    assert stored == counts
    assert counts["clients"] == SEED_CLIENTS
    assert ("inn", "kpp") in uniques or crm.name == "sqlite"  # SQLite reflection misses named constraints


def test_the_seeded_schema_accepts_new_rows_after_explicit_ids(crm: Backend) -> None:
    """PostgreSQL sequences must have moved past the seeded ids, or the next insert would clash."""
    table = build_metadata().tables["managers"]
    with crm.engine.begin() as conn:
        new_id = conn.execute(table.insert().values(full_name="Новый Менеджер", extension="199")
                              .returning(table.c.id)).scalar_one() if crm.name != "mariadb" else \
            conn.execute(table.insert().values(full_name="Новый Менеджер", extension="199")).inserted_primary_key[0]
        conn.execute(table.delete().where(table.c.id == new_id))
    assert new_id > 5


def test_the_connector_sees_the_declared_keys_of_the_reference_schema(crm: Backend) -> None:
    expected = {"clients": ("inn", "kpp"), "payments": ("external_ref",), "calls": ("call_id",),
                "leads": ("source_ref",), "tasks": ("kind", "source_ref"), "invoices": ("number",)}
    with crm.connector() as connector:
        for table, key in expected.items():
            info = connector.describe(table)
            assert info is not None and key in info.unique_keys, table


def test_the_committed_firebird_ddl_is_what_the_schema_file_gives() -> None:
    committed = (SCHEMA_FILE.parent / "firebird.sql").read_text(encoding="utf-8")
    assert committed == ddl("firebird"), "config/crm/firebird.sql is stale: python -m sandbox.crm ddl firebird > it"
