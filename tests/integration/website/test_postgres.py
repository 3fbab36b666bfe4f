"""The same path with PostgreSQL as the hub database (production) and as the CRM: concurrent submissions of
every format are group-committed to the inbox once each and become leads matched to their clients."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from hub.testing.databases import postgres_schema, schema_of
from sandbox.website import BUILDERS, FORMATS_IN_ORDER, PEOPLE, WebsiteSimulator

from .conftest import FIXTURES, SOURCES, Site, running_site, secret

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def pg_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with postgres_schema("hub_website") as hub_url, postgres_schema("crm_website") as crm_url:
        schema = schema_of(crm_url)
        with running_site(tmp_path_factory.mktemp("pg"), hub_url, crm_url, schema) as site:
            yield site


def test_every_fixture_sent_concurrently_becomes_one_lead(pg_site: Site) -> None:
    names = sorted(path.stem for path in FIXTURES.glob("*.http"))
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(pg_site.send_fixture, names * 2))  # each twice, at the same time
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers if a.status_code != 200]
    keys = {a.json()["key"] for a in answers}
    assert len(keys) == len(names)
    assert sorted(a.json()["status"] for a in answers).count("accepted") == len(names)
    pg_site.run()
    leads = {lead["source_ref"]: lead for lead in pg_site.rows("leads") if lead["source_ref"] in keys}
    assert set(leads) == keys
    by_name = {lead["name"]: lead for lead in leads.values()}
    assert by_name["Сергей Васильев"]["client_id"] == pg_site.clients["romashka"]
    assert by_name["Пётр Петров"]["manager_id"] == 4
    assert len(pg_site.rows("tasks", kind="callback")) >= len(keys)


def test_a_burst_is_group_committed_exactly_once_per_submission(pg_site: Site) -> None:
    posts = [BUILDERS[FORMATS_IN_ORDER[n % 11]](PEOPLE[n % 11], 1000 + n) for n in range(200)]
    before = pg_site.inbox_count()

    def send(share: list) -> list[tuple[int, str | None]]:
        with WebsiteSimulator(pg_site.url, {s: secret(s) for s in SOURCES}) as simulator:
            answers = [simulator.send(post) for post in share]
        return [(a.status_code, a.json().get("key")) for a in answers]

    with ThreadPoolExecutor(8) as pool:
        answers = [a for chunk in pool.map(send, [posts[n::8] + posts[:5] for n in range(8)]) for a in chunk]
    assert {status for status, _ in answers} <= {200, 429}  # 429: the per-address rate limit, never a 5xx
    stored = {key for status, key in answers if status == 200}
    assert len(stored) > 100
    assert pg_site.inbox_count() - before == len(stored)  # one row per distinct submission, however often sent
