"""The hub against dlt on the same work: a PostgreSQL table of clients copied into PostgreSQL, upserted by id.

* source: ``clients`` (10 columns), 100,000 rows (``--large``: 1,000,000), built with ``generate_series``;
* hub: ``hub run`` of a ``crm_db`` -> ``crm_db`` mapping of the 10 fields, state in PostgreSQL; one exchange with
  the ``hash`` strategy, one with the ``cursor`` strategy on ``updated_at``;
* dlt: ``sql_table`` -> ``postgres``, ``write_disposition="merge"`` on ``id``; a full read (``merge``) and an
  incremental one on ``updated_at`` (``incremental``). dlt lives in its own venv (bench/.venv-dlt, made here),
  never in the hub's dependencies;
* COPY: the target database's own bulk load of the same rows (the physical limit of a first load).

Scenarios, each tool run ALTERNATELY as its own process, ``--runs`` times (default 3):
S1 first load into empty targets; S2 nothing changed; S3 1% of the rows changed (a fresh 1% before each
round). After every scenario the row count and a checksum of the 10 columns of every target must equal the
source's. Prints medians, the ratios hub/dlt of the same run, and the peak RSS of each tool, then one JSON line.

Usage: python bench/bench_vs_dlt.py [--large] [--runs 3] [--hub-src DIR] [--scenarios S1,S2,S3]
(``--hub-src``: run the hub from another checkout, e.g. ``git archive`` of an older commit, for a before/after;
``--scenarios S2,S3``: the re-runs only, after one untimed first load of each variant; ``HUB_BENCH_VS_PREFIX``:
the schemas' prefix, default ``bench_vs``)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import sqlalchemy as sa

HERE = Path(__file__).resolve().parent
DLT_VENV = HERE / ".venv-dlt"
DLT_PACKAGES = ["dlt[postgres,sql_database]", "sqlalchemy", "psycopg2-binary"]
POSTGRES_URL = os.environ.get("HUB_BENCH_POSTGRES_URL",
                              os.environ.get("HUB_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
# the schemas' prefix: two sessions benchmarking on one server each need their own
PREFIX = os.environ.get("HUB_BENCH_VS_PREFIX", "bench_vs")
SOURCE, COPY_TARGET = f"{PREFIX}_src", f"{PREFIX}_copy"
COLUMNS = ("id", "name", "inn", "kpp", "email", "city", "balance", "active", "created_on", "updated_at")
TABLE_DDL = """CREATE TABLE "{schema}".clients (
    id BIGINT PRIMARY KEY, name VARCHAR(200) NOT NULL, inn VARCHAR(12), kpp VARCHAR(9), email VARCHAR(200),
    city VARCHAR(100), balance NUMERIC(14, 2), active BOOLEAN NOT NULL, created_on DATE,
    updated_at TIMESTAMP NOT NULL)"""
FILL = """INSERT INTO "{schema}".clients
    SELECT i, 'ООО «Клиент ' || i || '»', (7700000000 + i)::text, CASE WHEN i % 3 = 0 THEN NULL ELSE '770101001' END,
           'client' || i || '@example.ru', (ARRAY['Москва', 'Казань', 'Самара', 'Тверь'])[1 + i % 4],
           round((i * 7.31)::numeric % 100000, 2), i % 5 <> 0, DATE '2020-01-01' + (i % 1500),
           TIMESTAMP '2025-01-01' + i * INTERVAL '1 second'
    FROM generate_series(1, {rows}) AS i"""
# every column as text, NULL marked; timestamps as epoch microseconds (dlt stores them as timestamptz in UTC)
CHECKSUM = """SELECT count(*), md5(string_agg(md5(concat_ws('|', id, coalesce(name, '\\N'), coalesce(inn, '\\N'),
    coalesce(kpp, '\\N'), coalesce(email, '\\N'), coalesce(city, '\\N'), coalesce(balance::numeric(14, 2)::text, '\\N'),
    active, coalesce(created_on::text, '\\N'), (extract(epoch FROM updated_at) * 1000000)::bigint)), '' ORDER BY id))
    FROM "{schema}".clients"""
MAPPING = """\
exchange: {exchange}
description: benchmark against dlt
schedule: "@hourly"
source: {{connector: crm_db, connection: bench_src, stream: clients, key: id, incremental: {incremental}}}
target: {{connector: crm_db, connection: {target}, entity: clients, match: [id], mode: upsert}}
fields:
""" + "".join(f"  {name}: {name}\n" for name in COLUMNS)


@dataclass(frozen=True)
class Variant:
    """One tool with one strategy, and the schemas it writes to."""

    name: str
    tool: str  # hub | dlt
    target: str  # the schema holding its copy of clients
    strategy: str  # hub: hash | cursor; dlt: merge | incremental


HUB_HASH = Variant("hub hash", "hub", f"{PREFIX}_hub_hash", "hash")
HUB_CURSOR = Variant("hub cursor", "hub", f"{PREFIX}_hub_cursor", "cursor")
DLT_MERGE = Variant("dlt merge", "dlt", f"{PREFIX}_dlt_merge", "merge")
DLT_INCREMENTAL = Variant("dlt incremental", "dlt", f"{PREFIX}_dlt_incr", "incremental")


@dataclass
class Times:
    seconds: dict[str, list[float]] = field(default_factory=dict)  # "S1 hub hash" -> one time per run
    rss_mb: dict[str, float] = field(default_factory=dict)  # tool -> peak RSS of any of its runs

    def add(self, label: str, seconds: float) -> None:
        self.seconds.setdefault(label, []).append(seconds)

    def median(self, label: str) -> float:
        return statistics.median(self.seconds[label])


class Bench:
    def __init__(self, rows: int, work: Path, hub_src: Path | None):
        self.rows = rows
        self.work = work
        self.hub_src = hub_src
        self.engine = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        self.times = Times()
        (work / "mappings").mkdir()
        for variant in (HUB_HASH, HUB_CURSOR):
            incremental = "{strategy: cursor, cursor: updated_at}" if variant.strategy == "cursor" else \
                "{strategy: hash}"
            (work / "mappings" / f"{self.exchange(variant)}.yaml").write_text(
                MAPPING.format(exchange=self.exchange(variant), incremental=incremental, target=variant.target),
                encoding="utf-8")

    # -- databases
    def sql(self, *statements: str) -> None:
        with self.engine.connect() as c:
            for statement in statements:
                c.execute(sa.text(statement))

    def fresh_schema(self, schema: str, with_table: bool) -> None:
        self.sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE', f'CREATE SCHEMA "{schema}"',
                 *([TABLE_DDL.format(schema=schema)] if with_table else []))

    def build_source(self) -> None:
        self.fresh_schema(SOURCE, with_table=True)
        self.sql(FILL.format(schema=SOURCE, rows=self.rows), f'ANALYZE "{SOURCE}".clients')

    def change_one_percent(self) -> None:
        self.sql(f"""UPDATE "{SOURCE}".clients SET name = name || ' *', balance = balance + 1,
                     updated_at = (SELECT max(updated_at) FROM "{SOURCE}".clients) + INTERVAL '1 second'
                     WHERE id IN (SELECT id FROM "{SOURCE}".clients ORDER BY random() LIMIT {self.rows // 100})""")

    def checksum(self, schema: str) -> tuple[int, str]:
        with self.engine.connect() as c:
            count, digest = c.execute(sa.text(CHECKSUM.format(schema=schema))).one()
        return int(count), digest

    def verify(self, scenario: str, variants: list[Variant]) -> None:
        expected = self.checksum(SOURCE)
        for variant in variants:
            found = self.checksum(variant.target)
            if found != expected:
                raise SystemExit(f"{scenario}: {variant.name} holds {found[0]} rows, checksum {found[1]}; "
                                 f"the source {expected[0]} rows, checksum {expected[1]}")
        print(f"  {scenario}: {', '.join(v.name for v in variants)}: {expected[0]} rows, checksums equal the source's")

    def reset(self, variant: Variant) -> None:
        """Empty target and no memory of earlier runs: the next run is a first load."""
        if variant.tool == "hub":
            self.fresh_schema(variant.target, with_table=True)
            self.fresh_schema(self.state_schema(variant), with_table=False)
        else:
            self.sql(f'DROP SCHEMA IF EXISTS "{variant.target}" CASCADE',
                     f'DROP SCHEMA IF EXISTS "{variant.target}_staging" CASCADE')
            shutil.rmtree(self.work / f"dlt-{variant.strategy}", ignore_errors=True)

    def drop_all(self) -> None:
        schemas = [SOURCE, COPY_TARGET]
        for variant in (HUB_HASH, HUB_CURSOR, DLT_MERGE, DLT_INCREMENTAL):
            schemas += [variant.target, f"{variant.target}_staging", self.state_schema(variant)]
        self.sql(*(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE' for schema in schemas))
        self.engine.dispose()

    # -- the tools
    @staticmethod
    def exchange(variant: Variant) -> str:
        return f"bench_vs_dlt_{variant.strategy}"

    @staticmethod
    def state_schema(variant: Variant) -> str:
        return f"{variant.target}_state"

    def run(self, label: str, variant: Variant) -> float:
        command, env = self.hub_command(variant) if variant.tool == "hub" else self.dlt_command(variant)
        started = time.perf_counter()
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as errors:  # files: a full pipe would block
            # cwd: not the checkout, whose hub/ would shadow --hub-src (python -m puts the cwd first on sys.path)
            child = subprocess.Popen(command, env=env, stdout=out, stderr=errors, cwd=self.work)
            _, status, usage = os.wait4(child.pid, 0)  # wait4: the child's own peak RSS
            seconds = time.perf_counter() - started
            if status != 0:
                errors.seek(0)
                raise SystemExit(f"{label}: {variant.name} failed:\n{errors.read().decode()[-3000:]}")
            out.seek(0)
            summary = out.read().decode()
        if variant.tool == "hub":
            report = json.loads(summary)
            if report["status"] != "success" or report["rejected"]:
                raise SystemExit(f"{label}: {variant.name}: {report}")
        self.times.add(f"{label} {variant.name}", seconds)
        rss = usage.ru_maxrss / 1024
        self.times.rss_mb[variant.tool] = max(self.times.rss_mb.get(variant.tool, 0.0), rss)
        print(f"  {label} {variant.name}: {seconds:.2f} s, peak RSS {rss:.0f} MB", flush=True)
        return seconds

    def hub_command(self, variant: Variant) -> tuple[list[str], dict[str, str]]:
        url = sa.make_url(POSTGRES_URL)
        state = url.update_query_dict({"options": f"-csearch_path={self.state_schema(variant)}"})
        env = {**os.environ, "HUB_MAPPINGS_DIR": str(self.work / "mappings"),
               "HUB_DATABASE_URL": state.render_as_string(hide_password=False),
               "AIRFLOW_CONN_BENCH_SRC": self.connection(SOURCE),
               f"AIRFLOW_CONN_{variant.target.upper()}": self.connection(variant.target)}
        if self.hub_src is not None:
            env["PYTHONPATH"] = str(self.hub_src)
        return [sys.executable, "-m", "hub.cli", "run", self.exchange(variant), "--json"], env

    @staticmethod
    def connection(schema: str) -> str:
        return json.dumps({"conn_type": "hub_crm_db", "extra": {"url": POSTGRES_URL, "db_schema": schema}})

    def dlt_command(self, variant: Variant) -> tuple[list[str], dict[str, str]]:
        plain = sa.make_url(POSTGRES_URL).set(drivername="postgresql").render_as_string(hide_password=False)
        source = sa.make_url(POSTGRES_URL).set(drivername="postgresql+psycopg2").render_as_string(hide_password=False)
        env = {**os.environ, "RUNTIME__DLTHUB_TELEMETRY": "false"}
        if not sa.make_url(POSTGRES_URL).password:  # dlt insists on one; a server that trusts the user ignores it
            env["DESTINATION__POSTGRES__CREDENTIALS__PASSWORD"] = "unused"
        env.pop("PYTHONPATH", None)
        return [str(DLT_VENV / "bin" / "python"), str(HERE / "vs_dlt_pipeline.py"), source, SOURCE, plain,
                variant.target, str(self.work / f"dlt-{variant.strategy}"), variant.strategy], env

    def copy_load(self) -> float:
        """The target database's own bulk load: COPY out of the source, COPY into an empty table."""
        self.fresh_schema(COPY_TARGET, with_table=True)
        conninfo = sa.make_url(POSTGRES_URL).set(drivername="postgresql").render_as_string(hide_password=False)
        started = time.perf_counter()
        with psycopg.connect(conninfo) as reader, psycopg.connect(conninfo) as writer:
            with reader.cursor().copy(f'COPY "{SOURCE}".clients TO STDOUT (FORMAT binary)') as out, \
                    writer.cursor().copy(f'COPY "{COPY_TARGET}".clients FROM STDIN (FORMAT binary)') as into:
                for block in out:
                    into.write(block)
            writer.commit()
        seconds = time.perf_counter() - started
        self.times.add("S1 COPY", seconds)
        print(f"  S1 COPY: {seconds:.2f} s", flush=True)
        return seconds


def ensure_dlt_venv() -> None:
    if (DLT_VENV / "bin" / "python").exists():
        return
    print(f"creating {DLT_VENV} with {' '.join(DLT_PACKAGES)} (once)", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(DLT_VENV)], check=True)
    subprocess.run([str(DLT_VENV / "bin" / "pip"), "install", "--quiet", *DLT_PACKAGES], check=True)


def compile_hub(hub_src: Path | None) -> None:
    """Byte-compile the hub's own source once, as installing a wheel does (dlt's venv is compiled by pip): where
    PYTHONDONTWRITEBYTECODE is set, every run of an editable checkout would compile it again (a cursor run
    that finds nothing to do spent a tenth of its time there)."""
    root = hub_src or HERE.parent
    subprocess.run([sys.executable, "-m", "compileall", "-q", *(str(root / d) for d in ("hub", "connectors",
                                                                                        "airflow_hub"))],
                   check=True, stdout=subprocess.DEVNULL)


def alternate(runs: int, first: Variant, second: Variant) -> list[tuple[Variant, Variant]]:
    """Pairs of runs, the order swapped every round so that neither tool always runs on a warmer machine."""
    return [(first, second) if n % 2 == 0 else (second, first) for n in range(runs)]


def rounds(runs: int) -> list[tuple[Variant, ...]]:
    """Per round: the hash pair, then the cursor pair, each alternating."""
    return [(*full, *incremental) for full, incremental in zip(alternate(runs, HUB_HASH, DLT_MERGE),
                                                               alternate(runs, HUB_CURSOR, DLT_INCREMENTAL),
                                                               strict=True)]


def scenarios(bench: Bench, runs: int, which: set[str]) -> None:
    if "S1" in which:
        first_loads(bench, runs)
    else:  # the re-runs need something loaded: one untimed first load of each variant
        print("first loads (setup, not compared)", flush=True)
        for variant in (HUB_HASH, DLT_MERGE, HUB_CURSOR, DLT_INCREMENTAL):
            bench.reset(variant)
            bench.run("S1 (setup)", variant)
        bench.verify("S1", [HUB_HASH, HUB_CURSOR, DLT_MERGE, DLT_INCREMENTAL])

    if "S2" in which:
        print("S2 nothing changed", flush=True)
        for round_ in rounds(runs):
            for variant in round_:
                bench.run("S2", variant)
        bench.verify("S2", [HUB_HASH, HUB_CURSOR, DLT_MERGE, DLT_INCREMENTAL])

    if "S3" not in which:
        return
    print("S3 1% changed", flush=True)
    for round_ in rounds(runs):
        bench.change_one_percent()
        for variant in round_:
            bench.run("S3", variant)
        bench.verify("S3", [HUB_HASH, HUB_CURSOR, DLT_MERGE, DLT_INCREMENTAL])


def first_loads(bench: Bench, runs: int) -> None:
    print("S1 first load", flush=True)
    for n, pair in enumerate(alternate(runs, HUB_HASH, DLT_MERGE)):
        for variant in pair:
            bench.reset(variant)
            bench.run("S1", variant)
        if n % 2 == 0:
            bench.copy_load()
        else:
            bench.sql(f'DROP SCHEMA IF EXISTS "{COPY_TARGET}" CASCADE')
        bench.verify("S1", list(pair))
    bench.copy_load()
    for variant in (HUB_CURSOR, DLT_INCREMENTAL):  # the first loads of the cursor variants (not compared)
        bench.reset(variant)
        bench.run("S1 (setup)", variant)
    bench.verify("S1", [HUB_HASH, HUB_CURSOR, DLT_MERGE, DLT_INCREMENTAL])


def report(times: Times, rows: int, runs: int) -> dict[str, object]:
    med = times.median
    pairs = [
        ("S1 first load", "hub hash / dlt merge", "S1 hub hash", "S1 dlt merge"),
        ("S1 first load", "hub hash / COPY", "S1 hub hash", "S1 COPY"),
        ("S2 nothing changed", "hub hash / dlt full merge", "S2 hub hash", "S2 dlt merge"),
        ("S2 nothing changed", "hub cursor / dlt incremental", "S2 hub cursor", "S2 dlt incremental"),
        ("S3 1% changed", "hub hash / dlt full merge", "S3 hub hash", "S3 dlt merge"),
        ("S3 1% changed", "hub cursor / dlt incremental", "S3 hub cursor", "S3 dlt incremental"),
    ]
    lines = [(scenario, pair, med(hub), med(other)) for scenario, pair, hub, other in pairs
             if hub in times.seconds and other in times.seconds]  # the scenarios that ran
    print(f"\nmedians of {runs} runs each, {rows} rows:")
    print(f"{'scenario':<20} {'pair':<30} {'hub s':>8} {'other s':>8} {'ratio':>7}")
    for scenario, pair, hub, other in lines:
        print(f"{scenario:<20} {pair:<30} {hub:8.2f} {other:8.2f} {hub / other:7.2f}")
    print(f"peak RSS: hub {times.rss_mb['hub']:.0f} MB, dlt {times.rss_mb['dlt']:.0f} MB")
    return {"bench": "vs_dlt", "rows": rows, "runs": {k: [round(s, 3) for s in v] for k, v in times.seconds.items()},
            "ratios": {f"{scenario}: {pair}": round(hub / other, 3) for scenario, pair, hub, other in lines},
            "peak_rss_mb": {k: round(v, 1) for k, v in times.rss_mb.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", action="store_true", help="1,000,000 rows instead of 100,000")
    parser.add_argument("--rows", type=int, help="any other number of rows")
    parser.add_argument("--runs", type=int, default=3, help="runs of each tool per scenario (at least 3)")
    parser.add_argument("--hub-src", type=Path, help="run the hub from this checkout (PYTHONPATH)")
    parser.add_argument("--scenarios", default="S1,S2,S3", help="which of S1,S2,S3 (without S1: one untimed first "
                        "load of each variant)")
    args = parser.parse_args()
    rows = args.rows or (1_000_000 if args.large else 100_000)
    ensure_dlt_venv()
    compile_hub(args.hub_src)
    with tempfile.TemporaryDirectory(prefix="bench-vs-dlt-") as tmp:
        bench = Bench(rows, Path(tmp), args.hub_src)
        try:
            bench.build_source()
            scenarios(bench, args.runs, set(args.scenarios.upper().split(",")))
        finally:
            bench.drop_all()
    print(json.dumps(report(bench.times, rows, args.runs)))


if __name__ == "__main__":
    main()
