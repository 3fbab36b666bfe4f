"""1C OData connector benchmark: 100,000 counterparties from the 1C simulator over real HTTP.

Two ratios, each against a baseline measured in the same run:

* read: the connector's full paged read (the fields counterparties_to_1c maps, converted to hub values)
  against a hand-written ``requests`` loop issuing the very same paged requests and only parsing the JSON.
  ratio = raw loop time / connector time (target >= 0.75: the connector costs little over bare HTTP).
* sweep: the DataVersion sweep of the same 100,000 objects, all unchanged, against a full re-read of them.
  ratio = sweep time / full read time (target <= 0.25).

Run: ``.venv/bin/python bench/bench_onec.py [--objects 100000]``. Prints the ratios and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from connectors.onec import ODataConnector
from connectors.onec.options import ODataSourceOptions
from connectors.onec.transport import basic_auth_header
from hub.connections import from_mapping
from hub.connector import ReadRequest
from hub.mapping.model import Incremental
from hub.settings import HubSettings
from sandbox.onec import OneCSimulator, seed_counterparties

SET = "Catalog_Контрагенты"
FIELDS = ("Description", "НаименованиеПолное", "ИНН", "КПП", "ЮридическоеФизическоеЛицо", "КонтактнаяИнформация")
PAGE = 1000


def connector_read(onec: ODataConnector, strategy: str, known: dict[str, str] | None = None) -> int:
    incremental = Incremental(strategy=strategy, version_field="DataVersion" if strategy == "version" else None)
    request = ReadRequest(stream=SET, key=("Ref_Key",), fields=frozenset(FIELDS), incremental=incremental,
                          checkpoint=None, batch_size=PAGE, options=ODataSourceOptions(),
                          known_versions=(lambda keys: {k: known[k] for k in keys if k in known}) if known else None)
    return sum(len(batch.records) + len(batch.unchanged_keys) for batch in onec.read(request))


def raw_read(root: str, login: str, password: str) -> int:
    """What a developer would write by hand: the same pages, JSON parsed, nothing converted."""
    session = requests.Session()
    session.headers["Authorization"] = basic_auth_header(login, password)
    url = f"{root}/odata/standard.odata/{quote(SET)}"
    select = ",".join(("Ref_Key", *sorted(FIELDS)))
    total, skip = 0, 0
    while True:
        query = (f"$format={quote('application/json;odata=nometadata', safe='')}&$select={quote(select, safe=',')}"
                 f"&$orderby=Ref_Key&$top={PAGE + 1}" + (f"&$skip={skip}" if skip else ""))
        rows: list[Any] = session.get(f"{url}?{query}", timeout=120).json()["value"]
        total += min(len(rows), PAGE)
        skip += PAGE
        if len(rows) <= PAGE:
            return total


def serve(objects: int, pipe: Connection) -> None:
    """The simulated 1C in its own process, as the real one is on its own server: its objects do not share
    the client's memory (or garbage collector)."""
    sim = OneCSimulator()
    started = time.perf_counter()
    partners = seed_counterparties(sim.store, objects, contracts=False)
    seeded = time.perf_counter() - started
    with sim.start():
        pipe.send((sim.connection("odata"), sim.url, seeded, [(p["Ref_Key"], p["DataVersion"]) for p in partners]))
        pipe.recv()  # until the client is done


def timed(fn: Any) -> tuple[float, int]:
    started = time.perf_counter()
    count = fn()
    return time.perf_counter() - started, count


def measure(args: argparse.Namespace, conn: dict[str, Any], root: str, known: dict[str, str],
            home: Path) -> dict[str, float]:
    onec = ODataConnector(from_mapping("onec", conn), HubSettings(home=home))
    onec.describe(SET)  # $metadata once, as in any run
    reads = {"raw": lambda: raw_read(root, conn["login"], conn["password"]),
             "full": lambda: connector_read(onec, "hash"), "sweep": lambda: connector_read(onec, "version", known)}
    reads["raw"]()  # warm up: the simulator sorts the set once and keeps the order until the next write
    best = {name: float("inf") for name in reads}
    for _ in range(args.runs):  # interleaved, so load from other processes hits all three alike
        for name, read in reads.items():
            seconds, count = timed(read)
            assert count == args.objects, (name, count)
            best[name] = min(best[name], seconds)
    onec.close()
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3,
                        help="rounds of the three reads, interleaved; the best time of each is kept")
    args = parser.parse_args()

    ours, theirs = multiprocessing.Pipe()
    server = multiprocessing.Process(target=serve, args=(args.objects, theirs), daemon=True)
    server.start()
    conn, root, seeded, versions = ours.recv()
    try:
        with tempfile.TemporaryDirectory() as home:
            best = measure(args, conn, root, dict(versions), Path(home))
    finally:
        ours.send("done")
        server.join(timeout=30)
    raw_s, full_s, sweep_s = best["raw"], best["full"], best["sweep"]
    read_ratio, sweep_ratio = raw_s / full_s, sweep_s / full_s
    print(f"seeded {args.objects:,} counterparties in {seeded:.1f} s")
    print(f"raw requests loop      {raw_s:7.2f} s  ({args.objects / raw_s:,.0f} objects/s)")
    print(f"connector full read    {full_s:7.2f} s  ({args.objects / full_s:,.0f} objects/s)")
    print(f"connector version sweep{sweep_s:7.2f} s  (all unchanged)")
    print(f"read ratio  raw/connector = {read_ratio:.2f}  (target >= 0.75)")
    print(f"sweep ratio sweep/full    = {sweep_ratio:.2f}  (target <= 0.25)")
    print(json.dumps({"bench": "onec", "objects": args.objects, "raw_s": round(raw_s, 3),
                      "connector_s": round(full_s, 3), "sweep_s": round(sweep_s, 3),
                      "read_ratio": round(read_ratio, 3), "sweep_ratio": round(sweep_ratio, 3),
                      "read_ok": read_ratio >= 0.75, "sweep_ok": sweep_ratio <= 0.25}))


if __name__ == "__main__":
    main()
