"""Exchange DAGs run end to end with ``dag.test()``: against the reference CRM on SQLite (sandbox/crm.py), the
1C simulator over real HTTP, and the in-memory connector; what the operator sees is asserted with the rows."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from hub.state.store import StateStore
from hub.testing.memory import DATABASES, database
from sandbox.crm import create_schema

pytestmark = pytest.mark.airflow

MAPPINGS = Path(__file__).resolve().parent / "mappings"
ITEM = [("BLT-M8", "Болт М8", "10", "12.50")]


def asset_events(uri: str) -> list[dict[str, Any]]:
    """The events on an asset: what schedules the exchanges triggered by it."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        return list(session.scalars(sa.select(AssetEvent.extra).join(AssetModel, AssetEvent.asset_id == AssetModel.id)
                                    .where(AssetModel.uri == uri).order_by(AssetEvent.id)))


def finished_run(dag_id: str) -> dict[str, Any]:
    """The latest run of a DAG as the UI shows it: state, note, and each task's state, tries and return value."""
    from airflow.models.dagrun import DagRun
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        run = session.scalars(sa.select(DagRun).where(DagRun.dag_id == dag_id).order_by(DagRun.id.desc())).first()
        tasks = {ti.task_id: (ti.state, ti.try_number) for ti in run.get_task_instances(session=session)}
        values = {row.task_id: XComModel.deserialize_value(row) for row in session.execute(
            sa.select(XComModel.task_id, XComModel.value).where(XComModel.dag_run_id == run.id,
                                                                XComModel.key == "return_value"))}
        return {"state": run.state, "note": run.note, "tasks": tasks, "returned": values}


@pytest.fixture
def crm_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    create_schema(url)
    return url


@pytest.fixture
def archive() -> Iterator[str]:
    name = f"archive-{uuid.uuid4().hex[:8]}"
    yield name
    DATABASES.pop(name, None)


@pytest.fixture
def exchanges(dagbag, airflow_db, hub_env: Path, crm_url: str, archive: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HUB_MAPPINGS_DIR", str(MAPPINGS))
    monkeypatch.setenv("AIRFLOW_CONN_CRM", json.dumps({"conn_type": "hub_crm_db", "extra": {"url": crm_url}}))
    monkeypatch.setenv("AIRFLOW_CONN_ARCHIVE", f"memory://{archive}")
    return dagbag().dags


def submit(hub_env: Path, name: str, phone: str) -> str:
    """What the intake service does with a form submission: commit it to the inbox."""
    store = StateStore(f"sqlite:///{hub_env / 'hub.db'}")
    try:
        submission = uuid.uuid4().hex
        store.inbox_put("website", submission, {"submission_id": submission, "form": "callback", "name": name,
                                                "phone": phone, "email": f"{submission[:6]}@Example.ru"})
        return submission
    finally:
        store.close()


def test_form_submissions_become_leads_and_the_downstream_exchange_follows(
        exchanges, hub_env: Path, crm_url: str, archive: str) -> None:
    refs = [submit(hub_env, " Анна Петрова ", "8 (916) 123-45-67"), submit(hub_env, "Борис", "+7 903 765-43-21")]

    exchanges["form_leads"].test()

    run = finished_run("form_leads")
    assert run["state"] == "success"
    engine = sa.create_engine(crm_url)
    with engine.connect() as conn:
        leads = {row.source_ref: row for row in conn.execute(sa.text("SELECT * FROM leads"))}
    engine.dispose()
    assert {ref: (leads[ref].name, leads[ref].phone, leads[ref].email) for ref in refs} == {
        refs[0]: ("Анна Петрова", "+79161234567", f"{refs[0][:6]}@example.ru"),
        refs[1]: ("Борис", "+79037654321", f"{refs[1][:6]}@example.ru")}
    applied, planned = run["returned"]["apply"], run["returned"]["plan"]
    assert (planned["mode"], planned["created"], planned["status"]) == ("plan", 2, "success")
    assert {k: applied[k] for k in ("mode", "status", "read", "created", "updated", "unchanged", "rejected",
                                    "dead_letters_added")} == {
        "mode": "apply", "status": "success", "read": 2, "created": 2, "updated": 0, "unchanged": 0, "rejected": 0,
        "dead_letters_added": 0}
    assert run["note"] == "form_leads: success; read 2, create 2, update 0, delete 0, unchanged 0, filtered 0, " \
                          "skipped 0, rejected 0 (dead letters +0)"

    # what the downstream exchanges are told: the asset of the target, with the counts
    [event] = asset_events("hub://crm/leads")
    assert (event["exchange"], event["created"], event["updated"]) == ("form_leads", 2, 0)

    exchanges["leads_to_archive"].test()

    assert finished_run("leads_to_archive")["state"] == "success"
    archived = database(archive).tables["leads"]
    assert sorted(row["phone"] for row in archived) == ["+79037654321", "+79161234567"]

    exchanges["form_leads"].test()  # nothing new in the inbox: nothing is written twice

    again = finished_run("form_leads")["returned"]["apply"]
    assert (again["read"], again["created"]) == (0, 0)
    assert len(asset_events("hub://crm/leads")) == 1  # a run that changed nothing wakes nobody


def test_a_counterparty_crosses_to_the_1c_simulator(dagbag, airflow_db, hub_env: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The project's own mapping (exchange 2) through its DAG, against the 1C simulator over HTTP."""
    from sandbox.onec.world import connection_values, onec_world

    crm_url = f"sqlite:///{tmp_path / 'crm.db'}"
    with onec_world(tmp_path / "world", crm_url) as world:
        for key, value in connection_values(world.sim, crm_url).items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv("HUB_MAPPINGS_DIR", raising=False)  # the project's mappings/
        client = world.crm.client("ООО «Вектор»", "7701234560", "770101001", phone="8 (916) 123-45-67")
        world.crm.deal(client, "shipped", ITEM)
        world.crm.deal(world.crm.client("ООО «Лид»", "7701234578", "770101001"), "new", ITEM)

        dagbag().dags["counterparties_to_1c"].test()

        run = finished_run("counterparties_to_1c")
        created = world.onec("Catalog_Контрагенты", ИНН="7701234560")
    assert run["state"] == "success"
    assert [(c["Description"], c["КПП"]) for c in created] == [("ООО «Вектор»", "770101001")]
    assert (run["returned"]["apply"]["read"], run["returned"]["apply"]["created"]) == (1, 1)
    assert run["note"].startswith("counterparties_to_1c: success; read 1, create 1, update 0")


def test_a_failed_run_says_why_in_its_note_and_a_configuration_error_is_not_retried(exchanges) -> None:
    exchanges["unreachable_target"].test()

    run = finished_run("unreachable_target")
    assert run["state"] == "failed"
    assert run["note"] == ("unreachable_target: plan failed - connection 'nowhere' is not defined: set "
                           "AIRFLOW_CONN_NOWHERE or add it to the file named by HUB_CONNECTIONS_FILE")
    assert run["tasks"] == {"plan": ("failed", 1), "apply": ("upstream_failed", 0)}


def test_a_password_quoted_in_an_error_never_reaches_the_run_s_note(exchanges, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Airflow masks the secrets of the connections a task reads in its log; the note is masked the same way, for
    both Airflow's connections and the hub's connections file."""
    from hub.app import Hub
    from hub.errors import AuthError

    monkeypatch.setenv("AIRFLOW_CONN_NOWHERE", json.dumps({"conn_type": "hub_crm_db", "password": "Pa55-airflow"}))
    connections = tmp_path / "connections.yaml"
    connections.write_text("from_file: {conn_type: hub_website, password: Pa55-from-file}\n")
    monkeypatch.setenv("HUB_CONNECTIONS_FILE", str(connections))

    def plan_with_a_careless_error(hub: Hub, exchange: str, triggered_by: str | None = None) -> None:
        secrets = [hub.resolver.get(conn_id).secret for conn_id in ("nowhere", "from_file")]
        raise AuthError(f"login refused with {' and '.join(secrets)}")  # a connector quoting what it was given

    monkeypatch.setattr(Hub, "plan", plan_with_a_careless_error)

    exchanges["unreachable_target"].test()

    assert finished_run("unreachable_target")["note"] == "unreachable_target: plan failed - login refused with " \
                                                         "*** and ***"


def test_a_value_a_conversion_dropped_is_a_warning_in_the_run_s_note(exchanges, hub_env: Path) -> None:
    submission = submit(hub_env, "Вера", "12")

    exchanges["form_leads"].test()

    run = finished_run("form_leads")
    assert run["state"] == "success"
    assert run["note"].endswith(f"; warnings 1 ({submission}.phone: not a phone number)")
    applied = run["returned"]["apply"]
    assert (applied["created"], applied["warnings"]) == (1, 1)
    assert applied["warning_samples"] == [{"source_key": submission, "field": "phone", "problem": "not a phone number"}]
