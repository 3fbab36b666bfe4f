"""docs/migration.md as an operator runs it, through the `hub` executable: old clients from Excel and their
contacts into the CRM, a supplier's CSV price list into products; plan first, run, run again."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from tests.integration.files.conftest import FilesWorld

HUB = str(Path(sys.executable).with_name("hub"))


def hub(world: FilesWorld, *args: str) -> str:
    env = {**os.environ, **world.env, "HUB_HOME": str(world.hub.settings.home),
           "HUB_DATABASE_URL": world.hub.settings.state_url, "HUB_MAPPINGS_DIR": str(world.mappings)}
    done = subprocess.run([HUB, *args], env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


def test_plan_then_run_then_a_second_run_writes_nothing(world: FilesWorld) -> None:
    known = world.crm.client("ООО «Меридиан»", "7703456781", "770301001", phone="+7 495 000-00-01")
    world.crm.client("ООО «Чужой»", "7709999999", "770901001", email="anna@granit.ru")

    plan = hub(world, "plan", "legacy_clients")

    assert "read 5, would create 2" in plan and "unchanged 1" in plan and "rejected 2" in plan, plan
    assert "clients_legacy.xlsx:7: the same inn (7701234560) as clients_legacy.xlsx:4" in plan
    assert "7702345674: field 'name': the CRM has another client (a different ИНН) with this phone or e-mail" in plan
    assert [row["inn"] for row in world.crm.rows("clients")] == ["7703456781", "7709999999"], "a plan writes nothing"

    first = hub(world, "run", "legacy_clients")
    contacts = hub(world, "run", "legacy_contacts")
    prices = hub(world, "run", "supplier_prices")

    assert "create 2," in first and "unchanged 1" in first, first
    clients = {row["inn"]: row for row in world.crm.rows("clients")}
    assert set(clients) == {"7703456781", "7709999999", "7701234560", "500100732259"}
    assert clients["7703456781"]["id"] == known and clients["7703456781"]["name"] == "ООО «Меридиан»"
    vector, petrov = clients["7701234560"], clients["500100732259"]
    assert (vector["name"], vector["legal_form"], vector["phone_e164"], vector["email"]) == \
        ("ООО «Вектор»", "ООО", "+79161234567", "sales@vector.ru"), "the first of the two rows crossed"
    assert (petrov["legal_form"], petrov["kpp"]) == ("ИП", "")
    assert "create 3," in contacts, contacts
    people = {row["full_name"]: row for row in world.crm.rows("contacts")}
    assert people["Петров Пётр"]["client_id"] == petrov["id"] and people["Кузнецов Олег"]["client_id"] == known
    assert "create 4," in prices and "rejected 1" in prices, prices
    assert world.crm.one("products", sku="KAB-VVG")["price"] == Decimal("1234.50")
    letters = world.letters("supplier_prices")
    assert letters == {"SHP-20": "prices_supplier.csv:6: column 'price': 'договорная' is not a number"}

    again = [hub(world, "run", exchange) for exchange in ("legacy_clients", "legacy_contacts", "supplier_prices")]

    for text in again:
        assert "create 0, update 0, delete 0" in text, text
    assert "dead letters +0" in again[0] and "read 0" in again[2], again
    assert len(world.crm.rows("clients")) == 4 and len(world.crm.rows("contacts")) == 3


def test_validate_reads_the_headers(world: FilesWorld, tmp_path: Path) -> None:
    text = (world.mappings / "legacy_clients.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("phone_e164: phone(phone)", "phone_e164: phone(telephone)"), encoding="utf-8")

    assert "ok" in hub(world, "validate", str(world.mappings / "legacy_clients.yaml"))
    env = {**os.environ, **world.env, "HUB_HOME": str(world.hub.settings.home)}
    done = subprocess.run([HUB, "validate", str(bad)], env=env, capture_output=True, text=True, timeout=300,
                          check=False)

    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "fields.phone_e164: source stream 'clients_legacy.xlsx' has no field 'telephone'" in output
