"""Website submissions into a CRM kept in Firebird (a WIN1251 database, as older Russian CRMs have): every
format becomes one lead matched to its client, with the Cyrillic names exactly as sent, and a callback task."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hub.testing.databases import firebird_database

from .conftest import FIXTURES, Site, running_site

pytestmark = pytest.mark.firebird


@pytest.fixture(scope="module")
def fb_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    home = tmp_path_factory.mktemp("firebird")
    with firebird_database("crm_website", charset="WIN1251") as crm_url, \
            running_site(home, f"sqlite:///{home / 'hub.db'}", crm_url) as site:
        yield site


def test_every_fixture_becomes_one_lead_with_its_cyrillic_name_exactly(fb_site: Site) -> None:
    names = sorted(path.stem for path in FIXTURES.glob("*.http"))
    answers = [fb_site.send_fixture(name) for name in names * 2]  # each twice: the second is a duplicate
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers if a.status_code != 200]
    keys = {a.json()["key"] for a in answers}
    assert len(keys) == len(names)
    fb_site.run()
    leads = {lead["source_ref"]: lead for lead in fb_site.rows("leads") if lead["source_ref"] in keys}
    assert set(leads) == keys
    by_name = {lead["name"]: lead for lead in leads.values()}
    assert by_name["Сергей Васильев"]["client_id"] == fb_site.clients["romashka"]
    assert by_name["Пётр Петров"]["manager_id"] == 4
    assert len(fb_site.rows("tasks", kind="callback")) >= len(keys)
    written = len(fb_site.rows("leads"))
    again = fb_site.run()
    assert all(r.counts.created == r.counts.updated == 0 for r in again)
    assert len(fb_site.rows("leads")) == written
