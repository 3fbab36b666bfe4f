"""The intake's /metrics, over real HTTP: its answers counted by form source and status, for Prometheus."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from connectors.website.server import IntakeService
from sandbox.website import PEOPLE, WebsiteSimulator, tilda

from .conftest import Site, secret


def intake_answers(url: str) -> dict[tuple[str, str], float]:
    response = httpx.get(url + "/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    return {(sample.labels["source"], sample.labels["status"]): sample.value
            for family in text_string_to_metric_families(response.text) if family.name == "hub_intake_requests"
            for sample in family.samples if sample.name == "hub_intake_requests_total"}


def test_intake_answers_are_counted_by_source_and_status(site: Site) -> None:
    with IntakeService(site.hub, ["website_leads"]) as intake:
        before = intake_answers(intake.url)
        with WebsiteSimulator(intake.url, {"tilda": secret("tilda")}) as sender:
            assert sender.send(tilda(PEOPLE[2], 900)).status_code == 200
            assert sender.send(tilda(PEOPLE[2], 900)).status_code == 200  # a duplicate is answered 200 too
        with WebsiteSimulator(intake.url, {"tilda": "not-the-secret"}) as stranger:
            refused = stranger.send(tilda(PEOPLE[3], 901)).status_code
        httpx.get(intake.url + "/health")  # the service's own endpoints are not form requests

        after = intake_answers(intake.url)

    changed = {key: after[key] - before.get(key, 0) for key in after if after[key] != before.get(key, 0)}
    assert refused in (401, 403)
    assert changed == {("tilda", "200"): 2, ("tilda", str(refused)): 1}
