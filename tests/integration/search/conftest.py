"""Helpers for the search tests: ``hub trace`` run as an operator runs it (the CLI, against a hub's database),
a hub state store on SQLite or on the real PostgreSQL, and triggers that look like Airflow's DAG tasks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from hub.app import Hub
from hub.cli import app
from hub.testing.databases import postgres_schema


def airflow_trigger(exchange: str, n: int) -> str:
    """``triggered_by`` as airflow_hub.tasks writes it for a DAG run's apply task."""
    return f"airflow apply#1 manual__2026-12-02T10:{n:02d}:00+00:00_{exchange}"


def trace(hub: Hub, *args: str) -> Result:
    """``hub trace ARGS`` against ``hub``'s database and mappings, as an operator types it."""
    env = {"HUB_DATABASE_URL": hub.settings.state_url, "HUB_MAPPINGS_DIR": str(hub.settings.mappings_dir),
           "HUB_HOME": str(hub.settings.home), "HUB_AIRFLOW_URL": "http://airflow.example:8080",
           "COLUMNS": "400"}
    return CliRunner().invoke(app, ["trace", *args], env=env)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The hub's own database: a SQLite file, then a throwaway schema of the real PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state.db'}"
        return
    with postgres_schema("hub_trace") as url:
        yield url
