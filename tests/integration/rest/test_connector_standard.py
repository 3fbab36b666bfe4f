"""The rest connector passes the standard kits against the sandbox API (real HTTP on a free port)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from connectors.rest import RestConnector
from connectors.rest.options import Paging, RestSourceOptions, RestTargetOptions
from hub.connections import Connection
from hub.connector import Connector
from hub.settings import HubSettings, RetryPolicy
from hub.testing.connector_kit import LookupKit, RejectionKit, SourceKit, StreamCase, TargetCase, TargetKit, UpdateKit
from sandbox.rest_api import RestApi

ROWS = [{"sku": f"P-{n:02}", "name": f"Товар {n}", "price": f"{n}.50"} for n in range(1, 9)]


class TestRestConnector(SourceKit, TargetKit, LookupKit, UpdateKit, RejectionKit):
    fixed_streams = False  # an API has no schema to ask: any path is a stream

    @pytest.fixture
    def api(self) -> Iterator[tuple[RestApi, str]]:
        api = RestApi(auth="none", paging="cursor")
        for row in ROWS:
            api.add(**row)
        with api.serve() as url:
            yield api, url

    @pytest.fixture
    def connector_factory(self, api: tuple[RestApi, str]) -> Callable[[], Connector]:
        server, url = api
        connection = Connection.model_validate({"conn_id": "shop", **server.connection(url)})
        settings = HubSettings(retry=RetryPolicy(attempts=3, initial_wait=0.01, max_wait=0.05))
        return lambda: RestConnector(connection, settings)

    @pytest.fixture
    def stream_case(self) -> StreamCase:
        return StreamCase("/api/products", key=("sku",), rows=ROWS,
                          options=RestSourceOptions(records="data", paging=Paging(type="cursor")))

    @pytest.fixture
    def target_case(self) -> TargetCase:
        return TargetCase("/api/products", match=("sku",),
                          make_record=lambda n: {"sku": f"K-{n}", "name": f"Товар {n}", "price": "1.50"},
                          update_field="price", update_value=lambda n: "2.75",
                          make_bad_record=lambda n: {"sku": f"K-{n}", "name": "", "price": "1.00"},
                          options=RestTargetOptions(lookup_records="data"))
