"""An operator in a real browser (Debian's headless Chromium, driven by Playwright; no browser download) against
``make airflow``: logs in, sends a bad form to the website intake, finds its dead letter on the *Dead letters*
page, fixes the mapping, replays it and sees the replay as a run of that exchange.

Each question the operator answers is one step, timed from the Airflow home page to the answer on screen
(:class:`Answers`); the times and the screenshots go to a folder (``HUB_SCREENSHOTS`` or a temporary one), and the
times are printed (``pytest -s``) and kept in ``answers.json``. More questions are more steps: write
``def step_<what>(ui: OperatorUi) -> float`` and add it to :data:`QUESTIONS`; a step starts wherever the last one
left the browser, so it begins with ``ui.home()``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from airflow_hub.api import AirflowApi
from sandbox.demo_website import INTAKE_PORT, demo_secret
from sandbox.website import Person, WebsiteSimulator, plain

pytestmark = [pytest.mark.airflow, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[3]
HUB = Path(sys.executable).parent / "hub"
CHROMIUM = Path("/usr/bin/chromium")  # Debian's package (.ci/services installs it)
EXCHANGE = "website_leads"
PIPELINE_TIMEOUT = 240.0  # seconds for a form to become a dead letter, or a replay run to finish (2 busy cores)
NO_CONTACT = "require(submission_key if coalesce(phone(phone), email(email)) else null,"  # website_leads' rule


@dataclass
class Answers:
    """How long each question took, from the Airflow home page to the answer on screen."""

    folder: Path
    seconds: dict[str, float] = field(default_factory=dict)

    def record(self, question: str, seconds: float) -> None:
        self.seconds[question] = round(seconds, 1)
        (self.folder / "answers.json").write_text(json.dumps(self.seconds, ensure_ascii=False, indent=2))


@dataclass
class OperatorUi:
    """The browser, logged in to Airflow, and what the steps share."""

    page: Any  # playwright.sync_api.Page
    url: str
    api: AirflowApi
    airflow: Any  # conftest.RunningAirflow
    mappings: Path
    shots: Path
    facts: dict[str, Any] = field(default_factory=dict)  # what one step found and a later one needs

    def home(self) -> None:
        self.page.goto(self.url + "/")
        self.page.get_by_text("Dags", exact=False).first.wait_for()

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(self.shots / f"{len(list(self.shots.glob('*.png'))):02d}-{name}.png"),
                             full_page=True)

    def dead_letters(self) -> Any:
        """Opens *Dead letters* from the navigation; returns the page's frame."""
        self.page.get_by_role("link", name="Dead letters").first.click()
        frame = self.page.frame_locator("iframe").first
        frame.locator("#letters").wait_for()
        return frame


# -- the steps -------------------------------------------------------------------------------------------

def step_bad_form_is_a_dead_letter(ui: OperatorUi) -> float:
    """A form with neither a phone nor an e-mail: where did it go? (timed from the home page)"""
    name = f"Форма без контактов {uuid.uuid4().hex[:6]}"
    secrets = {"landing": demo_secret("landing")}
    with WebsiteSimulator(ui.airflow.demo_url(INTAKE_PORT), secrets) as site:
        response = site.send(plain(Person(name, None, "not-an-email", "перезвоните"), 4242))
    assert response.status_code == 200 and response.json()["status"] == "accepted", response.text
    ui.facts["name"] = name
    wait_for_dead_letter(ui, name)  # the intake woke the exchange; its run made the dead letter

    started = time.monotonic()
    ui.home()
    frame = ui.dead_letters()
    frame.locator("#f-exchange").select_option(EXCHANGE)
    frame.get_by_role("button", name="Show").click()
    frame.locator("tr.letter", has_text="no usable contact").first.click()
    frame.locator("#d-payload").filter(has_text=name).wait_for()
    elapsed = time.monotonic() - started
    ui.shot("dead-letter")
    detail = frame.locator("#detail").inner_text()
    assert "no usable contact" in detail and "DataError" in detail and name in detail
    assert re.search(r"Attempts\s+1", detail) and re.search(r"Mapping version\s+\w{8,}", detail)
    ui.facts["letter"] = int(frame.locator("#d-title").inner_text().rsplit("#", 1)[1])
    return elapsed


def step_replay_after_a_fix_is_a_run_of_the_exchange(ui: OperatorUi) -> float:
    """The mapping now takes a lead without contacts: replay it; did it arrive? (timed from the home page to the
    replay run's outcome in the exchange's runs, not counting the run itself)"""
    fix_the_mapping(ui)
    letter = ui.facts["letter"]

    started = time.monotonic()
    ui.home()
    frame = ui.dead_letters()
    frame.locator("tr.letter", has_text=f"#{letter}").first.click()
    frame.get_by_role("button", name="Replay").click()
    link = frame.locator("#message a")
    link.wait_for()
    clicking = time.monotonic() - started
    ui.shot("replay-started")
    run_id = link.inner_text().split(" run ", 1)[1]
    assert run_id.startswith("replay__")

    run = ui.api.wait_for_run(EXCHANGE, run_id, PIPELINE_TIMEOUT)  # the scheduler runs plan and apply
    assert run["state"] == "success", run
    started = time.monotonic()
    link.click()  # the run's page in the Airflow UI
    ui.page.get_by_text(f"replay of dead letter #{letter}").first.wait_for()
    looking = time.monotonic() - started
    ui.shot("replay-run")
    ui.page.goto(f"{ui.url}/dags/{EXCHANGE}/runs")
    ui.page.get_by_text(run_id).first.wait_for()
    ui.shot("exchange-runs")
    assert "create 1" in (run.get("note") or ""), run

    ui.home()
    frame = ui.dead_letters()
    frame.locator("#f-status").select_option("resolved")
    frame.get_by_role("button", name="Show").click()
    frame.locator("tr.letter", has_text=f"#{letter}").first.wait_for()
    ui.shot("resolved")
    return clicking + looking


def fix_the_mapping(ui: OperatorUi) -> None:
    """The fix: website_leads takes a lead without contacts too (the task reads the mapping file at run time)."""
    path = ui.mappings / f"{EXCHANGE}.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace(NO_CONTACT, "require(submission_key,"), encoding="utf-8")


def step_discard_with_a_reason(ui: OperatorUi) -> float:
    """The demo's own submission without contacts is a test: discard it, saying why."""
    started = time.monotonic()
    ui.home()
    frame = ui.dead_letters()
    frame.locator("tr.letter", has_text="no usable contact").first.click()
    frame.locator("#discard-reason").fill("a test submission from the demo")
    frame.get_by_role("button", name="Discard").click()
    frame.locator("#message", has_text="Discarded").wait_for()
    frame.locator("#d-status", has_text="a test submission from the demo").wait_for()
    elapsed = time.monotonic() - started
    ui.shot("discarded")
    assert "discarded (by admin: a test submission from the demo)" in frame.locator("#d-status").inner_text()
    return elapsed


def step_cli_replay_is_a_run_in_airflow(ui: OperatorUi) -> float:
    """`hub dead-letters replay` on the server, where Airflow is reachable: the same DAG run as from the page."""
    name = f"Ещё одна форма без контактов {uuid.uuid4().hex[:6]}"
    with WebsiteSimulator(ui.airflow.demo_url(INTAKE_PORT), {"landing": demo_secret("landing")}) as site:
        assert site.send(plain(Person(name, None, None, "тест"), 4343)).status_code == 200
    letter = wait_for_dead_letter(ui, name)
    fix_the_mapping(ui)
    hub_home = ui.airflow.hub_home
    env = {**os.environ, "HUB_HOME": str(hub_home), "HUB_DATABASE_URL": f"sqlite:///{hub_home / 'hub.db'}",
           "HUB_MAPPINGS_DIR": str(ui.mappings), "HUB_AIRFLOW_URL": ui.url, "HUB_AIRFLOW_USER": "admin",
           "HUB_AIRFLOW_PASSWORD": ui.airflow.password}
    started = time.monotonic()
    done = subprocess.run([str(HUB), "dead-letters", "replay", EXCHANGE, str(letter)], env=env, capture_output=True,
                          text=True, timeout=120)
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    run_id = unquote(done.stdout.split(f"{ui.url}/dags/{EXCHANGE}/runs/", 1)[1].split()[0])
    run = ui.api.wait_for_run(EXCHANGE, run_id, PIPELINE_TIMEOUT)
    assert run["state"] == "success" and run["conf"] == {"replay": [letter]}, run
    assert run["note"].startswith(f"replay of dead letter #{letter}: {EXCHANGE}: success; read 1, create 1"), run
    return elapsed


#: the questions, in order; each returns the seconds the operator took to answer it
QUESTIONS: list[tuple[str, Callable[[OperatorUi], float]]] = [
    ("what happened to the bad form", step_bad_form_is_a_dead_letter),
    ("replay from the CLI on the server (command time)", step_cli_replay_is_a_run_in_airflow),  # fixes the mapping
    ("replay after a fix, seen as a run of the exchange", step_replay_after_a_fix_is_a_run_of_the_exchange),
    ("discard a test submission with a reason", step_discard_with_a_reason),
]


# -- plumbing --------------------------------------------------------------------------------------------

def wait_for_dead_letter(ui: OperatorUi, name: str) -> int:
    """The id of the open dead letter whose payload has ``name``, once the exchange has made it."""
    from hub.state.store import StateStore

    store = StateStore(f"sqlite:///{ui.airflow.hub_home / 'hub.db'}")
    try:
        deadline = time.monotonic() + PIPELINE_TIMEOUT
        while not (found := [letter.id for letter in store.dead_letters(EXCHANGE, "open", 1000)
                             if name in letter.payload]):
            assert time.monotonic() < deadline, f"no dead letter for {name!r} after {PIPELINE_TIMEOUT:.0f} s"
            time.sleep(2)
        return found[0]
    finally:
        store.close()


def login(page: Any, url: str, password: str) -> None:
    page.goto(url + "/")
    page.locator("input[name=username]").fill("admin")
    page.locator("input[name=password]").fill(password)
    page.locator("button[type=submit]").click()
    page.get_by_role("link", name="Dead letters").first.wait_for()


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("HUB_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def operator_ui(start_hub_airflow, tmp_path: Path, screenshots: Path) -> Iterator[OperatorUi]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/services does)")
    from playwright.sync_api import sync_playwright

    mappings = Path(shutil.copytree(ROOT / "mappings", tmp_path / "mappings"))
    airflow = start_hub_airflow(mappings)
    with airflow.api() as api, sync_playwright() as playwright:
        api.set_paused(EXCHANGE, False)  # DAGs start paused (--paused): the operator's exchange runs
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(60_000)
            login(page, airflow.url, airflow.password)
            yield OperatorUi(page, airflow.url, api, airflow, mappings, screenshots)
        finally:
            browser.close()


def test_an_operator_answers_from_the_airflow_ui(operator_ui: OperatorUi, screenshots: Path) -> None:
    answers = Answers(screenshots)
    for question, step in QUESTIONS:
        try:
            answers.record(question, step(operator_ui))
        except Exception:
            operator_ui.shot("failed")
            raise
    print(f"\ntime to answer (s), screenshots in {screenshots}:")
    for question, seconds in answers.seconds.items():
        print(f"  {seconds:6.1f}  {question}")
