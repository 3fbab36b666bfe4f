"""The search page inside Airflow's own API server: a lead found by its phone typed another way than it was
stored, its chain shown by entity with a link to the Airflow run that wrote it; user data escaped; no login is a
401 and a Viewer may search."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.integration.airflow.test_dead_letters_page import client, login, mappings, strict_leads, submit  # noqa: F401 - shared fixtures

pytestmark = pytest.mark.airflow

PAGE = "/hub/search/"


def test_a_viewer_finds_a_lead_by_phone_and_sees_the_run_that_wrote_it(
        strict_leads: Any, client: Any, hub_env: Path) -> None:  # noqa: F811
    submission = submit(hub_env, "+7 495 123-45-67")
    strict_leads.test()
    viewer = login(client, "viewer")

    page = client.get(PAGE, params={"q": "8 (495) 123 45 67"}, headers=viewer)
    assert page.status_code == 200, page.text
    assert "phone +74951234567" in page.text
    assert "<h2>strict_crm/leads</h2>" in page.text and "strict_leads" in page.text
    assert f"hub/website:{submission}" in page.text and "created" in page.text
    run_link = page.text.split('<a class="run" href="', 1)[1].split('"', 1)[0]
    assert run_link.startswith("../../dags/strict_leads/runs/")  # the Airflow run, from /hub/search/

    by_submission = client.get(PAGE, params={"q": submission}, headers=viewer).text
    assert "strict_crm/leads" in by_submission and "phone +74951234567" not in by_submission
    nothing = client.get(PAGE, params={"q": "8 (495) 123 45 67", "entity": "payments"}, headers=viewer).text
    assert "Nothing recorded" in nothing


def test_values_are_escaped_and_no_login_is_refused(strict_leads: Any, client: Any) -> None:  # noqa: F811
    assert client.get(PAGE, params={"q": "+74951234567"}).status_code == 401
    viewer = login(client, "viewer")
    page = client.get(PAGE, params={"q": '<script>alert("x")</script>', "entity": '"><b>x</b>'}, headers=viewer)
    assert page.status_code == 200
    assert "<script>alert" not in page.text and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page.text
    assert "<b>x</b>" not in page.text
