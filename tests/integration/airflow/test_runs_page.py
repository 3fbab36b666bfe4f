"""The hub's runs page inside Airflow's own API server: a run that rejected a record is marked PARTIAL (Airflow
shows it green) and links to its Airflow run; values escaped; no login is a 401 and a Viewer may read it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.integration.airflow.test_dead_letters_page import client, login, mappings, strict_leads, submit  # noqa: F401 - shared fixtures

pytestmark = pytest.mark.airflow

PAGE = "/hub/runs/"


def test_a_viewer_sees_the_run_that_rejected_a_record_marked_with_its_airflow_run(
        strict_leads: Any, client: Any, hub_env: Path) -> None:  # noqa: F811
    submit(hub_env, "+7 495 123-45-67")
    submit(hub_env, "not a phone")
    run = strict_leads.test()
    assert run.state == "success"  # green in Airflow's own list
    viewer = login(client, "viewer")

    page = client.get(PAGE, headers=viewer)
    assert page.status_code == 200, page.text
    rows = re.findall(r'<tr class="[a-z]*">.*?</tr>', page.text)
    apply = next(row for row in rows if "strict_leads</a> apply<" in row)
    assert apply.startswith('<tr class="marked">'), apply
    assert '<td class="status">PARTIAL, rejected 1 of 2</td>' in apply and "dead letters added 1" in apply
    assert f'href="../../dags/strict_leads/runs/{quote(run.run_id, safe="")}">{run.run_id}</a>' in apply
    plan = next(row for row in rows if "strict_leads</a> plan<" in row)  # what apply would reject: marked too
    assert plan.startswith('<tr class="marked">') and "PARTIAL, rejected 1 of 2" in plan, plan


def test_no_login_is_refused_and_values_are_escaped(strict_leads: Any, client: Any) -> None:  # noqa: F811
    assert client.get(PAGE).status_code == 401
    viewer = login(client, "viewer")
    page = client.get(PAGE, params={"exchange": '"><script>alert(1)</script>'}, headers=viewer)
    assert page.status_code == 200
    assert "<script>alert(1)" not in page.text and "No runs." in page.text
