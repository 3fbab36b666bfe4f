"""Sync benchmarks of the core runner, CRM database -> CRM database (SQLite files), from ONE run:

1. second run with nothing changed over the first run (hash strategy: everything is re-read and compared;
   target <= 0.25);
2. peak RSS of a 1,000,000-row sync, next to the peak RSS of a 10,000-row sync measured the same way
   (memory must not grow with the number of rows; target < 300 MB).

Usage: python bench/bench_sync.py [--rows 1000000] [--compare-rows 50000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

MAPPING = """\
exchange: bench_sync
description: benchmark copy of CRM clients
schedule: "@hourly"
source: {{connector: crm_db, connection: src, stream: clients, key: id, incremental: {incremental}}}
target: {{connector: crm_db, connection: dst, entity: replica, match: [source_id], mode: upsert}}
fields:
  source_id: id
  name: trim(name)
  name_upper: upper(name)
  inn: inn
  kpp: default(kpp, '')
  email: email(email)
  city: lower(city)
  balance: round_money(balance)
  active: bool(active)
  note: concat(name, ' / ', inn)
"""


def make_source(path: Path, rows: int) -> None:
    engine = sa.create_engine(f"sqlite:///{path}")
    meta = sa.MetaData()
    table = sa.Table("clients", meta, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("name", sa.String(100)), sa.Column("inn", sa.String(12)),
                     sa.Column("kpp", sa.String(9)), sa.Column("email", sa.String(100)),
                     sa.Column("city", sa.String(50)), sa.Column("balance", sa.Numeric(12, 2)),
                     sa.Column("active", sa.Integer), sa.Column("updated_at", sa.Integer))
    meta.create_all(engine)
    with engine.begin() as c:
        for start in range(1, rows + 1, 50_000):
            c.execute(table.insert(), [
                {"id": i, "name": f" Client {i} ", "inn": f"77{i:08d}", "kpp": "770101001" if i % 3 else None,
                 "email": f"Client{i}@Example.RU ", "city": "Москва" if i % 2 else "Казань",
                 "balance": Decimal(i) / 7, "active": i % 5 != 0, "updated_at": i}
                for i in range(start, min(start + 50_000, rows + 1))])
    engine.dispose()


def make_target(path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{path}")
    meta = sa.MetaData()
    sa.Table("replica", meta, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("source_id", sa.Integer, nullable=False, unique=True), sa.Column("name", sa.String(100)),
             sa.Column("name_upper", sa.String(100)), sa.Column("inn", sa.String(12)), sa.Column("kpp", sa.String(9)),
             sa.Column("email", sa.String(100)), sa.Column("city", sa.String(50)),
             sa.Column("balance", sa.Numeric(12, 2)), sa.Column("active", sa.Boolean),
             sa.Column("note", sa.String(200)))
    meta.create_all(engine)
    engine.dispose()


def workspace(root: Path, name: str, rows: int, strategy: str) -> dict[str, str]:
    home = root / name
    (home / "mappings").mkdir(parents=True)
    incremental = "{strategy: cursor, cursor: updated_at}" if strategy == "cursor" else "{strategy: hash}"
    (home / "mappings" / "bench_sync.yaml").write_text(MAPPING.format(incremental=incremental), encoding="utf-8")
    make_source(home / "src.db", rows)
    make_target(home / "dst.db")
    return {**os.environ, "HUB_MAPPINGS_DIR": str(home / "mappings"), "HUB_DATABASE_URL": f"sqlite:///{home}/hub.db",
            "HUB_BATCH_SIZE": "1000",
            "AIRFLOW_CONN_SRC": json.dumps({"conn_type": "hub_crm_db", "extra": {"url": f"sqlite:///{home}/src.db"}}),
            "AIRFLOW_CONN_DST": json.dumps({"conn_type": "hub_crm_db", "extra": {"url": f"sqlite:///{home}/dst.db"}})}


def run_here(env: dict[str, str]) -> tuple[float, dict]:
    """One run in this process (startup excluded): (seconds, summary)."""
    from hub.app import Hub
    from hub.connections import ConnectionResolver
    from hub.settings import HubSettings

    hub = Hub(HubSettings.from_env(env), ConnectionResolver(env=env))
    runner = hub.runner("bench_sync")
    started = time.perf_counter()
    report = runner.apply("bench")
    seconds = time.perf_counter() - started
    hub.close()
    return seconds, report.summary()


def run(env: dict[str, str]) -> tuple[float, int, dict]:
    """One `hub run` in a child process: (seconds, peak RSS in KiB, summary)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as errors:  # a file, not a pipe: a full stderr pipe would block the child
        child = subprocess.Popen([sys.executable, "-m", "hub.cli", "run", "bench_sync", "--json"], env=env,
                                 stdout=subprocess.PIPE, stderr=errors)
        with child.stdout:  # type: ignore[union-attr]
            out = child.stdout.read()  # type: ignore[union-attr]
        _, status, usage = os.wait4(child.pid, 0)  # wait4, not wait: it gives the child's own peak RSS
        seconds = time.perf_counter() - started
        if status != 0:
            errors.seek(0)
            raise SystemExit(f"hub run failed: {errors.read().decode()[-2000:]}")
    return seconds, usage.ru_maxrss, json.loads(out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the memory benchmark")
    parser.add_argument("--compare-rows", type=int, default=50_000, help="rows of the second-run benchmark")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as tmp:
        root = Path(tmp)
        env = workspace(root, "rerun", args.compare_rows, "hash")
        first, s1 = run_here(env)
        second, s2 = run_here(env)
        assert s1["created"] == args.compare_rows and s2["unchanged"] == args.compare_rows, (s1, s2)
        small = workspace(root, "small", 10_000, "cursor")
        _, small_rss, _ = run(small)
        big = workspace(root, "big", args.rows, "cursor")
        big_seconds, big_rss, s3 = run(big)
        assert s3["created"] == args.rows, s3
    ratio = second / first
    print(f"second run / first run ({args.compare_rows} rows, nothing changed): {second:.2f} s / {first:.2f} s = "
          f"{ratio:.3f} (target <= 0.25)")
    print(f"peak RSS: {args.rows} rows {big_rss / 1024:.0f} MB vs 10000 rows {small_rss / 1024:.0f} MB "
          f"(ratio {big_rss / small_rss:.2f}; target < 300 MB); {args.rows} rows took {big_seconds:.0f} s "
          f"= {args.rows / big_seconds:.0f} rows/s")
    print(json.dumps({"bench": "sync", "rows_rerun": args.compare_rows, "first_s": round(first, 3),
                      "second_s": round(second, 3), "second_over_first": round(ratio, 4), "rows_rss": args.rows,
                      "peak_rss_mb": round(big_rss / 1024, 1), "peak_rss_10k_mb": round(small_rss / 1024, 1),
                      "big_rows_per_s": round(args.rows / big_seconds)}))


if __name__ == "__main__":
    main()
