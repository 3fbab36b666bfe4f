"""Poll mode: submissions the shop lists in its JSON API become leads, read by cursor, each exactly once,
through maintenance windows and credential problems."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import SecretStr

from connectors.website.config import PollSpec
from connectors.website.poll import SiteApi
from hub.connections import Connection, ConnectionResolver
from hub.errors import AuthError, FatalError
from hub.mapping.loader import load_text
from hub.runner import Runner
from hub.settings import HubSettings
from hub.state.store import StateStore
from hub.testing.memory import DATABASES, database
from sandbox.website_api import PATH, ShopApi, ShopApiServer

from .conftest import Site


def shop_leads(site: Site) -> list[dict]:
    return site.rows("leads", source="shop_api")


def test_polled_submissions_become_leads_once_and_the_cursor_moves_on(site: Site) -> None:
    site.shop.add("Вера Лебедева", "+7 915 123-45-67", "vera.l@mail.ru", "Перезвоните по заказу 1187",
                  "2025-03-03T06:40:00Z")
    site.shop.add("Пётр Петров", "8 (903) 111-00-00", None, "Доставка в Химки", "2025-03-03T06:55:00Z")
    _, _, report, _ = site.run()  # the phone index first, then the leads, then their tasks
    assert report.counts.created == 2
    vera, petrov = shop_leads(site)
    assert (vera["name"], vera["phone"], vera["email"], vera["source_ref"]) == \
        ("Вера Лебедева", "+79151234567", "vera.l@mail.ru", "shop_api:id:1")
    assert (petrov["client_id"], petrov["manager_id"]) == (site.clients["petrov"], 4)  # matched by phone

    requests = site.shop.requests
    [again] = site.run("website_leads")
    assert again.counts.read == 0 and site.shop.requests == requests + 1  # asked from the cursor: nothing new
    site.shop.add("Новый Клиент", "+7 926 000-11-22", None, "Ещё заказ", "2025-03-03T08:00:00Z")
    [third] = site.run("website_leads")
    assert (third.counts.read, third.counts.created) == (1, 1)
    assert [lead["source_ref"] for lead in shop_leads(site)] == ["shop_api:id:1", "shop_api:id:2", "shop_api:id:3"]


def test_a_maintenance_window_is_retried_and_bad_credentials_stop_the_run(site: Site) -> None:
    site.shop.add("Окно Обслуживания", "+7 926 000-11-33", None, "Заявка", "2025-03-03T09:00:00Z")
    site.shop.fail_next = 1  # one 503: retried within the run
    [report] = site.run("website_leads")
    assert report.status == "success" and report.counts.created == 1

    site.shop.add("После Ротации", "+7 926 000-11-44", None, "Заявка", "2025-03-03T09:10:00Z")
    token, site.shop.token = site.shop.token, "rotated-on-the-site"
    with pytest.raises(AuthError, match="refused the credentials"):
        site.run("website_leads")
    site.shop.token = token  # the operator fixes the connection: nothing was skipped
    [fixed] = site.run("website_leads")
    assert fixed.counts.created == 1
    assert shop_leads(site)[-1]["name"] == "После Ротации"


POLL_ONLY = """
exchange: shop_leads
description: shop submissions
schedule: "@hourly"
source:
  connector: website
  connection: hub
  stream: website
  key: submission_key
  incremental: {strategy: cursor, cursor: received_at}
  options:
    sources:
      shop: {format: plain, mode: poll, connection: only_in_the_run, poll: {path: /api/form-submissions,
             cursor_field: id, cursor_param: after_id}, fields: {name: [customer/name]}}
target: {connector: memory, connection: dst, entity: leads, match: [ref], mode: create}
fields:
  ref: submission_key
  name: name
"""


def test_a_poll_sources_connection_resolves_like_the_runs_own(tmp_path: Path) -> None:
    """In Airflow the run resolves connections from Airflow's store: the poll source's must come from there too."""
    shop = ShopApi(token="t")
    shop.add("Через резолвер", "+7 926 000-22-33", None, "x", "2025-03-03T10:00:00Z")
    with ShopApiServer(shop) as server:
        env = {"AIRFLOW_CONN_DST": "memory://poll_dst",
               "AIRFLOW_CONN_ONLY_IN_THE_RUN": json.dumps({"host": "127.0.0.1", "port": server.port, "password": "t"})}
        store = StateStore(f"sqlite:///{tmp_path / 'hub.db'}")
        runner = Runner(load_text(POLL_ONLY, "shop.yaml").compiled, HubSettings(home=tmp_path), store,
                        ConnectionResolver(env=env))
        try:
            assert runner.apply().counts.created == 1
            assert [row["name"] for row in database("poll_dst").tables["leads"]] == ["Через резолвер"]
        finally:
            store.close()
            DATABASES.pop("poll_dst", None)


def test_an_api_that_ignores_the_cursor_stops_the_run_instead_of_reading_forever() -> None:
    shop = ShopApi(token="t")
    for n in range(3):
        shop.add(f"Клиент {n}", f"+7 926 000-33-0{n}", None, "x", "2025-03-03T10:00:00Z")
    with ShopApiServer(shop) as server:  # the shop reads its cursor from ?after_id=, the source sends ?after=
        api = SiteApi(Connection(conn_id="shop", host="127.0.0.1", port=server.port, password=SecretStr("t")),
                      PollSpec(path=PATH, cursor_param="after", page_size=2))
        try:
            with pytest.raises(FatalError, match="does it take the cursor as the query parameter 'after'"):
                list(api.pages(None))
        finally:
            api.close()
    assert shop.requests == 2


def test_a_polled_value_of_the_wrong_json_type_stops_the_run_naming_it(tmp_path: Path) -> None:
    shop = ShopApi(token="t")
    shop.add("Нормальный", "+7 926 000-44-01", None, "x", "2025-03-03T10:00:00Z")
    shop.add("Список", "+7 926 000-44-02", None, "x", "2025-03-03T10:05:00Z")["customer"]["name"] = ["Анна", "Иван"]
    with ShopApiServer(shop) as server:
        env = {"AIRFLOW_CONN_DST": "memory://poll_types",
               "AIRFLOW_CONN_ONLY_IN_THE_RUN": json.dumps({"host": "127.0.0.1", "port": server.port, "password": "t"})}
        store = StateStore(f"sqlite:///{tmp_path / 'hub.db'}")
        runner = Runner(load_text(POLL_ONLY, "shop.yaml").compiled, HubSettings(home=tmp_path), store,
                        ConnectionResolver(env=env))
        try:
            with pytest.raises(FatalError, match=r"item '2': field 'customer/name' \(name\) must be text, not a list"):
                runner.apply()
            assert not database("poll_types").tables.get("leads")  # its page is not half-written
            shop.items[1]["customer"]["name"] = "Анна Иванова"  # fixed at the source (or the mapping's fields:)
            assert runner.apply().counts.created == 2  # nothing was skipped
        finally:
            store.close()
            DATABASES.pop("poll_types", None)
