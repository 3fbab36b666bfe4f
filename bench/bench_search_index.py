"""The search index's cost on a run: the first sync of N rows (every record written, so every record indexed)
with a ``search:`` section naming two identifiers (e-mail, ИНН), against the same sync without it, alternating,
in ONE run of this script. Target: <= 1.15 here, where the mapping does almost nothing else per record (an
exchange with lookups or a remote target spends far more per record, so the share is smaller there).
Measured in CPU seconds of this process (the runner, SQLite and the index all run in it; the index adds no
commit, so no fsync): a machine busy with other work skews wall time, not this.

Usage: python bench/bench_search_index.py [--rows 50000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_sync import workspace

from hub.app import Hub
from hub.connections import ConnectionResolver
from hub.settings import HubSettings

SEARCH = "search:\n  - {field: email, kind: email}\n  - {field: inn, kind: inn}\n"


def timed(root: Path, name: str, rows: int, search: bool) -> float:
    env = workspace(root, name, rows, "hash")
    mapping = Path(env["HUB_MAPPINGS_DIR"]) / "bench_sync.yaml"
    if search:
        mapping.write_text(mapping.read_text(encoding="utf-8") + SEARCH, encoding="utf-8")
    hub = Hub(HubSettings.from_env(env), ConnectionResolver(env=env))
    runner = hub.runner("bench_sync")
    started = time.process_time()
    report = runner.apply("bench")
    seconds = time.process_time() - started
    hub.close()
    assert report.counts.created == rows, report.summary()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    without, with_index = [], []
    with tempfile.TemporaryDirectory(prefix="bench-search-") as tmp:
        root = Path(tmp)
        for n in range(args.repeat):
            without.append(timed(root, f"plain{n}", args.rows, search=False))
            with_index.append(timed(root, f"search{n}", args.rows, search=True))
    best_without, best_with = min(without), min(with_index)
    ratio = best_with / best_without
    print(f"first sync of {args.rows} rows, with the search index (2 identifiers a record) / without: "
          f"{best_with:.2f} / {best_without:.2f} CPU s = {ratio:.3f} (target <= 1.15)")
    print(json.dumps({"bench": "search_index", "rows": args.rows, "without_s": round(best_without, 3),
                      "with_s": round(best_with, 3), "ratio": round(ratio, 4)}))


if __name__ == "__main__":
    main()
