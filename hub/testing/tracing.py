"""``hub trace`` as an operator runs it, for tests: the CLI against a hub's database and mappings, and runs
triggered the way Airflow's DAG tasks trigger them (so each step carries an Airflow run id)."""

from __future__ import annotations

from typer.testing import CliRunner, Result

from hub.app import Hub
from hub.cli import app

AIRFLOW_URL = "http://airflow.example:8080"


def airflow_trigger(exchange: str, n: int) -> str:
    """``triggered_by`` as airflow_hub.tasks writes it for a DAG run's apply task."""
    return f"airflow apply#1 manual__2026-12-02T10:{n:02d}:00+00:00_{exchange}"


def trace(hub: Hub, *args: str) -> Result:
    """``hub trace ARGS`` against ``hub``'s database and mappings, as an operator types it."""
    env = {"HUB_DATABASE_URL": hub.settings.state_url, "HUB_MAPPINGS_DIR": str(hub.settings.mappings_dir),
           "HUB_HOME": str(hub.settings.home), "HUB_AIRFLOW_URL": AIRFLOW_URL}
    return CliRunner().invoke(app, ["trace", *args], env=env)
