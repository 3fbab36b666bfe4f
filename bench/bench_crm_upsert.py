"""Benchmark: upserting rows into PostgreSQL through CrmDbConnector.write vs hand-written psycopg 3.

Both sides write the same 100,000 rows (10 data columns) into a fresh table each, with the same
``INSERT ... ON CONFLICT (external_ref) DO UPDATE`` statement:

* connector: ``CrmDbConnector.write`` with ``create`` actions in batches (one transaction per call, values
  coerced to the column types, target ids returned, created/updated told apart);
* baseline: ``cursor.executemany`` of that statement over all rows in one transaction (psycopg pipelines it).

Prints one line with both times and ``ratio = baseline_time / connector_time`` (target >= 0.5), then the
same as JSON. Run: ``python bench/bench_crm_upsert.py [--rows N] [--batch N] [--repeat N]``.
Uses HUB_BENCH_POSTGRES_URL (default: the test server) and a throwaway schema, dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from connectors.crm_db import CrmDbConnector
from hub.connections import Connection
from hub.connector import WriteAction
from hub.settings import HubSettings

POSTGRES_URL = os.environ.get("HUB_BENCH_POSTGRES_URL",
                              os.environ.get("HUB_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
COLUMNS = ("external_ref", "name", "inn", "amount", "quantity", "price", "paid_on", "updated_at", "active", "note")
TARGET_RATIO = 0.5


def make_rows(count: int) -> list[dict[str, Any]]:
    """Rows of the kind the hub upserts: a natural key plus text, numbers, dates and a flag."""
    start = datetime(2025, 3, 1, 9, 0)
    return [
        {
            "external_ref": f"1C-{n:08d}",
            "name": f"ООО «Поставщик {n}»",
            "inn": f"77{n:08d}",
            "amount": Decimal(n % 100_000) + Decimal("0.25"),
            "quantity": n % 50 + 1,
            "price": Decimal(n % 997) + Decimal("0.99"),
            "paid_on": date(2025, 1, 1) + timedelta(days=n % 365),
            "updated_at": start + timedelta(seconds=n),
            "active": n % 7 != 0,
            "note": "оплата по счёту" if n % 3 else None,
        }
        for n in range(count)
    ]


def create_table(engine: sa.Engine, schema: str, name: str) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(f"""
            CREATE TABLE "{schema}"."{name}" (
                id BIGSERIAL PRIMARY KEY,
                external_ref VARCHAR(40) NOT NULL UNIQUE,
                name VARCHAR(200) NOT NULL,
                inn VARCHAR(12),
                amount NUMERIC(14, 2) NOT NULL,
                quantity INTEGER NOT NULL,
                price NUMERIC(12, 2) NOT NULL,
                paid_on DATE,
                updated_at TIMESTAMP NOT NULL,
                active BOOLEAN NOT NULL,
                note TEXT
            )"""))


def upsert_sql(schema: str, table: str) -> str:
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in COLUMNS if c != "external_ref")
    return (f'INSERT INTO "{schema}"."{table}" ({", ".join(COLUMNS)}) VALUES ({", ".join(["%s"] * len(COLUMNS))}) '
            f"ON CONFLICT (external_ref) DO UPDATE SET {updates}")


def run_baseline(schema: str, table: str, rows: list[dict[str, Any]]) -> float:
    values = [tuple(row[c] for c in COLUMNS) for row in rows]
    conninfo = sa.make_url(POSTGRES_URL).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as conn:
        started = time.perf_counter()
        with conn.cursor() as cursor:
            cursor.executemany(upsert_sql(schema, table), values)
        conn.commit()
        return time.perf_counter() - started


def run_connector(schema: str, table: str, rows: list[dict[str, Any]], batch: int) -> float:
    connection = Connection(conn_id="bench", conn_type="postgres", extra={"url": POSTGRES_URL, "db_schema": schema})
    actions = [WriteAction("create", row["external_ref"], row, {"external_ref": row["external_ref"]}, None,
                           f"bench-{n}") for n, row in enumerate(rows)]
    with CrmDbConnector(connection, HubSettings()) as connector:
        connector.check()  # connect and reflect before the clock starts, as a running exchange would have
        connector.describe(table)
        started = time.perf_counter()
        for offset in range(0, len(actions), batch):
            results = connector.write(table, actions[offset:offset + batch], None)  # type: ignore[arg-type]
            if any(r.status == "rejected" for r in results):
                raise SystemExit(f"the connector rejected rows: {results[0].error}")
        return time.perf_counter() - started


def count_rows(engine: sa.Engine, schema: str, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(f'SELECT COUNT(*) FROM "{schema}"."{table}"')).scalar_one())


def measure(engine: sa.Engine, schema: str, rows: list[dict[str, Any]],
            sides: dict[str, Callable[[str], float]], repeat: int) -> dict[str, float]:
    """Best of ``repeat`` runs per side, each into a fresh table; the sides take turns, so a busy machine
    slows both alike."""
    best = dict.fromkeys(sides, float("inf"))
    for attempt in range(repeat):
        for label, run in sides.items():
            table = f"{label}_{attempt}"
            create_table(engine, schema, table)
            best[label] = min(best[label], run(table))
            if count_rows(engine, schema, table) != len(rows):
                raise SystemExit(f"{label}: the table does not hold {len(rows)} rows")
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000, help="actions per connector.write call")
    parser.add_argument("--repeat", type=int, default=3, help="runs per side (fresh table each); the best counts")
    args = parser.parse_args(argv)

    rows = make_rows(args.rows)
    engine = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        best = measure(engine, schema, rows, {
            "baseline": lambda table: run_baseline(schema, table, rows),
            "connector": lambda table: run_connector(schema, table, rows, args.batch),
        }, args.repeat)
    finally:
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()

    baseline, connector = best["baseline"], best["connector"]
    ratio = baseline / connector
    verdict = "ok" if ratio >= TARGET_RATIO else "BELOW TARGET"
    print(f"crm_db upsert of {args.rows} rows x {len(COLUMNS)} columns into PostgreSQL: "
          f"connector {connector:.2f} s (batches of {args.batch}), psycopg executemany {baseline:.2f} s, "
          f"ratio baseline/connector = {ratio:.2f} (target >= {TARGET_RATIO}: {verdict})")
    print(json.dumps({"benchmark": "crm_upsert", "rows": args.rows, "columns": len(COLUMNS), "batch": args.batch,
                      "repeat": args.repeat, "connector_seconds": round(connector, 3),
                      "baseline_seconds": round(baseline, 3), "ratio": round(ratio, 3), "target": TARGET_RATIO}))
    return 0 if ratio >= TARGET_RATIO else 1


if __name__ == "__main__":
    raise SystemExit(main())
