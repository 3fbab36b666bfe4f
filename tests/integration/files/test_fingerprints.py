"""The files connector fingerprints each record of a CSV or XLSX file (its cells as read, the header and number
options that made the record, the file's name and line): the same in every read, different when any of those
differs; a batch with a record that has none (JSON) carries none, and the runner hashes those records itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from connectors.files import FilesConnector
from connectors.files.options import FilesOptions
from hub.connections import Connection
from hub.mapping.model import Incremental
from hub.settings import HubSettings
from hub.testing.connector_kit import StreamCase, read_all, read_request

LINES = ["sku;name;price", "S-1;Гвозди;1 234,50", "S-2;Шурупы;10,00", "S-3;Болты;7,25"]


def prints(folder: Path, stream: str, **options: Any) -> dict[str, str | None]:
    connector = FilesConnector(Connection(conn_id="files", conn_type="hub_files", extra={"path": str(folder)}),
                               HubSettings())
    case = StreamCase(stream, key=("sku",), rows=[], incremental=Incremental(), batch_size=2,
                      options=FilesOptions(**options))
    found: dict[str, str | None] = {}
    for batch in read_all(connector, read_request(case)):
        fingerprints = batch.fingerprints or [None] * len(batch.records)
        found.update((record["sku"], fp) for record, fp in zip(batch.records, fingerprints, strict=True))
    return found


def write(folder: Path, name: str, lines: list[str]) -> None:
    (folder / name).write_bytes(("\n".join(lines) + "\n").encode("cp1251"))


def test_a_csv_records_fingerprint_changes_with_its_cells_line_or_options(tmp_path: Path) -> None:
    write(tmp_path, "prices.csv", LINES)
    first = prints(tmp_path, "prices.csv", numbers=["price"])
    assert None not in first.values() and len(set(first.values())) == 3
    assert prints(tmp_path, "prices.csv", numbers=["price"]) == first  # the same in every read

    write(tmp_path, "prices.csv", [LINES[0], LINES[1], "S-2;Шурупы;10,01", LINES[3]])
    changed = prints(tmp_path, "prices.csv", numbers=["price"])
    assert {sku for sku in first if first[sku] != changed[sku]} == {"S-2"}

    write(tmp_path, "prices.csv", [LINES[0], LINES[1], "S-2;Шурупы;10,01", "", "S-3;Болты;7,25"])
    moved = prints(tmp_path, "prices.csv", numbers=["price"])  # S-3 now on another line: its _row changed
    assert {sku for sku in changed if changed[sku] != moved[sku]} == {"S-3"}

    assert all(moved[sku] != fp for sku, fp in prints(tmp_path, "prices.csv").items())  # price read as text
    (tmp_path / "prices.csv").rename(tmp_path / "other.csv")
    assert all(moved[sku] != fp for sku, fp in prints(tmp_path, "other.csv", numbers=["price"]).items())


def test_a_batch_with_a_json_record_carries_no_fingerprints(tmp_path: Path) -> None:
    (tmp_path / "prices.jsonl").write_text('{"sku": "S-9", "name": "Скобы"}\n', encoding="utf-8")
    assert prints(tmp_path, "prices.jsonl") == {"S-9": None}
