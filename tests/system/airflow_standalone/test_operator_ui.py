"""An operator in a real browser (Debian's headless Chromium, driven by Playwright; no browser download) against
``make airflow``: logs in, sends a bad form to the website intake, finds its dead letter on the *Dead letters*
page, fixes the mapping, replays it and sees the replay as a run of that exchange; on the *Search* page finds a
lead by its phone number (said another way than the form had it) and a payment by its number in 1C, each with its
chain and the Airflow runs that wrote it; and finds the run that rejected the bad form marked PARTIAL on *Hub runs*
(Airflow shows it green) and, in Airflow's own runs list, in the note behind its *Note* button.

Each question the operator answers is one step, timed from the Airflow home page to the answer on screen
(:class:`Answers`); the times and the screenshots go to a folder (``HUB_SCREENSHOTS`` or a temporary one), and the
times are printed (``pytest -s``) and kept in ``answers.json``. More questions are more steps: write
``def step_<what>(ui: OperatorUi) -> float`` and add it to :data:`QUESTIONS`; a step starts wherever the last one
left the browser, so it begins with ``ui.home()``.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
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
CALLBACKS = "website_callback_tasks"  # a call-back task for every new lead
SALE = "Document_РеализацияТоваровУслуг"  # the sales documents realizations_to_1c creates
BANK_RECEIPT = "Document_ПоступлениеНаРасчетныйСчет"
#: the exchanges that bring the demo's 1C bank receipts into the CRM, upstream first (each group runs at once)
ONEC_CHAIN = [("counterparties_to_1c", "nomenclature_to_1c"), ("contracts_to_1c",), ("realizations_to_1c",),
              ("payments_from_1c",), ("invoices_paid_from_1c",)]


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

    def search(self, value: str) -> Any:
        """Opens *Search* from the navigation and searches ``value``; returns the page's frame."""
        self.page.get_by_role("link", name="Search", exact=True).first.click()
        frame = self.page.frame_locator("iframe").first
        frame.locator("input[name=q]").fill(value)
        frame.get_by_role("button", name="Search").click()
        frame.locator("#answer > p").wait_for()
        return frame

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


def step_find_a_lead_by_phone(ui: OperatorUi) -> float:
    """A customer calls: "I left my number on your site" and says it another way than they typed it. Is there a
    lead, and did a manager get the call-back task? (timed from the home page to the chain on the *Search* page)"""
    ui.api.set_paused(CALLBACKS, False)  # the lead's call-back task is the next exchange's (asset-triggered)
    d = f"{random.randrange(10**7):07d}"  # a number no one in the demo's CRM has
    typed, said, e164 = f"+7 912 {d[:3]}-{d[3:5]}-{d[5:]}", f"8 (912) {d[:3]}-{d[3:5]}-{d[5:]}", f"+7912{d}"
    name = f"Перезвоните мне {uuid.uuid4().hex[:6]}"
    with WebsiteSimulator(ui.airflow.demo_url(INTAKE_PORT), {"landing": demo_secret("landing")}) as site:
        assert site.send(plain(Person(name, typed, None, "перезвоните"), 4444)).status_code == 200
    lead, task = wait_for_callback_task(ui, e164)

    started = time.monotonic()
    ui.home()
    frame = ui.search(said)
    frame.locator("p.found", has_text=f"phone {e164}").wait_for()
    frame.locator("h2", has_text="crm/tasks").wait_for()
    elapsed = time.monotonic() - started
    ui.shot("lead-by-phone")
    answer = frame.locator("#answer").inner_text()
    assert [h.inner_text() for h in frame.locator("h2").all()] == ["crm/leads", "crm/tasks"], answer
    assert re.search(rf"{EXCHANGE}\s+hub/website:\S+ → {lead}\s+\S+ \S+ created", answer), answer
    assert re.search(rf"{CALLBACKS}\s+crm/leads:{lead} → {task}\s+\S+ \S+ created", answer), answer
    for exchange in (EXCHANGE, CALLBACKS):  # each step links to the Airflow run that wrote it
        assert frame.locator(f'a.run[href*="dags/{exchange}/runs/"]').count() >= 1, exchange
    link = frame.locator(f'a.run[href*="dags/{EXCHANGE}/runs/"]').first
    run_id = link.inner_text()
    link.click()  # ... and the link opens that run in the Airflow UI, with its note
    ui.page.get_by_text(f"{EXCHANGE}: success; read").first.wait_for()
    assert unquote(ui.page.url).endswith(f"/dags/{EXCHANGE}/runs/{run_id}"), ui.page.url
    ui.shot("lead-run")
    return elapsed


def step_find_a_payment_by_its_1c_number(ui: OperatorUi) -> float:
    """An accountant asks about a bank receipt by its number in 1C: which CRM payment, deal, sales document and
    invoice is it? (the exchanges of 1C run first, not counted; timed from the home page to the chain on screen)"""
    for group in ONEC_CHAIN:  # what the scheduler would have done by now, as DAG runs in Airflow
        run_exchanges(ui, group)
    number = first_bank_receipt(ui)

    started = time.monotonic()
    ui.home()
    frame = ui.search(number.lower())  # as typed, in whatever case: document numbers are kept upper case
    frame.locator("p.found", has_text=f"document {number}").wait_for()
    frame.locator("h2", has_text="crm/invoices").wait_for()
    elapsed = time.monotonic() - started
    ui.shot("payment-by-1c-number")
    answer = frame.locator("#answer").inner_text()
    groups = [h.inner_text() for h in frame.locator("h2").all()]
    assert {"crm/payments", f"onec/{SALE}", "crm/invoices"} <= set(groups), answer
    assert re.search(r"payments_from_1c\s+onec/Document_ПоступлениеНаРасчетныйСчет:\S+ → \d+\s+\S+ \S+ created",
                     answer), answer
    assert re.search(r"realizations_to_1c\s+crm/deals:\d+ → \S+\s+\S+ \S+ created", answer), answer
    assert re.search(r"invoices_paid_from_1c\s+crm/invoices:\d+ → \d+\s+\S+ \S+ updated", answer), answer
    for exchange in ("payments_from_1c", "realizations_to_1c", "invoices_paid_from_1c"):
        assert frame.locator(f'a.run[href*="dags/{exchange}/runs/"]').count() >= 1, exchange
    return elapsed


def step_a_rejected_records_run_is_marked_in_hub_runs(ui: OperatorUi) -> float:
    """Which run turned the bad form into a dead letter? The hub's runs list marks it, although Airflow shows it
    green. (timed from the home page to the marked run on *Hub runs*; then its link opens the Airflow run)"""
    run_id = run_of_dead_letter(ui, ui.facts["letter"])
    started = time.monotonic()
    ui.home()
    ui.page.get_by_role("link", name="Hub runs").first.click()
    frame = ui.page.frame_locator("iframe").first
    row = frame.locator("tr.marked", has_text=run_id).filter(has_text=f"{EXCHANGE} apply")  # (its plan is too)
    row.wait_for()
    elapsed = time.monotonic() - started
    row.scroll_into_view_if_needed()  # (older runs are further down the list)
    ui.shot("partial-run-in-hub-runs")
    text = row.inner_text()
    assert re.search(rf"{EXCHANGE} apply\s.*\sPARTIAL, rejected (\d+) of \d+\s.*rejected \1, dead letters added \1",
                     text), text
    row.locator("a.run").click()
    ui.page.get_by_text(f"{EXCHANGE}: PARTIAL, rejected").first.wait_for()  # the run's note, on its Airflow page
    assert unquote(ui.page.url).endswith(f"/dags/{EXCHANGE}/runs/{run_id}"), ui.page.url
    ui.shot("partial-run")
    return elapsed


def step_a_rejected_records_run_is_marked(ui: OperatorUi) -> float:
    """The same run in Airflow's own runs list: green, like every other; its note, behind the list's *Note*
    button, says PARTIAL. (timed from the home page to that note)"""
    run_id = run_of_dead_letter(ui, ui.facts["letter"])
    started = time.monotonic()
    ui.home()
    ui.page.get_by_role("link", name="Dags").first.click()
    ui.page.get_by_role("link", name=re.compile(rf"^{EXCHANGE}")).first.click()
    ui.page.locator(f'a[href$="/dags/{EXCHANGE}/runs"]').first.click()
    row = ui.page.locator("tr", has_text=run_id.split("+", 1)[0])  # the list cuts long run ids
    row.get_by_role("button", name="Note").click()
    note = ui.page.get_by_role("dialog")
    note.get_by_text("PARTIAL, rejected").first.wait_for()
    elapsed = time.monotonic() - started
    ui.shot("partial-run-note")
    text = note.inner_text()  # the bad form (and whatever else that run read: the demo's forms) ...
    assert re.search(rf"{EXCHANGE}: PARTIAL, rejected (\d+) of \d+; read \d+, .*rejected \1 \(dead letters \+\1\)",
                     text), text
    ui.page.keyboard.press("Escape")
    note.wait_for(state="hidden")
    row.scroll_into_view_if_needed()
    ui.shot("partial-run-in-list")
    assert "Success" in row.inner_text()  # ... while Airflow's own state is green: hence the marker in the note
    return elapsed


#: the questions, in order; each returns the seconds the operator took to answer it
QUESTIONS: list[tuple[str, Callable[[OperatorUi], float]]] = [
    ("what happened to the bad form", step_bad_form_is_a_dead_letter),
    ("replay from the CLI on the server (command time)", step_cli_replay_is_a_run_in_airflow),  # fixes the mapping
    ("replay after a fix, seen as a run of the exchange", step_replay_after_a_fix_is_a_run_of_the_exchange),
    ("discard a test submission with a reason", step_discard_with_a_reason),
    ("find a lead by phone number, with its call-back task", step_find_a_lead_by_phone),
    ("find a payment by its 1C document number, with its deal, sale and invoice", step_find_a_payment_by_its_1c_number),
    ("a run that rejected records, marked on Hub runs", step_a_rejected_records_run_is_marked_in_hub_runs),
    ("the same run in Airflow's runs list (its Note button)", step_a_rejected_records_run_is_marked),
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


@contextlib.contextmanager
def hub_state(ui: OperatorUi) -> Iterator[Any]:
    """The hub's state database of the running Airflow (the runs, records and search index its tasks wrote)."""
    from hub.state.store import StateStore

    store = StateStore(f"sqlite:///{ui.airflow.hub_home / 'hub.db'}")
    try:
        yield store
    finally:
        store.close()


def wait_for_callback_task(ui: OperatorUi, e164: str) -> tuple[str, str]:
    """The lead with this phone and its call-back task, once both exchanges' runs have written them."""
    from hub.state import records

    deadline = time.monotonic() + PIPELINE_TIMEOUT
    with hub_state(ui) as store:
        while True:
            leads = [row.target_key for row in store.search_by_value([("phone", e164)])
                     if row.exchange == EXCHANGE and row.target_key]
            tasks = [r.target_key for r in records.by_source_key(store.engine, [CALLBACKS], leads[0])
                     if r.target_key] if leads else []
            if tasks:
                return leads[0], tasks[0]
            assert time.monotonic() < deadline, f"no lead and call-back task for {e164} after {PIPELINE_TIMEOUT:.0f} s"
            time.sleep(2)


def run_exchanges(ui: OperatorUi, exchanges: tuple[str, ...]) -> None:
    """Unpauses and triggers these exchanges' DAGs together; waits for the runs to succeed."""
    runs = {}
    for exchange in exchanges:
        ui.api.set_paused(exchange, False)
        runs[exchange] = ui.api.trigger(exchange)
    for exchange, run_id in runs.items():
        run = ui.api.wait_for_run(exchange, run_id, PIPELINE_TIMEOUT)
        assert run["state"] == "success", run


def first_bank_receipt(ui: OperatorUi) -> str:
    """The number of the first bank receipt in the demo's 1C that pays a CRM invoice (sandbox/demo_onec.py: the
    accountant typed it before the hub was switched on; its purpose names the invoice)."""
    from sandbox.onec.store import ObjectStore

    onec = ObjectStore(ui.airflow.hub_home / "onec.db")
    try:
        return min(doc["Number"] for doc in onec.find(BANK_RECEIPT, Posted=True, ВидОперации="ОплатаПокупателя")
                   if doc["НазначениеПлатежа"].startswith("Оплата по счету №"))
    finally:
        onec.close()


def run_of_dead_letter(ui: OperatorUi, letter: int) -> str:
    """The Airflow run id of the run that made this dead letter."""
    from hub.search.trace import airflow_run_id

    with hub_state(ui) as store:
        found = store.dead_letters(EXCHANGE, None, 1, ids=[letter])
        run = store.run(found[0].run_id)
    run_id = airflow_run_id(run.triggered_by if run else None)
    assert run_id, (found, run)
    return run_id


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
