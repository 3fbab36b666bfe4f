"""The dlt side of bench/bench_vs_dlt.py: one `dlt` pipeline run, in dlt's own venv (never the hub's).

Usage (the benchmark calls it): vs_dlt_pipeline.py SOURCE_URL SOURCE_SCHEMA DEST_URL DATASET PIPELINES_DIR
MODE, where MODE is ``merge`` (a full read merged on the primary key) or ``incremental`` (only rows whose
``updated_at`` moved past the last run's, merged on the primary key).
"""

from __future__ import annotations

import sys

import dlt
from dlt.sources.sql_database import sql_table


def main() -> None:
    source_url, source_schema, dest_url, dataset, pipelines_dir, mode = sys.argv[1:7]
    incremental = dlt.sources.incremental("updated_at") if mode == "incremental" else None
    table = sql_table(credentials=source_url, schema=source_schema, table="clients", incremental=incremental)
    table.apply_hints(write_disposition="merge", primary_key="id")
    pipeline = dlt.pipeline(pipeline_name=f"bench_{mode}", pipelines_dir=pipelines_dir,
                            destination=dlt.destinations.postgres(credentials=dest_url), dataset_name=dataset)
    info = pipeline.run(table)
    info.raise_on_failed_jobs()


if __name__ == "__main__":
    main()
