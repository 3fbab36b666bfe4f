"""The dead-letters page inside Airflow's own API server (its FastAPI app, in this process): a bad submission's
dead letter listed with its payload, reason, attempts and mapping version; replay as a DAG run of the exchange
with ``conf={"replay": [id]}`` which, after the mapping is fixed, delivers it; discard with a reason. Airflow's
login and roles guard it all: no login is a 401, a Viewer reads but may not replay or discard, an Op may."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from hub.state.store import StateStore
from sandbox.crm import create_schema

pytestmark = pytest.mark.airflow

MAPPINGS = Path(__file__).resolve().parent / "dead_letter_mappings"
USERS = {"admin": "ADMIN", "viewer": "VIEWER", "op": "OP"}
PAGE = "/hub/dead-letters"


@pytest.fixture
def mappings(tmp_path: Path) -> Path:
    """A copy of the mappings, so that the test can fix one."""
    return Path(shutil.copytree(MAPPINGS, tmp_path / "mappings"))


@pytest.fixture
def strict_leads(dagbag, airflow_db, hub_env: Path, mappings: Path, tmp_path: Path,
                 monkeypatch: pytest.MonkeyPatch) -> Any:
    crm_url = f"sqlite:///{tmp_path / 'crm.db'}"
    create_schema(crm_url)
    monkeypatch.setenv("HUB_MAPPINGS_DIR", str(mappings))
    monkeypatch.setenv("AIRFLOW_CONN_STRICT_CRM", json.dumps({"conn_type": "hub_crm_db", "extra": {"url": crm_url}}))
    return dagbag().dags["strict_leads"]


@pytest.fixture
def client(strict_leads, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Airflow's API server app with the simple auth manager's users admin, viewer and op."""
    from fastapi.testclient import TestClient

    monkeypatch.setenv("AIRFLOW__API_AUTH__JWT_SECRET", uuid.uuid4().hex)
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS",
                       ",".join(f"{name}:{role.lower()}" for name, role in USERS.items()))
    from airflow.api_fastapi.app import create_app, purge_cached_app

    purge_cached_app()
    with TestClient(create_app()) as test_client:
        yield test_client
    purge_cached_app()


def login(client: Any, user: str) -> dict[str, str]:
    from airflow.configuration import AIRFLOW_HOME

    passwords = json.loads((Path(AIRFLOW_HOME) / "simple_auth_manager_passwords.json.generated").read_text())
    response = client.post("/auth/token", json={"username": user, "password": passwords[user]})
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def submit(hub_env: Path, phone: str) -> str:
    """What the intake service does with a form submission: commit it to the inbox."""
    store = StateStore(f"sqlite:///{hub_env / 'hub.db'}")
    try:
        submission = uuid.uuid4().hex
        store.inbox_put("website", submission, {"submission_id": submission, "form": "callback", "name": "Анна",
                                                "phone": phone})
        return submission
    finally:
        store.close()


def dag_run(run_id: str) -> Any:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        run = session.scalars(sa.select(DagRun).where(DagRun.run_id == run_id)).one()
        session.expunge(run)
        return run


def test_a_dead_letter_is_listed_shown_and_replayed_as_a_run_of_its_exchange(
        strict_leads, client, hub_env: Path, mappings: Path) -> None:
    submission = submit(hub_env, "not a phone")
    strict_leads.test()
    viewer = login(client, "viewer")

    page = client.get(f"{PAGE}/", headers=viewer)
    assert page.status_code == 200 and "Dead letters" in page.text
    listed = client.get(f"{PAGE}/api/letters", params={"exchange": "strict_leads"}, headers=viewer).json()
    [letter] = listed["letters"]
    assert (letter["source_key"], letter["error_class"], letter["attempts"]) == (submission, "DataError", 1)
    assert "no valid phone number" in letter["message"]
    assert {"exchange": "strict_leads", "error_class": "DataError", "count": 1} .items() <= listed["groups"][0].items()
    assert (letter["can_replay"], letter["can_discard"]) == (False, False)  # a Viewer's page greys the buttons
    assert client.get(f"{PAGE}/api/letters", params={"class": "MappingError"}, headers=viewer).json()["letters"] == []
    assert client.get(f"{PAGE}/api/letters", params={"older_than": 60}, headers=viewer).json()["letters"] == []

    shown = client.get(f"{PAGE}/api/letters/{letter['id']}", headers=viewer).json()
    assert shown["payload"]["phone"] == "not a phone" and shown["payload"]["submission_id"] == submission
    assert len(shown["mapping_version"]) > 6

    # the fix: the mapping takes a lead without a phone; the replay runs the exchange's DAG with the letter's id
    path = mappings / "strict_leads.yaml"
    path.write_text(path.read_text().replace("require(phone(phone), 'no valid phone number')", "phone(phone)"))
    op = login(client, "op")
    started = client.post(f"{PAGE}/api/replay", json={"exchange": "strict_leads", "ids": [letter["id"]]}, headers=op)
    assert started.status_code == 201, started.text
    replay = started.json()
    assert replay["url"] == f"dags/strict_leads/runs/{quote(replay['dag_run_id'], safe='')}"
    run = dag_run(replay["dag_run_id"])
    assert (run.dag_id, run.conf, run.triggering_user_name) == ("strict_leads", {"replay": [letter["id"]]}, "op")

    strict_leads.test(run_conf=run.conf)  # what the scheduler runs for that DAG run: its tasks, with its conf
    after = client.get(f"{PAGE}/api/letters/{letter['id']}", headers=viewer).json()
    assert after["status"] == "resolved"
    runs = client.get("/api/v2/dags/strict_leads/dagRuns", headers=viewer).json()["dag_runs"]
    replayed = [r for r in runs if r["conf"] == {"replay": [letter["id"]]} and r["state"] == "success"]
    assert replayed[0]["note"].startswith(f"replay of dead letter #{letter['id']}: strict_leads: success; read 1, "
                                          "create 1")


def test_no_login_is_refused_and_a_viewer_may_not_replay_or_discard(strict_leads, client, hub_env: Path) -> None:
    submit(hub_env, "12")
    strict_leads.test()
    for method, path, body in (("GET", f"{PAGE}/", None), ("GET", f"{PAGE}/api/letters", None),
                               ("POST", f"{PAGE}/api/replay", {"exchange": "strict_leads", "ids": "all"}),
                               ("POST", f"{PAGE}/api/discard", {"ids": [1], "reason": "test"})):
        assert client.request(method, path, json=body).status_code == 401, path
    viewer, op = login(client, "viewer"), login(client, "op")
    [letter] = client.get(f"{PAGE}/api/letters", params={"exchange": "strict_leads"}, headers=viewer).json()["letters"]

    def runs() -> int:
        return client.get("/api/v2/dags/strict_leads/dagRuns", headers=viewer).json()["total_entries"]

    before = runs()
    refused = client.post(f"{PAGE}/api/replay", json={"exchange": "strict_leads", "ids": [letter["id"]]},
                          headers=viewer)
    assert refused.status_code == 403 and "viewer may not replay" in refused.json()["detail"]
    refused = client.post(f"{PAGE}/api/discard", json={"ids": [letter["id"]], "reason": "spam"}, headers=viewer)
    assert refused.status_code == 403
    assert runs() == before  # no replay run was created

    assert client.post(f"{PAGE}/api/discard", json={"ids": [letter["id"]], "reason": ""}, headers=op).status_code == 422
    done = client.post(f"{PAGE}/api/discard", json={"ids": [letter["id"]], "reason": "spam from a bot"}, headers=op)
    assert done.json() == {"discarded": 1}
    shown = client.get(f"{PAGE}/api/letters/{letter['id']}", headers=viewer).json()
    assert (shown["status"], shown["discard_reason"], shown["discarded_by"]) == ("discarded", "spam from a bot", "op")
    assert client.get(f"{PAGE}/api/letters", headers=viewer).json()["letters"] == []  # open ones by default
