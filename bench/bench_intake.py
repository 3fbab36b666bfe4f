"""Benchmark: the website form intake under a concurrent load generator, every acknowledgement durable.

The intake runs as its own process (``hub serve intake``, as in production); a load generator in this
process keeps ``--connections`` keep-alive HTTP/1.1 connections busy with Tilda-style urlencoded
submissions, each a new submission (a new ``tranid``). Measured per hub database and commit mode:

* submissions/s acknowledged (200) over the whole run, and p50/p99 latency of a request;
* acknowledged / inbox rows: every acknowledged submission is exactly one committed row (must be 1.0);
* modes: group commit (the default) and one commit per request (``--max-group 1``); databases: SQLite
  with synchronous=FULL and, if reachable, PostgreSQL (synchronous_commit on, the production setup).

The baseline, measured in the same run with the same load generator: a bare uvicorn server (same settings,
its own process) that reads each body and answers 200 without parsing, checking or storing anything: the
ceiling of HTTP on this machine. The printed ratio is ours / that. For reference, n8n publishes 220 webhook
workflow executions/s on a 2-vCPU (c5a.large) instance (``vs_n8n``). Targets: >= 1,000 submissions/s and
p99 < 50 ms with group commit.

Then the hub-side path of exchange 1 on the SQLite setup: the time from one form POST to its CRM lead and
callback task (the intake's commit, then ``website_leads`` and ``website_callback_tasks`` runs, as a
wake-up would start them; the Airflow scheduling delay is not included), and the exchange's throughput
over the whole backlog the load left in the inbox.

Run: ``python bench/bench_intake.py [--requests N] [--connections N]``. Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import sqlalchemy as sa
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from hub.app import Hub  # noqa: E402
from hub.settings import HubSettings  # noqa: E402
from hub.testing.databases import postgres_schema  # noqa: E402
from sandbox.crm import seed  # noqa: E402
from sandbox.website import Person, WebsiteSimulator, tilda  # noqa: E402
from sandbox.website_api import ShopApi, ShopApiServer  # noqa: E402

N8N_WEBHOOKS_PER_SECOND = 220.0
TARGET_RATE, TARGET_P99_MS = 1000.0, 50.0
SOURCES = ("tilda", "cf7", "elementor", "gravity", "wpforms", "bitrix", "yandex_forms", "marquiz", "google_forms",
           "landing", "shop_api")
TOKEN = "bench-token"


# -- the setup ------------------------------------------------------------------------------------------

def bench_mappings(directory: Path) -> Path:
    """The repository's website mappings, with the per-client rate limit lifted (one load generator is one
    client address; in production each sender is its own)."""
    directory.mkdir(parents=True, exist_ok=True)
    for path in (ROOT / "mappings").glob("website_*.yaml"):
        mapping = yaml.safe_load(path.read_text(encoding="utf-8"))
        for source in (mapping["source"].get("options") or {}).get("sources", {}).values():
            source["rate_limit"] = {"per_minute": 100_000_000, "burst": 1_000_000}
        (directory / path.name).write_text(yaml.safe_dump(mapping, allow_unicode=True), encoding="utf-8")
    return directory


def environment(home: Path, hub_url: str, crm_url: str, shop_port: int) -> dict[str, str]:
    env = {"HUB_HOME": str(home), "HUB_DATABASE_URL": hub_url, "HUB_MAPPINGS_DIR": str(bench_mappings(home / "m")),
           "HUB_RETRY_ATTEMPTS": "2", "HUB_RETRY_INITIAL_WAIT": "0",
           "AIRFLOW_CONN_CRM": json.dumps({"conn_type": "hub_crm_db", "extra": {"url": crm_url}})}
    for source in SOURCES:
        env[f"AIRFLOW_CONN_WEBSITE_{source.upper()}"] = json.dumps(
            {"conn_type": "hub_website", "password": TOKEN, "host": "127.0.0.1", "port": shop_port})
    return env


#: the baseline server: uvicorn as the intake runs it, answering 200 to every POST without doing anything
BARE_SERVER = """
import socket, uvicorn

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"{}"})

sock = socket.create_server(("127.0.0.1", 0), backlog=2048)
print(f"listening on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
uvicorn.Server(uvicorn.Config(app, lifespan="off", access_log=False, log_level="warning",
                              timeout_keep_alive=30)).run(sockets=[sock])
"""


def intake_process(env: dict[str, str], max_group: int) -> AbstractContextManager[str]:
    return serving([str(Path(sys.executable).with_name("hub")), "serve", "intake", "--port", "0", "--exchange",
                    "website_leads", "--max-group", str(max_group)], env)


@contextmanager
def serving(command: list[str], env: dict[str, str]) -> Iterator[str]:
    """A server process that prints 'listening on <url>'; its URL once /health (or anything) answers."""
    process = subprocess.Popen(command, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        line = process.stdout.readline().decode()  # type: ignore[union-attr]
        url = re.search(r"listening on (http://\S+)", line)
        if not url:
            raise RuntimeError(f"the intake did not start: {line!r}")
        for _ in range(600):
            try:
                httpx.get(url.group(1) + "/health", timeout=2).raise_for_status()
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        yield url.group(1)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
        process.stdout.close()  # type: ignore[union-attr]


# -- the load generator ---------------------------------------------------------------------------------

def request_bytes(number: int, host: str) -> bytes:
    fields = urlencode({"Name": f"Посетитель {number}", "Phone": f"+7 916 {number % 1000:03d}-{number % 100:02d}-11",
                        "Email": f"visitor{number}@example.ru", "Comments": "Перезвоните, пожалуйста",
                        "tranid": f"9900001:{number}", "formid": "form571920841"}).encode()
    head = (f"POST /forms/tilda?token={quote(TOKEN)} HTTP/1.1\r\nHost: {host}\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(fields)}\r\n\r\n")
    return head.encode() + fields


async def load(url: str, requests: int, connections: int, first: int) -> tuple[int, float, list[float]]:
    """(acknowledged, seconds, latencies) of ``requests`` posts over ``connections`` keep-alive connections."""
    host, port = url.removeprefix("http://").split(":")
    numbers = iter(range(first, first + requests))
    latencies: list[float] = []
    acknowledged = 0

    async def connection() -> None:
        nonlocal acknowledged
        reader, writer = await asyncio.open_connection(host, int(port))
        for number in numbers:
            started = time.perf_counter()
            writer.write(request_bytes(number, host))
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            acknowledged += head.startswith(b"HTTP/1.1 200")
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(connections)))
    return acknowledged, time.perf_counter() - started, latencies


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] * 1000


def inbox_rows(hub_url: str) -> int:
    engine = sa.create_engine(hub_url)
    try:
        with engine.connect() as c:
            return int(c.execute(sa.text("SELECT count(*) FROM hub_inbox WHERE stream = 'website'")).scalar_one())
    finally:
        engine.dispose()


def measure_bare(args: argparse.Namespace) -> dict[str, Any]:
    """The baseline: the same load against a server that only answers."""
    with serving([sys.executable, "-c", BARE_SERVER], {}) as url:
        asyncio.run(load(url, 500, args.connections, 0))  # warm-up
        acked, seconds, latencies = asyncio.run(load(url, args.requests, args.connections, 500))
    return {"setup": "bare uvicorn, no parsing, no commit", "submissions_per_s": round(acked / seconds, 1),
            "p50_ms": round(percentile(latencies, 0.50), 2), "p99_ms": round(percentile(latencies, 0.99), 2)}


def measure(name: str, env: dict[str, str], max_group: int, args: argparse.Namespace, first: int) -> dict[str, Any]:
    with intake_process(env, max_group) as url:
        asyncio.run(load(url, 500, args.connections, first))  # warm-up (not counted)
        before = inbox_rows(env["HUB_DATABASE_URL"])
        acked, seconds, latencies = asyncio.run(load(url, args.requests, args.connections, first + 500))
    rows = inbox_rows(env["HUB_DATABASE_URL"]) - before
    return {"setup": name, "max_group": max_group, "requests": args.requests, "acknowledged": acked,
            "submissions_per_s": round(acked / seconds, 1), "p50_ms": round(percentile(latencies, 0.50), 2),
            "p99_ms": round(percentile(latencies, 0.99), 2), "ack_to_rows": round(acked / rows, 6) if rows else None,
            "vs_n8n": round(acked / seconds / N8N_WEBHOOKS_PER_SECOND, 2)}


# -- form -> lead (hub side) ----------------------------------------------------------------------------

def form_to_lead(env: dict[str, str], crm_url: str) -> dict[str, Any]:
    """One submission: POST -> committed -> website_leads run -> website_callback_tasks run; then the
    exchange's throughput over the backlog the load left in the inbox."""
    os.environ.update(env)
    hub = Hub(HubSettings.from_env(env))
    crm = sa.create_engine(crm_url)
    try:
        hub.run("website_client_phones")
        hub.run("website_contact_phones")
        backlog = inbox_rows(env["HUB_DATABASE_URL"])
        started = time.perf_counter()
        drained = hub.run("website_leads")
        drain_seconds = time.perf_counter() - started
        hub.run("website_callback_tasks")
        with intake_process(env, 512) as url, WebsiteSimulator(url, dict.fromkeys(SOURCES, TOKEN)) as site:
            timings = []
            for number in range(5):
                started = time.perf_counter()
                person = Person(f"Замер {number}", f"+7 999 000-00-{number:02d}", None)
                answer = site.send(tilda(person, 77_000 + number))
                acked = time.perf_counter()
                hub.run("website_leads")
                lead_at = time.perf_counter()
                hub.run("website_callback_tasks")
                task_at = time.perf_counter()
                with crm.connect() as c:
                    lead = c.execute(sa.text("SELECT id FROM leads WHERE source_ref = :k"),
                                     {"k": answer.json()["key"]}).scalar_one()
                    c.execute(sa.text("SELECT id FROM tasks WHERE source_ref = :r"), {"r": f"lead:{lead}"}).scalar_one()
                timings.append((acked - started, lead_at - started, task_at - started))
        return {"backlog_submissions": backlog, "backlog_leads_per_s": round(drained.counts.read / drain_seconds, 1),
                "post_to_ack_ms": round(1000 * sorted(t[0] for t in timings)[2], 1),
                "post_to_lead_ms": round(1000 * sorted(t[1] for t in timings)[2], 1),
                "post_to_task_ms": round(1000 * sorted(t[2] for t in timings)[2], 1)}
    finally:
        crm.dispose()
        hub.close()


# -- main -----------------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=6000)
    parser.add_argument("--connections", type=int, default=16, help="concurrent senders (keep-alive connections)")
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL hub database")
    args = parser.parse_args()
    results: list[dict[str, Any]] = []
    bare = measure_bare(args)
    with tempfile.TemporaryDirectory(prefix="bench-intake-") as tmp, \
            ShopApiServer(ShopApi(token=TOKEN)) as shop:
        home = Path(tmp)
        crm_url = f"sqlite:///{home / 'crm.db'}"
        seed(crm_url, clients=200)
        sqlite_env = environment(home, f"sqlite:///{home / 'hub.db'}", crm_url, shop.port)
        first = 1
        for max_group in (512, 1):
            results.append(measure("sqlite (synchronous=FULL)", sqlite_env, max_group, args, first))
            first += args.requests + 1000
        if not args.no_postgres:
            try:
                with postgres_schema("bench_intake") as pg_url:
                    pg_env = environment(home, pg_url, crm_url, shop.port)
                    for max_group in (512, 1):
                        results.append(measure("postgresql", pg_env, max_group, args, first))
                        first += args.requests + 1000
            except sa.exc.OperationalError as exc:
                print(f"(PostgreSQL not reachable, skipped: {str(exc).splitlines()[0]})")
        path = form_to_lead(sqlite_env, crm_url)

    print(f"website intake, {args.connections} concurrent connections, {args.requests} submissions per setup, "
          f"{os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.1f})")
    print(f"baseline, same load against a bare uvicorn server (no parsing, no commit): "
          f"{bare['submissions_per_s']:.0f} requests/s, p50 {bare['p50_ms']:.1f} ms, p99 {bare['p99_ms']:.1f} ms; "
          f"for reference n8n publishes {N8N_WEBHOOKS_PER_SECOND:.0f} webhook executions/s (2 vCPU)")
    print(f"{'hub database':28} {'commit':12} {'subm/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'ack/rows':>8} "
          f"{'vs bare':>7} {'vs n8n':>7}")
    for r in results:
        mode = "group" if r["max_group"] > 1 else "per request"
        r["vs_bare"] = round(r["submissions_per_s"] / bare["submissions_per_s"], 3)
        print(f"{r['setup']:28} {mode:12} {r['submissions_per_s']:8.0f} {r['p50_ms']:7.1f} {r['p99_ms']:7.1f} "
              f"{r['ack_to_rows']!s:>8} {r['vs_bare']:7.2f} {r['vs_n8n']:6.2f}x")
    best = results[0]
    verdict = "met" if best["submissions_per_s"] >= TARGET_RATE and best["p99_ms"] < TARGET_P99_MS else "NOT met"
    print(f"target (>= {TARGET_RATE:.0f}/s, p99 < {TARGET_P99_MS:.0f} ms, SQLite group commit): {verdict}")
    print(f"form -> lead, hub side (SQLite): ack {path['post_to_ack_ms']} ms, lead {path['post_to_lead_ms']} ms, "
          f"callback task {path['post_to_task_ms']} ms after the POST (median of 5; exchange runs started at once); "
          f"backlog of {path['backlog_submissions']} submissions drained at {path['backlog_leads_per_s']} leads/s")
    print(json.dumps({"benchmark": "intake", "baseline": bare, "n8n_webhooks_per_s": N8N_WEBHOOKS_PER_SECOND,
                      "results": results, "form_to_lead": path,
                      "ratio": results[0]["vs_bare"], "targets_met": verdict == "met"}))
    if any(r["ack_to_rows"] != 1.0 for r in results):
        raise SystemExit("acknowledged submissions and inbox rows differ: an acknowledgement was lost or doubled")


if __name__ == "__main__":
    main()
