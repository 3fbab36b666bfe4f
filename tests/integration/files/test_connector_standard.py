"""The files connector passes the standard source kit, including refusing bad rows and corrupt files."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from connectors.files import FilesConnector
from connectors.files.options import FilesOptions
from hub.connections import Connection
from hub.connector import Connector
from hub.mapping.model import Incremental
from hub.settings import HubSettings
from hub.testing.connector_kit import RejectionCase, SourceKit, SourceRejectionKit, StreamCase

ROWS = [{"sku": f"S-{n:03}", "name": f"Товар {n}", "price": Decimal(n) + Decimal("0.5")} for n in range(1, 9)]


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    csv_rows = ["Прайс на 01.03.2025;;", "sku;name;price"] + [f"{r['sku']};{r['name']};{r['price']}".replace(".", ",")
                                                             for r in ROWS[:4]]
    (folder / "a.csv").write_bytes(("\n".join(csv_rows) + "\n").encode("cp1251"))
    lines = [json.dumps({"sku": r["sku"], "name": r["name"], "price": str(r["price"])}) for r in ROWS[4:]]
    (folder / "b.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def _factory(folder: Path) -> Callable[[], Connector]:
    connection = Connection(conn_id="files", conn_type="hub_files", extra={"path": str(folder)})
    return lambda: FilesConnector(connection, HubSettings())


class TestFilesConnector(SourceKit, SourceRejectionKit):
    @pytest.fixture
    def folder(self, tmp_path: Path) -> Path:
        return _folder(tmp_path)

    @pytest.fixture
    def connector_factory(self, folder: Path) -> Callable[[], Connector]:
        return _factory(folder)

    @pytest.fixture(params=["hash", "cursor"])
    def stream_case(self, request: pytest.FixtureRequest) -> StreamCase:
        incremental = Incremental(strategy="cursor", cursor="_file") if request.param == "cursor" else Incremental()
        return StreamCase("*.*", key=("sku",), rows=ROWS, incremental=incremental,
                          options=FilesOptions(numbers=["price"]))

    @pytest.fixture
    def rejection_case(self, folder: Path, stream_case: StreamCase) -> RejectionCase:
        with (folder / "a.csv").open("ab") as stream:  # a bad price, a broken line, the same sku twice
            stream.write("S-100;Плохая цена;договорная\nS-101;Разрыв\nS-001;Дубль;1,00\n".encode("cp1251"))
        (folder / "c.json").write_text('[{"sku": "S-200",', encoding="utf-8")  # cut off: a corrupt file
        return RejectionCase(stream_case, rejected=["S-100", "S-101", "a.csv:9", "c.json:1"])
