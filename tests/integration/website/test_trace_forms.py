"""A form's chain from what an operator has: the phone as the visitor typed it, the e-mail in any case, the
sender's tranid. form -> lead -> callback task, each step with the Airflow run that wrote it; a form that could
not cross is found too, with its dead letter. Index entries older than the retention period are pruned on the
next run. On a SQLite and on a PostgreSQL hub database."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from hub.testing.databases import postgres_schema
from hub.testing.tracing import airflow_trigger, trace

from .conftest import INTAKE_EXCHANGES, Site, running_site, secret


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def traced_site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Site]:
    crm_url = f"sqlite:///{tmp_path / 'crm.db'}"
    if request.param == "sqlite":
        with running_site(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}", crm_url) as site:
            yield site
        return
    with postgres_schema("hub_trace_forms") as hub_url, running_site(tmp_path, hub_url, crm_url) as site:
        yield site


def run_all(site: Site, first: int) -> None:
    for n, exchange in enumerate(INTAKE_EXCHANGES, first):
        site.hub.run(exchange, airflow_trigger(exchange, n))


def tilda(site: Site, fields: str) -> None:
    answer = site.post(f"/forms/tilda?token={secret('tilda')}", fields.encode(),
                       {"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 200, answer.text


def test_phone_email_and_tranid_find_the_lead_and_its_callback_task(traced_site: Site) -> None:
    site = traced_site
    assert site.send_fixture("tilda_urlencoded").status_code == 200  # +7 (495) 123-45-67, tranid 4561237:8400012345
    run_all(site, 0)
    lead = site.row("leads", source_ref="tilda:id:4561237:8400012345")
    task = site.row("tasks", kind="callback", lead_id=lead["id"])

    for typed in ("8 (495) 123-45-67", "S.Vasiliev@Example.ORG", "4561237:8400012345"):
        result = trace(site.hub, typed)
        assert result.exit_code == 0, (typed, result.output)
        out = result.output
        assert f"website_leads: hub/website:tilda:id:4561237:8400012345 -> crm/leads:{lead['id']}" in out, out
        assert f"website_callback_tasks: crm/leads:{lead['id']} -> crm/tasks:{task['id']}" in out, out
        assert "airflow website_leads manual__2026-12-02T10:02:00+00:00_website_leads" in out, out
        assert "airflow website_callback_tasks manual__2026-12-02T10:03:00+00:00_website_callback_tasks" in out
    assert trace(site.hub, "S.Vasiliev@Example.ORG").output.startswith("email s.vasiliev@example.org:")


def test_a_form_that_could_not_cross_is_found_by_its_tranid_with_its_dead_letter(traced_site: Site) -> None:
    site = traced_site
    tilda(site, "Name=Nobody&Phone=12&tranid=777%3A1&formid=form1")  # no usable phone, no e-mail
    run_all(site, 0)
    result = trace(site.hub, "777:1")
    assert result.exit_code == 0, result.output
    assert "tranid 777:1" in result.output
    assert "dead  #" in result.output and "no usable contact" in result.output, result.output
    assert "manual__2026-12-02T10:02:00+00:00_website_leads" in result.output


def test_entries_older_than_the_retention_period_are_pruned_on_the_next_run(traced_site: Site) -> None:
    site = traced_site
    tilda(site, "Name=Old&Phone=%2B79031112233&tranid=1%3A1&formid=form1")
    run_all(site, 0)
    with site.hub.store.engine.begin() as c:  # 100 days pass (the default retention is 90)
        c.execute(sa.text("UPDATE hub_search_index SET at = :old"), {"old": dt.datetime(2020, 1, 1)})
    tilda(site, "Name=New&Phone=%2B79034445566&tranid=2%3A2&formid=form1")
    run_all(site, 10)
    assert trace(site.hub, "+7 903 111-22-33").exit_code == 1  # pruned: only the keys are left
    assert "nothing recorded for '+7 903 111-22-33'" in trace(site.hub, "+7 903 111-22-33").output
    assert trace(site.hub, "+7 903 444-55-66").exit_code == 0  # written within the period
    assert trace(site.hub, "tilda:id:1:1").exit_code == 0  # the hub's own key still finds the old lead
