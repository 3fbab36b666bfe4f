"""The dlt side of bench/bench_files_vs_dlt.py: one dlt pipeline run, in dlt's own venv (never the hub's).

A resource reading the CSV with the csv module (dlt's own ``read_csv`` needs pandas, which that venv does not
have) and converting the price as the hub does ("1 234,50" -> 1234.50), merged into PostgreSQL on ``sku``.

Usage: vs_dlt_files_pipeline.py CSV_FILE DEST_URL DATASET PIPELINES_DIR
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import dlt


def rows(path: str) -> Iterator[dict[str, Any]]:
    with open(path, encoding="cp1251", newline="") as stream:
        reader = csv.reader(stream, delimiter=";")
        next(reader)  # the title row
        header = next(reader)
        for values in reader:
            record = dict(zip(header, values, strict=True))
            record["price"] = Decimal(record["price"].replace(" ", "").replace(",", "."))
            yield record


def main() -> None:
    path, dest_url, dataset, pipelines_dir = sys.argv[1:5]
    resource = dlt.resource(rows(path), name="products", write_disposition="merge", primary_key="sku")
    pipeline = dlt.pipeline(pipeline_name="bench_files", pipelines_dir=pipelines_dir,
                            destination=dlt.destinations.postgres(credentials=dest_url), dataset_name=dataset)
    pipeline.run(resource).raise_on_failed_jobs()


if __name__ == "__main__":
    main()
