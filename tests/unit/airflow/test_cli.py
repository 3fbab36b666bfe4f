"""``hub airflow``: what the embedded Airflow is started with (starting it is measured by hand: docs/airflow.md)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from airflow_hub.cli import ADMIN, PROJECT, admin_password, standalone_env
from hub.cli import app


def test_the_admin_password_is_generated_once_kept_private_and_reused(tmp_path: Path) -> None:
    file = tmp_path / "simple_auth_manager_passwords.json.generated"

    first = admin_password(file)
    again = admin_password(file)

    assert first == again and len(first) >= 16
    assert json.loads(file.read_text()) == {ADMIN: first}  # Airflow's own format: it keeps what it finds
    assert stat.S_IMODE(file.stat().st_mode) == 0o600


def test_airflow_runs_on_sqlite_sized_for_a_small_machine_with_the_hub_s_dags(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_MAPPINGS_DIR", str(tmp_path / "maps"))
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")  # a distributed setting in the shell

    env = standalone_env(tmp_path / "home", tmp_path / "hub", 18099, "pw", paused=False)

    assert env["AIRFLOW_HOME"] == str(tmp_path / "home")
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == str(PROJECT / "dags") and (PROJECT / "dags").is_dir()
    assert (env["AIRFLOW__CORE__LOAD_EXAMPLES"], env["AIRFLOW__CORE__PARALLELISM"]) == ("False", "4")
    assert env["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] == "False"
    assert (env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], env["AIRFLOW__CORE__EXECUTOR"]) == (
        f"sqlite:///{tmp_path / 'home' / 'airflow.db'}", "LocalExecutor")
    assert env["HUB_DATABASE_URL"] == f"sqlite:///{tmp_path / 'hub' / 'hub.db'}"
    assert env["HUB_MAPPINGS_DIR"] == str(tmp_path / "maps")
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:18099/execution/"  # tasks reach it
    # the in-process ingress services of the demo wake the exchanges through this API server
    assert (env["HUB_AIRFLOW_URL"], env["HUB_AIRFLOW_USER"], env["HUB_AIRFLOW_PASSWORD"]) == (
        "http://127.0.0.1:18099", ADMIN, "pw")


def test_the_command_is_part_of_the_hub_cli_and_refuses_a_busy_port(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    monkeypatch.chdir(tmp_path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(app, ["airflow", "--port", str(port), "--no-demo"])

    assert result.exit_code == 2
    assert f"port {port} is in use; pass --port" in result.output
