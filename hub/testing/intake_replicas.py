"""Several ``hub serve intake`` replicas over one hub database, a load spread over them, and ``website_leads``
running in a loop meanwhile: the setup of the replica test and of ``bench/bench_intake_replicas.py``.

Each replica is its own process, as behind a reverse proxy in production; the load generator keeps
keep-alive connections to every replica busy with Tilda-style submissions, each a new one (a new ``tranid``).
What a run of it reports: the submissions acknowledged (200), the inbox rows and the CRM leads they became.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlencode

import httpx
import sqlalchemy as sa
import yaml

from hub.app import Hub
from hub.connections import ConnectionResolver
from hub.settings import HubSettings

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "replica-token"
EXCHANGE = "website_leads"


def environment(home: Path, hub_url: str, crm_url: str) -> dict[str, str]:
    """``hub`` settings: the repository's website mappings with the per-client rate limit lifted (the load
    generator is one client address; in production each sender is its own) and Tilda's token set."""
    mappings = home / "mappings"
    mappings.mkdir(parents=True, exist_ok=True)
    env = {"HUB_HOME": str(home), "HUB_DATABASE_URL": hub_url, "HUB_MAPPINGS_DIR": str(mappings),
           "HUB_RETRY_ATTEMPTS": "3", "HUB_RETRY_INITIAL_WAIT": "0.1", "HUB_RUN_LOCK_WAIT": "120",
           "AIRFLOW_CONN_CRM": json.dumps({"conn_type": "hub_crm_db", "extra": {"url": crm_url}})}
    for path in (ROOT / "mappings").glob("website_*.yaml"):
        mapping = yaml.safe_load(path.read_text(encoding="utf-8"))
        sources = (mapping["source"].get("options") or {}).get("sources", {})
        for name, source in list(sources.items()):
            if source.get("mode") == "poll":  # only webhooks here: no shop API to poll
                del sources[name]
                continue
            source["rate_limit"] = {"per_minute": 100_000_000, "burst": 1_000_000}
            env[f"AIRFLOW_CONN_{source['connection'].upper()}"] = json.dumps(
                {"conn_type": "hub_website", "password": TOKEN})
        (mappings / path.name).write_text(yaml.safe_dump(mapping, allow_unicode=True), encoding="utf-8")
    return env


@contextlib.contextmanager
def intake_replicas(env: dict[str, str], count: int, *options: str) -> Iterator[list[str]]:
    """``count`` intake processes on free ports (with these ``hub serve intake`` options); their URLs once each
    answers /health. Stopped with SIGTERM (killed if one does not stop within a minute)."""
    command = [str(Path(sys.executable).with_name("hub")), "serve", "intake", "--port", "0", "--exchange", EXCHANGE,
               *options]
    processes = [subprocess.Popen(command, env={**os.environ, **env}, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL) for _ in range(count)]
    try:
        urls = []
        for process in processes:
            line = process.stdout.readline().decode()  # type: ignore[union-attr]
            found = re.search(r"listening on (http://\S+)", line)
            if not found:
                raise RuntimeError(f"an intake replica did not start: {line!r}")
            urls.append(found.group(1))
        for url in urls:
            _wait_healthy(url)
        yield urls
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            process.stdout.close()  # type: ignore[union-attr]


def _wait_healthy(url: str) -> None:
    for _ in range(1200):
        try:
            httpx.get(url + "/health", timeout=2).raise_for_status()
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not become healthy")


def _request(number: int, host: str) -> bytes:
    body = urlencode({"Name": f"Посетитель {number}", "Phone": f"+7 916 {number % 1000:03d}-{number % 100:02d}-11",
                      "Email": f"visitor{number}@example.ru", "Comments": "Перезвоните, пожалуйста",
                      "tranid": f"7700001:{number}", "formid": "form571920841"}).encode()
    head = (f"POST /forms/tilda?token={quote(TOKEN)} HTTP/1.1\r\nHost: {host}\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


@dataclass
class Load:
    acknowledged: set[str] = field(default_factory=set)  # the keys the intake answered 200 for
    refused: int = 0
    seconds: float = 0.0


async def _send(urls: list[str], numbers: range, connections_per_replica: int) -> Load:
    load = Load()
    pending = iter(numbers)

    async def connection(url: str) -> None:
        host, port = url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        for number in pending:
            writer.write(_request(number, host))
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
            body = await reader.readexactly(length)
            if head.startswith(b"HTTP/1.1 200"):
                load.acknowledged.add(json.loads(body)["key"])
            else:
                load.refused += 1
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection(url) for url in urls for _ in range(connections_per_replica)))
    load.seconds = time.perf_counter() - started
    return load


def send(urls: list[str], numbers: range, connections_per_replica: int = 8) -> Load:
    """Post one submission per number, spread over the replicas; returns what was acknowledged."""
    return asyncio.run(_send(urls, numbers, connections_per_replica))


class ExchangeLoop:
    """``website_leads`` run over and over in a thread (as a schedule and wake-ups would), then once more at the
    end, so that runs read the inbox while replicas are still committing to it."""

    def __init__(self, env: dict[str, str]):
        self.env = {**os.environ, **env}
        self.settings = HubSettings.from_env(self.env)
        self.runs = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="exchange-loop", daemon=True)
        self._error: BaseException | None = None

    def __enter__(self) -> ExchangeLoop:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        if self._error is not None:
            raise self._error
        self._run_once()  # whatever was committed after the loop's last read

    def _loop(self) -> None:
        try:
            while not self._stop.is_set():
                self._run_once()
        except BaseException as exc:  # handed to the test or the benchmark in __exit__
            self._error = exc

    def _run_once(self) -> None:
        with Hub(self.settings, ConnectionResolver(env=self.env)) as hub:
            hub.run(EXCHANGE, triggered_by="replica-loop")
        self.runs += 1


def inbox_keys(hub_url: str) -> list[str]:
    return _column(hub_url, "SELECT dedup_key FROM hub_inbox WHERE stream = 'website'")


def lead_refs(crm_url: str) -> list[str]:
    return _column(crm_url, "SELECT source_ref FROM leads WHERE source_ref LIKE 'tilda:%'")


def _column(url: str, query: str) -> list[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as c:
            return [row[0] for row in c.execute(sa.text(query))]
    finally:
        engine.dispose()


__all__ = ["ExchangeLoop", "Load", "environment", "inbox_keys", "intake_replicas", "lead_refs", "send"]
