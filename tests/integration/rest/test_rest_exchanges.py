"""A JSON API into the CRM and the CRM into a JSON API, through hub runs: every paging and auth style, the
incremental cursor parameter, rate limits and faults; on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

import pytest

from hub.errors import AuthError
from hub.runner import RunReport
from sandbox.rest_api import RestApi
from tests.integration.rest.conftest import RestWorld

FROM_API = """\
mapping_format: 1
exchange: api_products
description: products from the supplier's API
triggers: [hub://rest/shop]
batch_size: 3
source:
  connector: rest
  connection: shop
  stream: /api/products
  key: [sku]
  incremental: {incremental}
  options:
    records: {records}
    auth: {auth}
    paging: {{type: {paging}}}
    since_param: updated_since
    timeout: 0.5
    max_retry_after: 0.1
target: {{connector: crm_db, connection: crm, entity: products, key: id, match: [sku]}}
fields:
  sku: sku
  name: name
  price: decimal(price)
"""
AUTH = {"none": "{type: none}", "bearer": "{type: bearer}", "basic": "{type: basic}",
        "api_key_header": "{type: api_key, header: X-API-Key}", "api_key_query": "{type: api_key, query: api_key}",
        "oauth2": "{type: oauth2, token_url: /oauth/token}"}


def from_api(world: RestWorld, *, paging: str = "cursor", incremental: str = "{strategy: hash}") -> None:
    auth = AUTH[world.api.auth]
    records = "null" if paging == "link" else "data"
    world.mapping("api_products", FROM_API.format(auth=auth, paging=paging, incremental=incremental,
                                                  records=records))


def seed(api: RestApi, count: int = 8) -> None:
    for n in range(1, count + 1):
        api.add(f"P-{n:02}", f"Товар {n}", f"{n}.50")


def prices(world: RestWorld) -> dict[str, Decimal]:
    return {row["sku"]: row["price"] for row in world.crm.rows("products")}


@pytest.mark.parametrize("paging", ["page", "offset", "cursor", "link"])
def test_each_paging_style_reads_every_record_once(world: RestWorld, paging: str) -> None:
    world.api.paging = paging  # type: ignore[assignment]
    seed(world.api)
    from_api(world, paging=paging)

    report = world.run("api_products")

    assert (report.counts.read, report.counts.created) == (8, 8)
    assert prices(world)["P-08"] == Decimal("8.50")
    assert len([r for r in world.api.requests if r.startswith("GET")]) >= 3, "it went through the pages"


@pytest.mark.parametrize("api", [{"auth": style} for style in AUTH], ids=list(AUTH), indirect=True)
def test_each_auth_style(world: RestWorld) -> None:
    seed(world.api, 4)
    from_api(world)

    report = world.run("api_products")

    assert report.counts.created == 4


@pytest.mark.parametrize("api", [{"auth": "oauth2", "token_ttl": 2}], indirect=True)
def test_oauth2_gets_a_new_token_when_the_old_one_expires(world: RestWorld) -> None:
    seed(world.api)
    from_api(world)

    report = world.run("api_products")

    assert report.counts.created == 8
    assert world.api.tokens_issued >= 2


def test_wrong_credentials_stop_the_run_with_one_line(world: RestWorld) -> None:
    world.api.auth = "bearer"
    seed(world.api, 2)
    world.mapping("api_products", FROM_API.format(auth="{type: api_key}", paging="cursor",
                                                  incremental="{strategy: hash}", records="data"))

    with pytest.raises(AuthError, match=r"GET /api/products: HTTP 401: the API refused the credentials"):
        world.run("api_products")


def test_rate_limits_html_errors_and_timeouts_are_retried(world: RestWorld) -> None:
    seed(world.api)
    world.api.faults = ["429", "500", "timeout", "ok", "429"]
    from_api(world)

    report = world.run("api_products")

    assert (report.counts.read, report.counts.created) == (8, 8)
    assert report.status == "success"


def test_the_incremental_cursor_parameter_reads_only_what_changed(world: RestWorld) -> None:
    seed(world.api, 5)
    from_api(world, incremental="{strategy: cursor, cursor: updated_at}")
    world.run("api_products")
    world.api.requests.clear()
    world.api.add("P-09", "Новый", "9.00")

    second = world.run("api_products")

    assert (second.counts.read, second.counts.created) == (1, 1)
    assert any("updated_since=2025-03-01T00%3A00%3A05Z" in r for r in world.api.requests), world.api.requests


TO_API = """\
mapping_format: 1
exchange: products_to_api
description: CRM products to the marketplace's API
triggers: [hub://crm/products]
source: {connector: crm_db, connection: crm, stream: products, key: [id]}
target:
  connector: rest
  connection: shop
  entity: /api/products
  key: id
  match: [sku]
  options:
    auth: {type: bearer}
    lookup_records: data
    create: {method: POST, path: /api/products}
    update: {method: PATCH, path: "/api/products/{id}"}
fields:
  sku: sku
  name: name
  price: price
"""


def test_the_crm_into_an_api_finds_before_it_creates_and_a_second_run_writes_nothing(world: RestWorld) -> None:
    world.api.add("A-1", "Уже есть", "1.00")
    world.crm.product("A-1", "Болт", "12.50")
    world.crm.product("A-2", "Гайка", "3.20")
    world.mapping("products_to_api", TO_API)

    first = world.run("products_to_api")
    writes = [r for r in world.api.requests if not r.startswith("GET")]
    second = world.run("products_to_api")

    assert (first.counts.created, first.counts.updated) == (1, 1)
    items = {i["sku"]: i for i in world.api.items.values()}
    assert len(items) == 2 and items["A-1"]["name"] == "Болт" and items["A-2"]["price"] == "3.20"
    assert (second.counts.created, second.counts.updated, second.counts.unchanged) == (0, 0, 2)
    assert [r for r in world.api.requests if not r.startswith("GET")] == writes


class Interrupt(Exception):
    pass


def test_an_interrupted_read_resumes_from_its_checkpoint(world: RestWorld) -> None:
    seed(world.api, 9)
    from_api(world)

    def stop_after_two_pages(report: RunReport) -> None:
        if report.counts.read >= 6:
            raise Interrupt

    with pytest.raises(Interrupt):
        world.hub.runner("api_products", progress=stop_after_two_pages).apply("test")
    world.api.requests.clear()
    resumed = world.run("api_products")

    assert (resumed.counts.read, resumed.counts.created) == (3, 3), "the last page only"
    assert len(world.crm.rows("products")) == 9
    assert len([r for r in world.api.requests if r.startswith("GET")]) == 1, world.api.requests
