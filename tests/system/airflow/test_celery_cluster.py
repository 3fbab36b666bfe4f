"""The hub's DAGs on the distributed topology: CeleryExecutor, PostgreSQL, Redis, two workers, REST API v2.

The CRM connection is created and tested through the REST API, as an operator does in the UI; exchanges are
triggered through the API, woken by asset events right after an inbox commit, and chained by the asset the
upstream exchange produces. The rows they write are read back from the CRM database.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from airflow_hub.topology import BY_NAME
from airflow_hub.wakeup import AirflowRestWaker
from hub.state.store import StateStore
from hub.wakeup import inbox_asset
from sandbox.crm import create_schema

pytestmark = [pytest.mark.system, pytest.mark.airflow, pytest.mark.postgres, pytest.mark.timeout(600)]

RUN_TIMEOUT = 180.0  # seconds before a DAG run that has not finished counts as hung
HEALTH_RETRIES = 5  # docker-compose.yml's healthcheck retries
CRM_PASSWORD = "crm-secret-" + uuid.uuid4().hex[:8]  # the local PostgreSQL trusts; the password must never show


@pytest.fixture(scope="module")
def crm(cluster) -> Iterator[sa.Engine]:
    """The reference CRM schema in its own database, and the Airflow Connection ``crm`` pointing at it."""
    create_schema(cluster.crm_url)
    parts = urlsplit(cluster.crm_url)
    cluster.api.request("POST", "/api/v2/connections", json={
        "connection_id": "crm", "conn_type": "hub_crm_db", "host": parts.hostname, "port": parts.port,
        "login": parts.username, "password": CRM_PASSWORD, "schema": parts.path.lstrip("/"),
        "extra": json.dumps({"dialect": "postgresql"})})
    engine = sa.create_engine(cluster.crm_url.replace("postgresql://", "postgresql+psycopg://"))
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def inbox(cluster) -> Iterator[StateStore]:
    store = StateStore(cluster.deployment.hub_db_url)
    yield store
    store.close()


@pytest.fixture(scope="module")
def unpaused(cluster, crm) -> None:
    for dag_id in ("web_leads", "lead_callbacks", "unreachable_target"):
        cluster.api.set_paused(dag_id, False)


def submit(inbox: StateStore, name: str, phone: str, email: str) -> str:
    """What the intake service does with a form submission: commit it to the inbox."""
    submission = uuid.uuid4().hex
    inbox.inbox_put("website", submission, {"submission_id": submission, "form": "callback", "name": f"  {name} ",
                                            "phone": phone, "email": email, "comment": "перезвоните"})
    return submission


def leads(crm: sa.Engine, refs: list[str]) -> dict[str, dict]:
    with crm.connect() as conn:
        rows = conn.execute(sa.text("SELECT * FROM leads WHERE source_ref = ANY(:refs)"), {"refs": refs}).mappings()
        return {row["source_ref"]: dict(row) for row in rows}


def callback_tasks(crm: sa.Engine, lead_ids: list[int]) -> list[dict]:
    with crm.connect() as conn:
        rows = conn.execute(sa.text("SELECT * FROM tasks WHERE lead_id = ANY(:ids) ORDER BY lead_id"),
                            {"ids": lead_ids}).mappings()
        return [dict(row) for row in rows]


def test_connection_is_tested_by_the_hook_in_the_api_server(cluster, crm) -> None:
    parts = urlsplit(cluster.crm_url)
    body = {"connection_id": "crm_probe", "conn_type": "hub_crm_db", "host": parts.hostname, "port": parts.port,
            "login": parts.username, "schema": parts.path.lstrip("/"), "extra": json.dumps({"dialect": "postgresql"})}
    ok = cluster.api.request("POST", "/api/v2/connections/test", json=body)
    assert ok["status"] is True, ok
    assert "postgresql" in ok["message"]

    wrong = cluster.api.request("POST", "/api/v2/connections/test", json={**body, "schema": "no_such_database"})
    assert wrong["status"] is False
    assert "no_such_database" in wrong["message"] or "does not exist" in wrong["message"]


def test_triggered_run_writes_leads_and_wakes_the_exchange_downstream(cluster, crm, inbox, unpaused) -> None:
    callbacks_before = [run["dag_run_id"] for run in cluster.api.dag_runs("lead_callbacks")]
    refs = [submit(inbox, "Анна", "8 (916) 123-45-67", " Anna@Example.ru"),
            submit(inbox, "Борис", "+7 903 765 43 21", "boris@example.ru")]

    run_id = cluster.api.trigger("web_leads")
    run = cluster.api.wait_for_run("web_leads", run_id, RUN_TIMEOUT)

    assert run["state"] == "success", cluster.logs()
    written = leads(crm, refs)
    assert {ref: (row["name"], row["phone"], row["email"], row["source"]) for ref, row in written.items()} == {
        refs[0]: ("Анна", "+79161234567", "anna@example.ru", "callback"),
        refs[1]: ("Борис", "+79037654321", "boris@example.ru", "callback"),
    }
    summary = cluster.api.xcom("web_leads", run_id, "apply")
    assert (summary["status"], summary["read"], summary["created"], summary["rejected"]) == ("success", 2, 2, 0)
    assert run["note"] == (
        "web_leads: success; read 2, create 2, update 0, delete 0, unchanged 0, filtered 0, skipped 0, "
        "rejected 0 (dead letters +0)")

    # apply produced hub://crm/leads, which lead_callbacks is scheduled on
    downstream = wait_for_new_run(cluster, "lead_callbacks", after=callbacks_before)
    assert downstream["run_type"] == "asset_triggered"
    assert cluster.api.wait_for_run("lead_callbacks", downstream["dag_run_id"], RUN_TIMEOUT)["state"] == "success"
    lead_ids = sorted(row["id"] for row in written.values())
    assert [(t["kind"], t["lead_id"], t["source_ref"]) for t in callback_tasks(crm, lead_ids)] == [
        ("callback", lead_id, f"lead-{lead_id}") for lead_id in lead_ids]

    # the tasks read the connection, password included: no log of any component or task shows it
    logs = [path for path in [*(cluster.home / "logs").rglob("*"), *cluster.home.glob("*.log")] if path.is_file()]
    assert [str(path) for path in logs if CRM_PASSWORD in path.read_text(errors="replace")] == []


def test_event_wakes_its_exchange_within_seconds(cluster, crm, inbox, unpaused, capsys) -> None:
    before = [run["dag_run_id"] for run in cluster.api.dag_runs("web_leads")]
    waker = AirflowRestWaker.from_env({"HUB_AIRFLOW_URL": cluster.deployment.api_url, "HUB_AIRFLOW_USER": "admin",
                                       "HUB_AIRFLOW_PASSWORD": cluster.deployment.admin_password})
    try:
        ref = submit(inbox, "Вера", "8 912 000-11-22", "vera@example.ru")
        committed = time.monotonic()
        waker.wake(inbox_asset("website"))
        woken_in = time.monotonic() - committed
        while not leads(crm, [ref]) and time.monotonic() - committed < RUN_TIMEOUT:
            time.sleep(0.05)
        delay = time.monotonic() - committed
    finally:
        waker.close()

    assert leads(crm, [ref])[ref]["phone"] == "+79120001122"
    run = next(run for run in cluster.api.dag_runs("web_leads") if run["dag_run_id"] not in before)
    assert run["run_type"] == "asset_triggered"
    with capsys.disabled():
        print(f"\n[airflow wake-up] inbox commit -> lead row in the CRM: {delay:.2f} s "
              f"(wake() returned after {woken_in * 1000:.2f} ms)")


def test_a_failed_run_says_why_in_its_note_and_is_not_retried(cluster, unpaused) -> None:
    run_id = cluster.api.trigger("unreachable_target")
    run = cluster.api.wait_for_run("unreachable_target", run_id, RUN_TIMEOUT)

    assert run["state"] == "failed"
    assert run["note"].startswith("unreachable_target: plan failed - ")
    assert "connection 'nowhere' is not defined" in run["note"]
    plan = cluster.api.request("GET", f"/api/v2/dags/unreachable_target/dagRuns/{run_id}/taskInstances/plan")
    assert (plan["state"], plan["try_number"]) == ("failed", 1)  # a configuration error is not retried


def test_both_workers_and_every_health_check_of_the_compose_file_pass(cluster, unpaused) -> None:
    def check(running) -> tuple[str, int, str]:
        """Tried up to HEALTH_RETRIES times, as Docker does: a loaded machine may miss one answer (``celery inspect
        ping`` waits one second for it), a broken check fails every time."""
        for _ in range(HEALTH_RETRIES):
            result = subprocess.run(["bash", "-c", running.component.health], env=running.env, cwd=cluster.home,
                                    capture_output=True, text=True, timeout=120)
            if result.returncode == 0:
                break
            time.sleep(2)
        return running.component.name, result.returncode, result.stdout[-300:] + result.stderr[-300:]

    checked = [r for r in cluster.processes if r.component.health]
    with ThreadPoolExecutor(len(checked)) as pool:
        results = list(pool.map(check, checked))
    assert [(name, code) for name, code, _ in results] == [(r.component.name, 0) for r in checked], results
    names = sorted(r.component.name for r in checked)
    assert names.count("airflow-worker") == BY_NAME["airflow-worker"].replicas == 2


def wait_for_new_run(cluster, dag_id: str, after: list[str]) -> dict:
    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline:
        new = [run for run in cluster.api.dag_runs(dag_id) if run["dag_run_id"] not in after]
        if new:
            return new[0]
        time.sleep(0.5)
    raise AssertionError(f"no new run of {dag_id} within {RUN_TIMEOUT:.0f} s\n{cluster.logs()}")
