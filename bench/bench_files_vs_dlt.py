"""The hub against dlt on one file: a supplier's price list CSV (cp1251, ';', a title row, prices "1 234,50")
of 1,000,000 rows loaded into the CRM's PostgreSQL ``products``, merged on the article (``sku``).

* hub: ``hub run`` of a ``files`` -> ``crm_db`` mapping (sku, name, unit, price), state in PostgreSQL;
* dlt: a resource reading the same file with the csv module -> ``postgres``, ``write_disposition="merge"`` on
  ``sku``. dlt lives in its own venv (``--dlt-venv``, default bench/.venv-dlt, made as bench/bench_vs_dlt.py
  makes it), never in the hub's dependencies.

Each tool runs as its own process, alternately, ``--runs`` times (default 1) on an empty target; the row count
and a checksum of the loaded rows must equal the file's. Prints the times, hub/dlt of the same round and the
peak RSS of each tool (from wait4), then one JSON line. Targets: hub/dlt <= 1.0, hub peak RSS < 300 MB.

Usage: python bench/bench_files_vs_dlt.py [--rows 1000000] [--runs 1] [--dlt-venv DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_vs_dlt import DLT_VENV, POSTGRES_URL, ensure_dlt_venv

HERE = Path(__file__).resolve().parent
PREFIX = "bench_files"
HUB_SCHEMA, DLT_SCHEMA, STATE_SCHEMA = f"{PREFIX}_hub", f"{PREFIX}_dlt", f"{PREFIX}_state"
TABLE_DDL = """CREATE TABLE "{schema}".products (id BIGSERIAL PRIMARY KEY, sku VARCHAR(50) NOT NULL UNIQUE,
    name VARCHAR(200) NOT NULL, unit VARCHAR(10) NOT NULL DEFAULT 'шт', price NUMERIC(14, 2) NOT NULL DEFAULT 0,
    updated_at TIMESTAMP NOT NULL DEFAULT now())"""
CHECKSUM = """SELECT count(*), sum(price), md5(string_agg(sku || '|' || name || '|' || unit, '' ORDER BY sku))
    FROM "{schema}".products"""
MAPPING = """\
exchange: bench_files
description: benchmark against dlt
triggers: [hub://files/bench]
batch_size: 5000
source:
  connector: files
  connection: bench_files
  stream: prices.csv
  key: [sku]
  options: {numbers: [price]}
target: {connector: crm_db, connection: bench_crm, entity: products, key: id, match: [sku], mode: upsert}
fields:
  sku: sku
  name: name
  unit: unit
  price: price
"""


def write_csv(path: Path, rows: int) -> tuple[int, Decimal]:
    """The price list; returns its row count and the sum of its prices (the checksum's reference)."""
    total = Decimal(0)
    with path.open("w", encoding="cp1251", newline="") as out:
        out.write("Прайс-лист ООО «Поставщик» на 01.03.2025;;;\r\nsku;name;unit;price\r\n")
        for n in range(1, rows + 1):
            price = Decimal(n % 250_000) + Decimal(n % 100) / 100
            total += price
            whole, cents = divmod(int(price * 100), 100)
            text = f"{whole:,}".replace(",", " ") + f",{cents:02}"
            out.write(f"SKU-{n:07};Товар номер {n} (упак.);{'шт' if n % 3 else 'м'};{text}\r\n")
    return rows, total


class Bench:
    def __init__(self, work: Path, rows: int, dlt_venv: Path):
        self.work, self.rows, self.dlt_venv = work, rows, dlt_venv
        self.engine = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        (work / "files").mkdir()
        (work / "mappings").mkdir()
        (work / "mappings" / "bench_files.yaml").write_text(MAPPING, encoding="utf-8")
        self.expected = write_csv(work / "files" / "prices.csv", rows)
        self.seconds: dict[str, list[float]] = {}
        self.rss: dict[str, float] = {}

    def sql(self, *statements: str) -> None:
        with self.engine.connect() as c:
            for statement in statements:
                c.execute(sa.text(statement))

    def reset(self) -> None:
        self.drop()
        self.sql(f'CREATE SCHEMA "{HUB_SCHEMA}"', TABLE_DDL.format(schema=HUB_SCHEMA),
                 f'CREATE SCHEMA "{STATE_SCHEMA}"')
        # each tool starts with the WAL of the runs before it written out: a checkpoint the last run made due
        # must not land in the next one's time (a 1,000,000-row run writes about as much WAL as the server's
        # max_wal_size, 1 GB here)
        self.sql("CHECKPOINT")

    def drop(self) -> None:
        schemas = (HUB_SCHEMA, DLT_SCHEMA, f"{DLT_SCHEMA}_staging", STATE_SCHEMA)
        self.sql(*(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE' for schema in schemas))

    def verify(self, schema: str) -> None:
        with self.engine.connect() as c:
            count, total, _ = c.execute(sa.text(CHECKSUM.format(schema=schema))).one()
        if (int(count), Decimal(total)) != self.expected:
            raise SystemExit(f"{schema}: {count} rows, prices {total}; the file: {self.expected}")

    def run(self, tool: str) -> None:
        command, env = self.hub() if tool == "hub" else self.dlt()
        started = time.perf_counter()
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as errors:
            child = subprocess.Popen(command, env=env, stdout=out, stderr=errors)
            _, status, usage = os.wait4(child.pid, 0)
            seconds = time.perf_counter() - started
            if status != 0:
                errors.seek(0)
                raise SystemExit(f"{tool} failed:\n{errors.read().decode()[-3000:]}")
        self.verify(HUB_SCHEMA if tool == "hub" else DLT_SCHEMA)
        self.seconds.setdefault(tool, []).append(seconds)
        self.rss[tool] = max(self.rss.get(tool, 0.0), usage.ru_maxrss / 1024)
        print(f"  {tool}: {seconds:.1f} s, peak RSS {usage.ru_maxrss / 1024:.0f} MB, rows and checksum equal the "
              "file's", flush=True)

    def hub(self) -> tuple[list[str], dict[str, str]]:
        state = sa.make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={STATE_SCHEMA}"})
        crm = {"conn_type": "hub_crm_db", "extra": {"url": POSTGRES_URL, "db_schema": HUB_SCHEMA}}
        env = {**os.environ, "HUB_MAPPINGS_DIR": str(self.work / "mappings"),
               "HUB_DATABASE_URL": state.render_as_string(hide_password=False),
               "AIRFLOW_CONN_BENCH_CRM": json.dumps(crm),
               "AIRFLOW_CONN_BENCH_FILES": json.dumps({"conn_type": "hub_files",
                                                       "extra": {"path": str(self.work / "files")}})}
        return [sys.executable, "-m", "hub.cli", "run", "bench_files", "--json"], env

    def dlt(self) -> tuple[list[str], dict[str, str]]:
        plain = sa.make_url(POSTGRES_URL).set(drivername="postgresql").render_as_string(hide_password=False)
        env = {**os.environ, "RUNTIME__DLTHUB_TELEMETRY": "false"}
        if not sa.make_url(POSTGRES_URL).password:
            env["DESTINATION__POSTGRES__CREDENTIALS__PASSWORD"] = "unused"
        env.pop("PYTHONPATH", None)
        return [str(self.dlt_venv / "bin" / "python"), str(HERE / "vs_dlt_files_pipeline.py"),
                str(self.work / "files" / "prices.csv"), plain, DLT_SCHEMA, str(self.work / "dlt")], env

    def close(self) -> None:
        self.drop()
        self.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--dlt-venv", type=Path, default=DLT_VENV, help="a venv with dlt[postgres] (made if missing)")
    args = parser.parse_args()
    if args.dlt_venv == DLT_VENV:
        ensure_dlt_venv()
    with tempfile.TemporaryDirectory(prefix="bench-files-") as tmp:
        bench = Bench(Path(tmp), args.rows, args.dlt_venv)
        try:
            for n in range(args.runs):
                for tool in ("hub", "dlt") if n % 2 == 0 else ("dlt", "hub"):
                    bench.reset()
                    bench.run(tool)
        finally:
            bench.close()
    hub, dlt = statistics.median(bench.seconds["hub"]), statistics.median(bench.seconds["dlt"])
    print(f"\n{args.rows} rows, medians of {args.runs}: hub {hub:.1f} s, dlt {dlt:.1f} s, hub/dlt {hub / dlt:.2f} "
          f"(target <= 1.0); peak RSS hub {bench.rss['hub']:.0f} MB (target < 300), dlt {bench.rss['dlt']:.0f} MB")
    print(json.dumps({"bench": "files_vs_dlt", "rows": args.rows, "hub_s": round(hub, 2), "dlt_s": round(dlt, 2),
                      "ratio": round(hub / dlt, 3), "peak_rss_mb": {k: round(v, 1) for k, v in bench.rss.items()}}))


if __name__ == "__main__":
    main()
