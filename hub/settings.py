"""Hub settings: one value object, read from ``HUB_*`` environment variables with embedded defaults.

The defaults run the demo on a laptop: SQLite files under ``./var``, phones in Russia, Moscow time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hub.errors import ConfigError


class RetryPolicy(BaseModel):
    """How retriable errors (network, timeouts, locks, 502/503/504) are retried."""

    model_config = ConfigDict(frozen=True)

    attempts: int = Field(5, ge=1, le=50)
    initial_wait: float = Field(0.5, ge=0)
    max_wait: float = Field(30.0, ge=0)


class HubSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    home: Path = Path("var")
    database_url: str = ""
    mappings_dir: Path = Path("mappings")
    connections_file: Path | None = None
    default_region: str = "RU"
    timezone: str = "Europe/Moscow"
    batch_size: int = Field(500, ge=1, le=100_000)
    retry: RetryPolicy = RetryPolicy()
    run_lock_wait: float = Field(0.0, ge=0)  # seconds a run waits for another run of its exchange to end
    run_lock_ttl: float = Field(30.0, ge=1)  # SQLite/MariaDB: how long a killed run's lock outlives it
    search_retention_days: float = Field(90.0, gt=0)  # how long the search index keeps a value nobody wrote again
    airflow_url: str = ""  # the Airflow UI's base URL: hub trace links each step to its DAG run

    @property
    def state_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'hub.db'}"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: Any) -> HubSettings:
        env = dict(os.environ if env is None else env)
        values: dict[str, Any] = {}
        simple = {
            "HUB_HOME": "home",
            "HUB_DATABASE_URL": "database_url",
            "HUB_MAPPINGS_DIR": "mappings_dir",
            "HUB_CONNECTIONS_FILE": "connections_file",
            "HUB_DEFAULT_REGION": "default_region",
            "HUB_TIMEZONE": "timezone",
            "HUB_BATCH_SIZE": "batch_size",
            "HUB_RUN_LOCK_WAIT": "run_lock_wait",
            "HUB_RUN_LOCK_TTL": "run_lock_ttl",
            "HUB_SEARCH_RETENTION_DAYS": "search_retention_days",
            "AIRFLOW__API__BASE_URL": "airflow_url",  # Airflow's own setting, when the hub runs beside it
            "HUB_AIRFLOW_URL": "airflow_url",
        }
        for var, field in simple.items():
            if env.get(var):
                values[field] = env[var]
        retry = {
            key: env[f"HUB_RETRY_{key.upper()}"]
            for key in ("attempts", "initial_wait", "max_wait")
            if env.get(f"HUB_RETRY_{key.upper()}")
        }
        if retry:
            values["retry"] = retry
        values.update(overrides)
        home_file = Path(values.get("home", "var")) / "connections.yaml"
        if not values.get("connections_file") and home_file.exists():  # e.g. what `hub demo` leaves behind
            values["connections_file"] = home_file
        try:
            return cls(**values)
        except ValidationError as exc:
            first = exc.errors(include_url=False, include_input=False)[0]
            name = "_".join(str(part) for part in first["loc"])
            raise ConfigError(f"setting {name} (HUB_{name.upper()}): {first['msg']}") from None
