"""``hub demo`` part: the website form intake on port 18080, the shop's API on 18082, and a website that
sends one submission of every sender format, resubmissions and hostile requests.

The intake runs in-process (uvicorn in a thread) against the demo's hub database; every response is
checked against what the intake must answer, so a demo run fails loudly if it misbehaves. The scenario
is fixed: a second ``hub demo`` is answered "duplicate" throughout and creates no new lead.
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from connectors.website.server import IntakeService
from hub.demo import DemoEnv, demo_port
from hub.wakeup import waker_from_env
from sandbox.website import SCENARIO_SOURCES, WebsiteSimulator, raw_http, scenario
from sandbox.website_api import ShopApi, ShopApiServer

INTAKE_PORT = 18080
SHOP_API_PORT = 18082
EXCHANGE = "website_leads"


def demo_secret(source: str) -> str:
    return f"demo-{source}-token"  # demo credentials only; real ones live in Airflow Connections


def shop_api() -> ShopApi:
    api = ShopApi(token=demo_secret("shop_api"))
    api.add("Вера Лебедева", "+7 915 123-45-67", "vera.l@mail.ru", "Перезвоните по заказу 1187", "2025-03-03T06:40:00Z")
    api.add("Николай Попов", "8 (926) 700-80-90", None, "Нужна доставка в Химки", "2025-03-03T06:55:00Z")
    return api


@dataclass
class WebsitePart:
    name: str = "website"
    order: int = 50  # after the CRM: the exchanges it feeds write there
    _intake: IntakeService | None = None

    @contextlib.contextmanager
    def start(self, env: DemoEnv) -> Iterator[None]:
        for source in (*SCENARIO_SOURCES, "shop_api"):
            env.connections[f"website_{source}"] = json.dumps(
                {"conn_type": "hub_website", "password": demo_secret(source), "host": "127.0.0.1",
                 "port": demo_port(SHOP_API_PORT)})
        env.export()  # the intake reads its sources' secrets when it starts
        hub = env.hub()
        try:
            with ShopApiServer(shop_api(), port=demo_port(SHOP_API_PORT)), \
                    IntakeService(hub, [EXCHANGE], port=demo_port(INTAKE_PORT), waker=waker_from_env()) as intake:
                self._intake = intake
                env.notes.append(f"website intake: {intake.url}/docs (form sources: "
                                 f"{', '.join(s.name for s in intake.sources)})")
                yield
        finally:
            self._intake = None
            hub.close()

    def produce(self, env: DemoEnv) -> None:
        assert self._intake is not None, "start() first"
        outcomes: Counter[str] = Counter()
        secrets = {source: demo_secret(source) for source in SCENARIO_SOURCES}
        with WebsiteSimulator(self._intake.url, secrets) as site:
            for post in scenario():
                response = site.send(post)
                if response.status_code != post.expect:
                    raise RuntimeError(f"website demo: {post.label} to {post.source} got HTTP "
                                       f"{response.status_code}, expected {post.expect}: {response.text[:200]}")
                outcomes[response.json().get("status", "refused") if response.status_code == 200 else "refused"] += 1
        injected = raw_http(self._intake.url, b"POST /forms/tilda HTTP/1.1\r\nHost: x\r\nX-Evil: a\r\nSet-Cookie: b\r\n"
                                               b" continued\r\nContent-Length: 0\r\n\r\n")
        if not injected.startswith(b"HTTP/1.1 4"):
            raise RuntimeError("website demo: a request with a folded (injected) header was not refused")
        env.notes.append(f"website: {sum(outcomes.values())} requests sent: {outcomes['accepted']} accepted, "
                         f"{outcomes['duplicate']} duplicates, {outcomes['refused']} refused as they must be")


PART = WebsitePart()
