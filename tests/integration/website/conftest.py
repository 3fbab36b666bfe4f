"""A whole website -> CRM setup for the integration tests: a seeded CRM (SQLite) with known clients, the
hub with the repository's mappings, the intake service on a free port, and the shop's API for poll mode.

Known CRM rows (added to the seeded data, phones typed the way people type them):

* client ``romashka`` (ООО «Ромашка-Тест», 8 (495) 123-45-67, info@romashka-test.ru), manager 3
* client ``petrov`` (ИП Петров, +7 (903) 111-00-00), manager 4, with the contact Ольга Смирнова
  (+7 916 555-44-33, olga.smirnova@romashka-test.ru)
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from connectors.crm_db.engine import normalize_url
from connectors.website.server import IntakeService
from hub.app import Hub
from hub.runner import RunReport
from hub.settings import HubSettings, RetryPolicy
from hub.wakeup import NullWaker
from sandbox.crm import seed
from sandbox.website import wpforms_signature
from sandbox.website_api import ShopApi, ShopApiServer

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SOURCES = ("tilda", "cf7", "elementor", "gravity", "wpforms", "bitrix", "yandex_forms", "marquiz", "google_forms",
           "landing", "shop_api")
LEAD_MANAGERS = [1, 2, 3, 4, 5]  # settings.lead_managers of mappings/website_leads.yaml
INTAKE_EXCHANGES = ("website_client_phones", "website_contact_phones", "website_leads", "website_callback_tasks")


def secret(source: str) -> str:
    return f"test-secret-{source}"


@dataclass
class Site:
    hub: Hub
    crm: sa.Engine
    intake: IntakeService
    shop: ShopApi
    clients: dict[str, int] = field(default_factory=dict)  # known client -> id
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))

    @property
    def url(self) -> str:
        return self.intake.url

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        return self.http.post(self.url + path, content=body, headers=headers)

    def send_fixture(self, name: str) -> httpx.Response:
        """Replay a recorded request from fixtures/<name>.http with this site's credentials."""
        head, _, body = (FIXTURES / f"{name}.http").read_bytes().partition(b"\n\n")
        request_line, *header_lines = head.decode().splitlines()
        path = request_line.split()[1]
        source = re.match(r"/forms/([^?]+)", path).group(1)  # type: ignore[union-attr]
        headers = dict(line.split(": ", 1) for line in header_lines)
        filled = {k: v.replace("{token}", secret(source)).replace(
            "{signature}", wpforms_signature(secret(source), body)) for k, v in headers.items()}
        return self.post(path.replace("{token}", secret(source)), body, filled)

    def run(self, *exchanges: str) -> list[RunReport]:
        return [self.hub.run(exchange, triggered_by="test") for exchange in exchanges or INTAKE_EXCHANGES]

    def row(self, table: str, **where: Any) -> dict[str, Any] | None:
        rows = self.rows(table, **where)
        assert len(rows) <= 1, f"{len(rows)} {table} rows for {where}"
        return rows[0] if rows else None

    def rows(self, table: str, **where: Any) -> list[dict[str, Any]]:
        t = sa.Table(table, sa.MetaData(), autoload_with=self.crm)
        with self.crm.connect() as c:
            query = sa.select(t).where(*(t.c[k] == v for k, v in where.items())).order_by(t.c.id)
            return [dict(r) for r in c.execute(query).mappings()]

    def inbox_payload(self, key: str) -> str:
        """The raw stored JSON of an inbox event (to prove what is not stored)."""
        with self.hub.store.engine.connect() as c:
            return c.execute(sa.text("SELECT payload FROM hub_inbox WHERE dedup_key = :k"), {"k": key}).scalar_one()

    def inbox_count(self) -> int:
        with self.hub.store.engine.connect() as c:
            return int(c.execute(sa.text("SELECT count(*) FROM hub_inbox")).scalar_one())


def add_known_clients(crm: sa.Engine) -> dict[str, int]:
    meta = sa.MetaData()
    clients = sa.Table("clients", meta, autoload_with=crm)
    contacts = sa.Table("contacts", meta, autoload_with=crm)
    with crm.begin() as c:
        romashka = c.execute(clients.insert().values(
            name="ООО «Ромашка-Тест»", full_name="Общество с ограниченной ответственностью «Ромашка-Тест»",
            legal_form="ООО", inn="7701999990", kpp="770101001", phone="8 (495) 123-45-67",
            email="info@romashka-test.ru", manager_id=3)).inserted_primary_key[0]
        petrov = c.execute(clients.insert().values(
            name="ИП Петров Пётр Петрович", full_name="Индивидуальный предприниматель Петров Пётр Петрович",
            legal_form="ИП", inn="770199999992", kpp="", phone="+7 (903) 111-00-00", email="petrov@example.org",
            manager_id=4)).inserted_primary_key[0]
        c.execute(contacts.insert().values(client_id=petrov, full_name="Смирнова Ольга Андреевна",
                                           position="Менеджер по закупкам", phone="+7 916 555-44-33",
                                           email="olga.smirnova@romashka-test.ru"))
    return {"romashka": romashka, "petrov": petrov}


@contextlib.contextmanager
def running_site(home: Path, hub_url: str, crm_url: str, crm_schema: str | None = None) -> Iterator[Site]:
    """The CRM at ``crm_url`` seeded, the hub state at ``hub_url``, the intake and the shop's API running."""
    seed(crm_url, clients=20, db_schema=crm_schema)
    crm = sa.create_engine(normalize_url(crm_url))
    known = add_known_clients(crm)
    shop = ShopApi(token=secret("shop_api"))
    crm_connection = {"conn_type": "hub_crm_db", "extra": {"url": crm_url, **({"db_schema": crm_schema}
                                                                               if crm_schema else {})}}
    with ShopApiServer(shop) as shop_server, pytest.MonkeyPatch.context() as env:
        env.setenv("AIRFLOW_CONN_CRM", json.dumps(crm_connection))
        for source in SOURCES:
            env.setenv(f"AIRFLOW_CONN_WEBSITE_{source.upper()}", json.dumps(
                {"conn_type": "hub_website", "password": secret(source), "host": "127.0.0.1",
                 "port": shop_server.port}))
        settings = HubSettings(home=home, database_url=hub_url, mappings_dir=ROOT / "mappings",
                               retry=RetryPolicy(attempts=2, initial_wait=0, max_wait=0))
        hub = Hub(settings)
        try:
            with IntakeService(hub, ["website_leads"], waker=NullWaker()) as intake:
                site = Site(hub, crm, intake, shop, known)
                try:
                    yield site
                finally:
                    site.http.close()
        finally:
            hub.close()
            crm.dispose()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    home = tmp_path_factory.mktemp("website")
    with running_site(home, f"sqlite:///{home / 'hub.db'}", f"sqlite:///{home / 'crm.db'}") as running:
        yield running
