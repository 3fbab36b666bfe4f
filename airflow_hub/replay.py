"""Dead-letter replays as DAG runs: a run of the exchange's DAG whose ``conf`` names the letters
(:data:`airflow_hub.tasks.REPLAY_KEY`), so the replay is in that exchange's history with its note, whoever asked
for it (the dead-letters page, or ``hub dead-letters replay`` where Airflow is reachable)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Literal
from urllib.parse import quote

from airflow_hub.api import AirflowApi, AirflowApiError
from airflow_hub.tasks import REPLAY_KEY
from hub.errors import ConfigError, RetriableError


def replay_run_id() -> str:
    """``replay__<UTC time>``: what tells a replay from the exchange's other runs in the runs list."""
    return f"replay__{dt.datetime.now(dt.UTC).isoformat(timespec='milliseconds')}"


def run_url(dag_id: str, run_id: str) -> str:
    """The run's page, relative to the Airflow UI's base URL."""
    return f"dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"


def replay_in_airflow(exchange: str, ids: list[int] | Literal["all"], env: Mapping[str, str]) -> str:
    """Triggers the replay run through Airflow's REST API (``HUB_AIRFLOW_URL``, ``_USER``, ``_PASSWORD``, as the
    wake-ups use); returns the run's address in the UI."""
    url, user = env.get("HUB_AIRFLOW_URL", ""), env.get("HUB_AIRFLOW_USER", "")
    if not user or not env.get("HUB_AIRFLOW_PASSWORD"):
        raise ConfigError("HUB_AIRFLOW_URL is set, so the replay runs in Airflow: set HUB_AIRFLOW_USER and "
                          "HUB_AIRFLOW_PASSWORD too (or pass --here)")
    try:
        with AirflowApi(url, user, env["HUB_AIRFLOW_PASSWORD"]) as api:
            run_id = api.trigger(exchange, {REPLAY_KEY: ids}, run_id=replay_run_id())
    except AirflowApiError as exc:
        raise ConfigError(f"Airflow at {url} refused the replay run: {exc}") from None
    except OSError as exc:  # httpx's connection errors
        raise RetriableError(f"Airflow at {url} is not reachable: {exc}") from None
    return f"{url.rstrip('/')}/{run_url(exchange, run_id)}"
