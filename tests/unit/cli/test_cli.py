"""The ``hub`` command line, driven in-process: exit codes, messages that name file and line, and the
history commands (runs, dead letters, trace) reading what runs recorded."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.cli import app
from hub.testing.memory import DATABASES, database

MAPPING = """\
exchange: clients_copy
description: copy clients
schedule: "@hourly"
source: {connector: memory, connection: src, stream: clients, key: id}
target: {connector: memory, connection: dst, entity: companies, match: [inn]}
fields:
  name: trim(name)
  inn: require(inn, 'client has no INN')
"""


@pytest.fixture
def hub_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    (mappings / "clients_copy.yaml").write_text(MAPPING, encoding="utf-8")
    monkeypatch.setenv("HUB_MAPPINGS_DIR", str(mappings))
    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite:///{tmp_path / 'hub.db'}")
    monkeypatch.setenv("AIRFLOW_CONN_SRC", "memory://cli-src")
    monkeypatch.setenv("AIRFLOW_CONN_DST", "memory://cli-dst")
    monkeypatch.setenv("COLUMNS", "250")  # wide enough for the tables
    database("cli-dst").tables["companies"] = []
    database("cli-src").tables["clients"] = [
        {"id": 1, "name": " Alpha ", "inn": "7707083893"},
        {"id": 2, "name": "Beta", "inn": None},
        {"id": 3, "name": "Gamma", "inn": "5024089920"},
    ]
    yield mappings
    DATABASES.pop("cli-src", None)
    DATABASES.pop("cli-dst", None)


def invoke(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def test_validate_accepts_a_good_mapping(hub_env: Path) -> None:
    result = invoke("validate")
    assert result.exit_code == 0, result.output
    assert "1 mapping file(s) valid" in result.output


def test_validate_names_file_line_and_field_of_each_problem(hub_env: Path) -> None:
    bad = hub_env / "broken.yaml"
    bad.write_text(MAPPING.replace("clients_copy", "broken").replace("trim(name)", "name.__class__")
                   .replace("  inn: require", "  inn: requir"), encoding="utf-8")
    result = invoke("validate", "--offline", str(bad))
    assert result.exit_code == 1
    assert f"{bad}:7: fields.name:" in result.output
    assert "may not start with '_'" in result.output


def test_validate_reports_fields_the_source_does_not_have(hub_env: Path) -> None:
    (hub_env / "clients_copy.yaml").write_text(MAPPING.replace("trim(name)", "trim(full_name)"), encoding="utf-8")
    result = invoke("validate")
    assert result.exit_code == 1
    assert "clients_copy.yaml:7: fields.name: source stream 'clients' has no field 'full_name'" in result.output


def test_run_then_history_dead_letters_and_trace(hub_env: Path) -> None:
    plan = invoke("plan", "clients_copy")
    assert plan.exit_code == 0 and "would create 2" in plan.output
    run = invoke("run", "clients_copy")
    assert run.exit_code == 0, run.output
    assert "create 2" in run.output and "rejected 1" in run.output
    assert "hub dead-letters list --exchange clients_copy" in run.output

    runs = invoke("runs")
    assert "clients_copy" in runs.output and "apply" in runs.output and "plan" in runs.output

    letters = invoke("dead-letters", "list")
    assert "client has no INN" in letters.output
    shown = invoke("dead-letters", "show", "1")
    assert '"name": "Beta"' in shown.output

    traced = invoke("trace", "1")
    assert "key map" in traced.output and "write" in traced.output

    discarded = invoke("dead-letters", "discard", "1")
    assert "discarded 1" in discarded.output
    assert "client has no INN" not in invoke("dead-letters", "list").output


def test_forget_frees_a_merged_records_object_for_the_record_that_replaces_it(hub_env: Path) -> None:
    clients = database("cli-src").tables["clients"]
    del clients[1]  # the client without an INN: only the duplicate is rejected below
    assert invoke("run", "clients_copy").exit_code == 0
    clients[0] = {"id": 4, "name": "Alpha merged", "inn": "7707083893"}  # client 1 merged into a new record 4
    refused = invoke("run", "clients_copy")
    assert "rejected 1" in refused.output
    letter = " ".join(invoke("dead-letters", "show", "1").output.split())  # as one line, however it wraps
    assert "source record 1 has the same inn" in letter and "hub forget clients_copy 1" in letter

    forgot = invoke("forget", "clients_copy", "1", "no-such-key")
    assert forgot.exit_code == 0 and "forgot 1 of 2 source record(s) of clients_copy" in forgot.output
    replayed = invoke("dead-letters", "replay", "clients_copy")
    assert replayed.exit_code == 0 and "update 1" in replayed.output, replayed.output
    names = sorted(row["name"] for row in database("cli-dst").tables["companies"])
    assert names == ["Alpha merged", "Gamma"]


def test_forget_refuses_an_unknown_exchange(hub_env: Path) -> None:
    result = CliRunner().invoke(app, ["forget", "nope", "1"])
    assert result.exit_code == 2 and "no exchange 'nope'" in result.output


def test_unknown_exchange_is_a_configuration_error(hub_env: Path) -> None:
    result = CliRunner().invoke(app, ["run", "nope"])
    assert result.exit_code == 2
    assert "no exchange 'nope'" in result.output and "clients_copy" in result.output


def test_missing_connection_is_reported_without_secrets(hub_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_DST")
    result = CliRunner().invoke(app, ["run", "clients_copy"])
    assert result.exit_code == 2
    assert "connection 'dst' is not defined" in result.output


@pytest.mark.parametrize("dst", [
    '{"conn_type": "memory", "host": "cli-dst", "port": "x", "password": 918273645}',  # a number, not text
    "memory://admin:918273645@cli-dst:99999",  # port out of range
    '{"conn_type": "memory", "password": "918273645", "extra": "{not json"}',
])
def test_a_malformed_connection_is_reported_without_its_password(hub_env: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 dst: str) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_DST", dst)
    result = CliRunner().invoke(app, ["run", "clients_copy"])
    assert result.exit_code == 2, result.output
    assert "connection 'dst'" in result.output
    assert "918273645" not in result.output


def test_a_malformed_connections_file_is_reported_without_its_lines(hub_env: Path, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    connections = tmp_path / "connections.yaml"
    connections.write_text('dst:\n  conn_type: memory\n  password: "s3cr3t-value\n  host: cli-dst\n', encoding="utf-8")
    monkeypatch.delenv("AIRFLOW_CONN_DST")
    monkeypatch.setenv("HUB_CONNECTIONS_FILE", str(connections))
    result = CliRunner().invoke(app, ["run", "clients_copy"])
    assert result.exit_code == 2, result.output
    assert f"{connections}: invalid YAML" in result.output
    assert "s3cr3t" not in result.output


def test_a_bad_setting_names_its_environment_variable(hub_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_BATCH_SIZE", "lots")
    result = CliRunner().invoke(app, ["runs"])
    assert result.exit_code == 2
    assert "HUB_BATCH_SIZE" in result.output


def test_trace_names_the_fields_an_update_wrote(hub_env: Path) -> None:
    invoke("run", "clients_copy")
    database("cli-src").tables["clients"][0]["name"] = "Alpha Ltd"
    assert "update 1" in invoke("run", "clients_copy").output
    traced = invoke("trace", "1").output
    assert "updated 1 -> 1 [name]" in traced, traced


def test_keys_and_data_are_printed_as_written(hub_env: Path) -> None:
    # rich would render ":id:" and ":warning:" as emoji and take "[bold]" for markup: a copied key must match
    database("cli-src").tables["clients"] = [
        {"id": "tilda:id:6130587", "name": ":warning: [bold]Beta[/bold]", "inn": None},
        {"id": "tilda:h:[red]x[/red]:warning:", "name": "Alpha :id:", "inn": "7707083893"},
    ]
    run = invoke("run", "clients_copy")
    assert "reject tilda:id:6130587: field 'inn': client has no INN" in run.output, run.output
    letters = invoke("dead-letters", "list").output
    assert "tilda:id:6130587" in letters
    shown = invoke("dead-letters", "show", "1").output
    assert "record tilda:id:6130587 " in shown and '":warning: [bold]Beta[/bold]"' in shown, shown
    traced = invoke("trace", "tilda:h:[red]x[/red]:warning:").output
    assert "created tilda:h:[red]x[/red]:warning: ->" in traced, traced
    assert "🆔" not in run.output + letters + shown + traced and "⚠" not in run.output + letters + shown + traced


def test_a_run_starts_without_loading_plugin_commands_and_they_still_work() -> None:
    """`hub run` does not import the connectors behind `hub serve` / `hub listen` (start-up time), while those
    commands and the help that lists them are still there."""
    probe = ("import sys; sys.argv = ['hub', {args}]; import hub.cli; "
             "print(sorted(m for m in sys.modules if m.startswith(('connectors.website', 'connectors.telephony'))))")
    loaded = subprocess.run([sys.executable, "-c", probe.format(args="'run', 'x', '--json'")], capture_output=True,
                            text=True, check=True).stdout.strip()
    assert loaded == "[]"
    loaded = subprocess.run([sys.executable, "-c", probe.format(args="'serve', 'intake', '--help'")],
                            capture_output=True, text=True, check=True).stdout
    assert "connectors.website" in loaded
    shown = subprocess.run([sys.executable, "-m", "hub.cli", "serve", "--help"], capture_output=True, text=True,
                           check=True, env={**os.environ, "COLUMNS": "120"}).stdout
    assert "intake" in shown
