"""Benchmark: website intake throughput with 1, 2 and 4 ``hub serve intake`` replicas over one PostgreSQL hub
database, with ``website_leads`` running in a loop meanwhile (the setup in which issue 17 lost submissions).

Per configuration, in a fresh hub schema: the same load generator (``--connections`` keep-alive connections in
all, spread evenly over the replicas) posts ``--requests`` new Tilda submissions. Printed per configuration:
submissions/s acknowledged, the scaling ratio against 1 replica measured in the same run, and
acknowledged / inbox rows / leads, each of which must be 1.0 (every acknowledged submission is exactly one
inbox row and exactly one CRM lead, whatever order the replicas commit in).

The load generator runs in this process and the replicas, the exchange and PostgreSQL share the machine's
cores: on a machine with few cores, replicas compete for the same CPUs and the ratio says so.

Run: ``python bench/bench_intake_replicas.py [--requests N] [--connections N]``. Prints a table, then one JSON
line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from hub.testing.databases import postgres_schema  # noqa: E402
from hub.testing.intake_replicas import (  # noqa: E402
    ExchangeLoop,
    environment,
    inbox_keys,
    intake_replicas,
    lead_refs,
    send,
)
from sandbox.crm import seed  # noqa: E402

REPLICAS = (1, 2, 4)


def measure(replicas: int, args: argparse.Namespace, home: Path) -> dict[str, Any]:
    crm_url = f"sqlite:///{home / 'crm.db'}"
    seed(crm_url, clients=200)
    with postgres_schema("bench_replicas") as hub_url:
        env = environment(home, hub_url, crm_url)
        with intake_replicas(env, replicas) as urls:
            per_replica = max(1, args.connections // replicas)
            send(urls, range(10_000_000, 10_000_000 + 200), per_replica)  # warm-up (not counted below)
            with ExchangeLoop(env) as loop:
                load = send(urls, range(args.requests), per_replica)
                drain_started = time.perf_counter()
            drain = time.perf_counter() - drain_started
        inbox = Counter(key for key in inbox_keys(hub_url) if key in load.acknowledged)  # warm-up left out
    counted = load.acknowledged
    leads = Counter(ref for ref in lead_refs(crm_url) if ref in counted)
    inbox_rows = len(inbox)
    return {"replicas": replicas, "connections": per_replica * replicas, "requests": args.requests,
            "acknowledged": len(counted), "refused": load.refused,
            "submissions_per_s": round(len(counted) / load.seconds, 1),
            "ack_to_inbox": round(len(counted) / inbox_rows, 6) if inbox_rows else None,
            "ack_to_leads": round(len(counted) / len(leads), 6) if leads else None,
            "leads_twice": sum(1 for n in leads.values() if n > 1),
            "exchange_runs": loop.runs, "last_run_s": round(drain, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20_000, help="submissions per configuration")
    parser.add_argument("--connections", type=int, default=16, help="concurrent senders in all")
    args = parser.parse_args()
    results = []
    for replicas in REPLICAS:
        with tempfile.TemporaryDirectory(prefix=f"bench-replicas-{replicas}-") as tmp:
            results.append(measure(replicas, args, Path(tmp)))
        print(f"  {replicas} replica(s): {results[-1]}", file=sys.stderr, flush=True)
    base = results[0]["submissions_per_s"]
    print(f"website intake replicas over one PostgreSQL hub database, website_leads in a loop, {args.requests} "
          f"submissions per configuration, {args.connections} connections, {os.cpu_count()} CPUs "
          f"(load average {os.getloadavg()[0]:.1f})")
    print(f"{'replicas':>8} {'subm/s':>8} {'scaling':>8} {'ack/inbox':>10} {'ack/leads':>10} {'doubled':>8} "
          f"{'runs':>5}")
    for r in results:
        r["scaling"] = round(r["submissions_per_s"] / base, 3)
        print(f"{r['replicas']:8} {r['submissions_per_s']:8.0f} {r['scaling']:8.2f} {r['ack_to_inbox']!s:>10} "
              f"{r['ack_to_leads']!s:>10} {r['leads_twice']:8} {r['exchange_runs']:5}")
    exact = all(r["ack_to_inbox"] == 1.0 and r["ack_to_leads"] == 1.0 and r["leads_twice"] == 0 for r in results)
    print(json.dumps({"benchmark": "intake_replicas", "results": results, "exact": exact}))
    if not exact:
        raise SystemExit("an acknowledged submission was lost or doubled")


if __name__ == "__main__":
    main()
