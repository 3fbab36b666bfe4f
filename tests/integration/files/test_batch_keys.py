"""The files connector hands each batch's source keys with its records (it works them out anyway, to refuse a second
row with a key): each is what the runner would make of the record itself, for a one-field or composite key, a
number read as the key, and with rows refused for a missing or repeated key left out."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.files import FilesConnector
from connectors.files.options import FilesOptions
from hub.connections import Connection
from hub.mapping.model import Incremental
from hub.runner.items import source_key
from hub.settings import HubSettings
from hub.testing.connector_kit import StreamCase, read_all, read_request

LINES = ["sku;size;name;price", "S-1;10;Гвозди;1 234,50", "S-2;10;Шурупы;10,00", ";10;Без артикула;1,00",
         "S-1;10;Гвозди ещё раз;2,00", "S-2;12,5;Шурупы;11,00", "S-3;7;Болты;7,25"]


@pytest.mark.parametrize("key", [("sku",), ("sku", "size"), ("price",)], ids=["one field", "composite", "number"])
def test_each_batch_carries_the_source_key_of_each_record(tmp_path: Path, key: tuple[str, ...]) -> None:
    (tmp_path / "prices.csv").write_bytes(("\n".join(LINES) + "\n").encode("cp1251"))
    connector = FilesConnector(Connection(conn_id="files", conn_type="hub_files", extra={"path": str(tmp_path)}),
                               HubSettings())
    case = StreamCase("prices.csv", key=key, rows=[], incremental=Incremental(), batch_size=2,
                      options=FilesOptions(numbers=["size", "price"]))
    batches = list(read_all(connector, read_request(case)))
    keys = [k for batch in batches for k in batch.keys or []]
    records = [record for batch in batches for record in batch.records]
    assert keys == [source_key(record, list(key)) for record in records]
    assert len(keys) == len(set(keys)) and None not in keys  # repeated or missing keys: refused, not handed out
    assert len(records) + sum(len(batch.rejected) for batch in batches) == len(LINES) - 1
