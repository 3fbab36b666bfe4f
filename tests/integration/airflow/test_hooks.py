"""Connections: the hub's connection types registered the Airflow way, tested by the hooks against the real
systems (PostgreSQL, SQLite) and the simulators (1C over HTTP, Asterisk AMI over TCP), resolved for tasks from
Airflow Connections, and never showing a password."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_hub.hooks import hook_class, hooks
from airflow_hub.resolver import AirflowConnectionResolver
from hub import registry
from hub.errors import ConfigError
from sandbox.crm import create_schema

pytestmark = pytest.mark.airflow


@pytest.fixture
def crm_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    create_schema(url)
    return url


def test_the_provider_registers_each_connection_type_with_its_hook_and_form(airflow_db: Path) -> None:
    from airflow.providers_manager import ProvidersManager
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    manager = ProvidersManager()
    assert "integration-hub" in manager.providers
    types = {hook.conn_type: hook for hook in hooks()}
    assert set(types) == {"hub_crm_db", "hub_onec_odata", "hub_onec_soap", "hub_asterisk_ami", "hub_website",
                          "hub_files", "hub_rest"}
    assert {ct.conn_type for ct in registry.connection_types()} == set(types)
    for conn_type, hook in types.items():
        info = ProvidersManagerTaskRuntime().hooks[conn_type]
        assert (info.hook_class_name, info.connection_testable) == (f"{hook.__module__}.{hook.__name__}", True)
    assert manager.field_behaviours["hub_crm_db"]["relabeling"] == {"schema": "Database"}
    assert "schema" in manager.field_behaviours["hub_asterisk_ami"]["hidden_fields"]
    assert manager.connection_form_widgets["extra__hub_crm_db__dialect"].field["schema"]["enum"][:2] == [
        "postgresql", "mysql"]
    assert [p.plugin_class for p in manager.plugins] == ["airflow_hub.notes.HubRunNotesPlugin",
                                                         "airflow_hub.ui.plugin.HubOperationsPlugin"]


def test_the_test_button_runs_the_connector_check(airflow_db: Path, crm_url: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """What the API server does for the UI's Test button: the form's connection exported as AIRFLOW_CONN_<ID>,
    the hook found by conn_type, then its test_connection()."""
    from airflow.models import Connection

    good = Connection(conn_id="crm_form", conn_type="hub_crm_db", extra=json.dumps({"url": crm_url}))
    broken = Connection(conn_id="crm_typo", conn_type="hub_crm_db", extra=json.dumps({"dialect": "oracle"}))
    for form in (good, broken):
        monkeypatch.setenv(f"AIRFLOW_CONN_{form.conn_id.upper()}", form.get_uri())

    status, message = good.test_connection()
    assert status is True and message.startswith("crm_form (hub_crm_db): connected to sqlite"), message
    status, message = broken.test_connection()
    assert status is False and "set extra.dialect to one of" in message


def test_a_crm_database_that_refuses_fails_the_test_without_showing_the_password(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_CRM_MISSING",
                       "hub-crm-db://postgres:Pa55-never-shown@127.0.0.1:5432/no_such_database?dialect=postgresql")

    ok, message = hook_class("hub_crm_db")("crm_missing").test_connection()

    assert ok is False
    assert "no_such_database" in message
    assert "Pa55-never-shown" not in message


def test_the_1c_hook_logs_in_to_the_simulator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sandbox.onec.server import OneCSimulator

    with OneCSimulator(tmp_path / "onec.db").start() as sim:
        monkeypatch.setenv("AIRFLOW_CONN_ONEC_OK", json.dumps(sim.connection("odata")))
        monkeypatch.setenv("AIRFLOW_CONN_ONEC_BAD", json.dumps(sim.connection("odata", password="Неверный-пароль")))

        hook = hook_class("hub_onec_odata")
        good = hook("onec_ok").test_connection()
        bad = hook("onec_bad").test_connection()

    assert good[0] is True, good
    assert bad[0] is False and "Неверный-пароль" not in bad[1]


def test_the_ami_hook_logs_in_to_the_pbx_simulator(monkeypatch: pytest.MonkeyPatch) -> None:
    from sandbox.ami.server import SimulatorThread

    with SimulatorThread(username="hub", secret="ami-secret-1") as pbx:
        for conn_id, secret in (("pbx_ok", "ami-secret-1"), ("pbx_bad", "wrong-secret-2")):
            monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({
                "conn_type": "hub_asterisk_ami", "host": "127.0.0.1", "port": pbx.port, "login": "hub",
                "password": secret, "extra": {"cdr_timezone": "Europe/Moscow"}}))

        hook = hook_class("hub_asterisk_ami")
        good = hook("pbx_ok").test_connection()
        bad = hook("pbx_bad").test_connection()

    assert good[0] is True, good
    assert bad[0] is False and "wrong-secret-2" not in bad[1]


def test_tasks_get_the_airflow_connection_then_the_hub_s_own_sources(
        airflow_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Through Airflow (here its AIRFLOW_CONN_* form; a Connection saved in the UI is covered by
    tests/system/airflow, where Celery tasks use one), else the connections file, else the built-in ``hub``."""
    monkeypatch.setenv("AIRFLOW_CONN_CRM_JSON", json.dumps({
        "conn_type": "hub_crm_db", "host": "crm.internal", "port": 5432, "login": "hub", "password": "json-secret",
        "schema": "crm", "extra": {"dialect": "postgresql"}}))
    monkeypatch.setenv("AIRFLOW_CONN_ONEC_URI", "hub-onec-odata://exchange:uri%2Fsecret@1c.internal:80/buh")
    connections_file = tmp_path / "connections.yaml"
    connections_file.write_text("website_tilda: {conn_type: hub_website, password: file-secret}\n")
    resolver = AirflowConnectionResolver(connections_file)

    from_json, from_uri, from_file = (resolver.get(c) for c in ("crm_json", "onec_uri", "website_tilda"))

    assert (from_json.conn_type, from_json.host, from_json.port, from_json.schema_, from_json.extra,
            from_json.secret) == ("hub_crm_db", "crm.internal", 5432, "crm", {"dialect": "postgresql"}, "json-secret")
    assert (from_uri.conn_type, from_uri.login, from_uri.secret) == ("hub_onec_odata", "exchange", "uri/secret")
    assert (from_file.conn_type, from_file.secret) == ("hub_website", "file-secret")
    assert "json-secret" not in repr(from_json)
    assert resolver.get("hub").conn_type == "hub_state"  # the hub's own database, built in
    with pytest.raises(ConfigError, match="connection 'nowhere' is not defined"):
        resolver.get("nowhere")


def test_the_test_button_names_the_connection_and_the_cause(airflow_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The API server's own Test route (it tests the form under a random id): the answer names the stored
    connection the form is, and why it failed."""
    import socket

    from airflow.api_fastapi.app import create_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from airflow.api_fastapi.core_api.datamodels.connections import ConnectionBody
    from airflow.api_fastapi.core_api.routes.public.connections import test_connection
    from airflow.models import Connection
    from airflow.utils.session import create_session

    monkeypatch.setenv("AIRFLOW__CORE__TEST_CONNECTION", "Enabled")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed once the block ends: connections are refused
    with create_session() as session:
        session.add(Connection(conn_id="onec_button", conn_type="hub_onec_odata", host="127.0.0.1", port=port,
                               schema="buh", login="exchange", password="Pa55-button"))
    form = ConnectionBody(connection_id="onec_button", conn_type="hub_onec_odata", host="127.0.0.1", port=port,
                          schema="buh", login="exchange")
    try:
        answer = test_connection(form, SimpleAuthManagerUser(username="admin", role="admin"), create_auth_manager())
    finally:
        with create_session() as session:
            session.query(Connection).filter(Connection.conn_id == "onec_button").delete()

    assert answer.status is False
    assert answer.message.startswith(f"connection refused by 127.0.0.1:{port}: connection 'onec_button' "
                                     f"(hub_onec_odata at 127.0.0.1:{port}): "), answer.message
    assert "Pa55-button" not in answer.message
