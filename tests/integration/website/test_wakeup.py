"""After a commit the exchanges reading the stream are woken, once per group and off the request path; a
failing wake-up changes nothing for the sender (the submission is safe in the inbox already)."""

from __future__ import annotations

import threading

import httpx

from connectors.website.server import IntakeService
from sandbox.website import PEOPLE, WebsiteSimulator, tilda

from .conftest import Site, secret


class RecordingWaker:
    def __init__(self, fail: bool = False):
        self.woken: list[str] = []
        self.fail = fail
        self.closed = threading.Event()

    def wake(self, asset_uri: str) -> None:
        self.woken.append(asset_uri)
        if self.fail:
            raise ConnectionError("Airflow is down")

    def close(self) -> None:
        self.closed.set()


def test_a_commit_wakes_the_inbox_stream_and_a_failing_waker_is_harmless(site: Site) -> None:
    for fail in (False, True):
        waker = RecordingWaker(fail=fail)
        with IntakeService(site.hub, ["website_leads"], waker=waker) as intake, \
                WebsiteSimulator(intake.url, {"tilda": secret("tilda")}) as sender:
            answer = sender.send(tilda(PEOPLE[4], 500 + fail))
            duplicate = sender.send(tilda(PEOPLE[4], 500 + fail))
            assert (answer.status_code, answer.json()["status"]) == (200, "accepted")
            assert duplicate.json()["status"] == "duplicate"
            assert httpx.get(intake.url + "/health").status_code == 200
        assert waker.woken == ["hub://inbox/website"]  # woken for the new one, not for the duplicate
        assert waker.closed.is_set()
