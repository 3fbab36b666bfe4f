"""``hub serve intake`` killed with SIGKILL: every submission it acknowledged is in the inbox and becomes a
CRM lead; the sender's retries of what it did not acknowledge are stored once; nothing is written twice."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
import yaml

from hub.app import Hub
from hub.settings import HubSettings
from sandbox.crm import seed
from sandbox.website import Person, WebsiteSimulator, plain, tilda
from sandbox.website_api import ShopApi, ShopApiServer

ROOT = Path(__file__).resolve().parents[3]
SOURCES = ("tilda", "landing")


def secret(source: str) -> str:
    return f"kill-test-{source}"


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    crm = f"sqlite:///{tmp_path / 'crm.db'}"
    seed(crm, clients=10)
    values = {"HUB_HOME": str(tmp_path), "HUB_MAPPINGS_DIR": str(unthrottled_mappings(tmp_path)),
              "HUB_DATABASE_URL": f"sqlite:///{tmp_path / 'hub.db'}", "HUB_RETRY_ATTEMPTS": "2",
              "HUB_RETRY_INITIAL_WAIT": "0",
              "AIRFLOW_CONN_CRM": json.dumps({"conn_type": "hub_crm_db", "extra": {"url": crm}})}
    with ShopApiServer(ShopApi(token=secret("shop_api"))) as shop:  # the mapping's poll source: an empty shop
        for source in ("tilda", "cf7", "elementor", "gravity", "wpforms", "bitrix", "yandex_forms", "marquiz",
                       "google_forms", "landing", "shop_api"):
            values[f"AIRFLOW_CONN_WEBSITE_{source.upper()}"] = json.dumps(
                {"conn_type": "hub_website", "password": secret(source), "host": "127.0.0.1", "port": shop.port})
        yield values


def unthrottled_mappings(tmp_path: Path) -> Path:
    """The repository's website_leads mapping, with a per-client rate far above this test's load generator."""
    mapping = yaml.safe_load((ROOT / "mappings" / "website_leads.yaml").read_text(encoding="utf-8"))
    for source in mapping["source"]["options"]["sources"].values():
        source["rate_limit"] = {"per_minute": 1_000_000, "burst": 100_000}
    directory = tmp_path / "mappings"
    directory.mkdir()
    (directory / "website_leads.yaml").write_text(yaml.safe_dump(mapping, allow_unicode=True), encoding="utf-8")
    return directory


class Intake:
    """A real ``hub serve intake`` process on a free port."""

    def __init__(self, env: dict[str, str]):
        hub = Path(sys.executable).with_name("hub")
        self.process = subprocess.Popen([str(hub), "serve", "intake", "--port", "0", "--exchange", "website_leads"],
                                        env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            self.url = self._wait_until_serving()
        except BaseException:
            self.kill()
            raise

    def _wait_until_serving(self) -> str:
        line = self.process.stdout.readline().decode()  # type: ignore[union-attr]
        found = re.search(r"listening on (http://\S+)", line)
        assert found, f"the intake did not start: {line!r}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(found.group(1) + "/health", timeout=2).raise_for_status()
                return found.group(1)
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "the intake never answered"
                time.sleep(0.05)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        self.process.stdout.close()  # type: ignore[union-attr]


@pytest.fixture
def intake(env: dict[str, str]) -> Iterator[Intake]:
    started = Intake(env)
    yield started
    started.kill()  # a no-op for the process if the test killed it already


def submissions(count: int, offset: int = 0) -> list:
    return [tilda(Person(f"Клиент {n}", f"+7 916 {n:03d}-00-{n % 100:02d}", f"c{n}@example.ru"), n)
            if n % 2 else plain(Person(f"Клиент {n}", f"+7 926 {n:03d}-11-{n % 100:02d}", None, "form"), n)
            for n in range(offset, offset + count)]


def leads_exchange(env: dict[str, str]) -> tuple[Hub, list[dict]]:
    hub = Hub(HubSettings.from_env(env))
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        hub.run("website_leads")
    crm = sa.create_engine(json.loads(env["AIRFLOW_CONN_CRM"])["extra"]["url"])
    with crm.connect() as c:
        leads = [dict(r) for r in c.execute(sa.text("SELECT * FROM leads WHERE source IN ('tilda', 'landing')"))
                 .mappings()]
    crm.dispose()
    return hub, leads


def test_killed_right_after_acknowledging_loses_nothing(env: dict[str, str], intake: Intake) -> None:
    acknowledged = []
    with WebsiteSimulator(intake.url, {s: secret(s) for s in SOURCES}) as site:
        for post in submissions(30):
            response = site.send(post)
            assert response.status_code == 200
            acknowledged.append(response.json()["key"])
    intake.kill()  # the moment the last 200 was read: no clean shutdown, no flush
    hub, leads = leads_exchange(env)
    assert sorted(lead["source_ref"] for lead in leads) == sorted(acknowledged)
    hub.close()


def test_killed_under_load_then_senders_retry_everything_once_more(env: dict[str, str], intake: Intake) -> None:
    posts = submissions(400, offset=100)
    acknowledged: set[str] = set()  # keys of the submissions answered 200
    lock = threading.Lock()

    def sender(share: list) -> None:
        with WebsiteSimulator(intake.url, {s: secret(s) for s in SOURCES}, timeout=5) as site:
            for post in share:
                try:
                    response = site.send(post)
                except httpx.HTTPError:
                    return  # the intake is gone: this sender stops, its post is not acknowledged
                if response.status_code == 200:
                    with lock:
                        acknowledged.add(response.json()["key"])

    threads = [threading.Thread(target=sender, args=(posts[n::8],)) for n in range(8)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    while len(acknowledged) < 60 and time.monotonic() < deadline:
        time.sleep(0.005)
    intake.kill()
    for thread in threads:
        thread.join(30)
    keys = set(acknowledged)
    assert 60 <= len(keys) < len(posts)

    hub, leads = leads_exchange(env)
    assert keys <= {lead["source_ref"] for lead in leads}  # every acknowledged one made it

    restarted = Intake(env)  # senders retry everything they sent: each submission stored once
    try:
        with WebsiteSimulator(restarted.url, {s: secret(s) for s in SOURCES}) as site:
            answers = [site.send(post) for post in posts]
        assert all(a.status_code == 200 for a in answers)
        assert {a.json()["key"] for a in answers if a.json()["status"] == "duplicate"} >= keys
    finally:
        restarted.kill()
    hub.close()
    _, leads = leads_exchange(env)
    refs = [lead["source_ref"] for lead in leads]
    assert len(refs) == len(set(refs)) == len(posts)
