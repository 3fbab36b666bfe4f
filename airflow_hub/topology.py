"""The distributed deployment, described once: which processes run, with what command, environment and health
check.

``docker-compose.yml`` is this topology for Docker (a test checks that they agree), and the CeleryExecutor
system test runs the same components as plain processes on one machine. Values that differ between the two
(hosts, passwords, ports) come from a :class:`Deployment`; everything else is fixed here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Role = Literal["init", "airflow", "ingress"]

#: the same in every deployment
FIXED_ENV: dict[str, str] = {
    "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__PARALLELISM": "8",
    "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
    # the hub's provider (connection types, run notes) is discovered at start, so its listener is registered
    "AIRFLOW__CORE__LAZY_DISCOVER_PROVIDERS": "False",
    "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
    "AIRFLOW__CELERY__WORKER_CONCURRENCY": "4",
    # the scheduler answers GET /health on AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT (8974)
    "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "True",
}

#: set per deployment (see :meth:`Deployment.env`)
DEPLOYMENT_ENV = (
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC",
    "AIRFLOW__CELERY__BROKER_URL",
    "AIRFLOW__CELERY__RESULT_BACKEND",
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__CORE__FERNET_KEY",
    "AIRFLOW__CORE__DAGS_FOLDER",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE",
    "AIRFLOW__API__PORT",
    "HUB_DATABASE_URL",
    "HUB_MAPPINGS_DIR",
    "HUB_AIRFLOW_URL",
    "HUB_AIRFLOW_USER",
    "HUB_AIRFLOW_PASSWORD",
)


@dataclass(frozen=True)
class Deployment:
    """Where the shared services are, for one deployment."""

    metadata_db_url: str  # SQLAlchemy URL of Airflow's metadata database (postgresql+psycopg://...)
    hub_db_url: str  # the hub's own database (state, inbox, run log)
    broker_url: str  # Celery broker (Redis)
    api_url: str  # the api-server as the other components reach it (no trailing slash)
    api_port: str
    jwt_secret: str
    fernet_key: str
    dags_folder: str
    mappings_dir: str
    passwords_file: str  # the simple auth manager's users' passwords (JSON)
    admin_password: str

    def env(self) -> dict[str, str]:
        """The environment every component gets."""
        env = {
            **FIXED_ENV,
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.metadata_db_url,
            # psycopg 3 is also the async driver (Airflow would otherwise look for asyncpg)
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": self.metadata_db_url,
            "AIRFLOW__CELERY__BROKER_URL": self.broker_url,
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + self.metadata_db_url,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api_url}/execution/",
            "AIRFLOW__API_AUTH__JWT_SECRET": self.jwt_secret,
            "AIRFLOW__CORE__FERNET_KEY": self.fernet_key,
            "AIRFLOW__CORE__DAGS_FOLDER": self.dags_folder,
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": self.passwords_file,
            "AIRFLOW__API__PORT": self.api_port,
            "HUB_DATABASE_URL": self.hub_db_url,
            "HUB_MAPPINGS_DIR": self.mappings_dir,
            "HUB_AIRFLOW_URL": self.api_url,
            "HUB_AIRFLOW_USER": "admin",
            "HUB_AIRFLOW_PASSWORD": self.admin_password,
        }
        assert set(env) == set(FIXED_ENV) | set(DEPLOYMENT_ENV)
        return env


@dataclass(frozen=True)
class Component:
    """One service of the deployment (``replicas`` identical processes)."""

    name: str  # the docker-compose service
    role: Role
    command: tuple[str, ...]
    #: a shell command that exits 0 when the component is healthy (``$HOSTNAME``: the component's host name)
    health: str | None = None
    replicas: int = 1
    #: variables of this component only (given by the operator, e.g. the PBX connection of the AMI listener)
    own_env: tuple[str, ...] = ()

    def env_keys(self) -> set[str]:
        """Airflow components get the whole deployment environment; ingress services only the hub's part."""
        keys = set(FIXED_ENV) | set(DEPLOYMENT_ENV)
        if self.role == "ingress":
            keys = {key for key in keys if key.startswith("HUB_")}
        return keys | set(self.own_env)

    def environment(self, deployment: Deployment) -> dict[str, str]:
        env = deployment.env()
        return {key: env[key] for key in self.env_keys() if key in env}


def _jobs_check(job_type: str) -> str:
    return f"airflow jobs check --job-type {job_type} --local"


CELERY_APP = "airflow.providers.celery.executors.celery_executor.app"

COMPONENTS: tuple[Component, ...] = (
    Component("airflow-init", "init", ("python", "-m", "airflow_hub.topology", "init")),
    Component("airflow-apiserver", "airflow", ("airflow", "api-server"),
              health="python -m airflow_hub.topology http-health $AIRFLOW__API__PORT /api/v2/monitor/health"),
    Component("airflow-scheduler", "airflow", ("airflow", "scheduler"),
              health="python -m airflow_hub.topology http-health "
                     "${AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT:-8974} /health"),
    Component("airflow-dag-processor", "airflow", ("airflow", "dag-processor"), health=_jobs_check("DagProcessorJob")),
    Component("airflow-triggerer", "airflow", ("airflow", "triggerer"), health=_jobs_check("TriggererJob")),
    Component("airflow-worker", "airflow", ("airflow", "celery", "worker"),
              health=f'celery --app {CELERY_APP} inspect ping -d "celery@$HOSTNAME"', replicas=2),
    # the ingress services read their systems' credentials (website tokens, the PBX) from a connections file
    # behind intake-proxy (nginx): the sender's address comes in X-Forwarded-For (rate limits, logs)
    Component("hub-intake", "ingress", ("hub", "serve", "intake", "--host", "0.0.0.0", "--port", "8080",
                                        "--forwarded-allow-ips", "*"),
              health="python -m airflow_hub.topology http-health 8080 /health",
              own_env=("HUB_CONNECTIONS_FILE", "HUB_REDIS_URL")),  # Redis: rate limits shared by the replicas
    Component("hub-ami-listener", "ingress", ("hub", "listen", "ami", "--connection", "pbx"),
              own_env=("HUB_CONNECTIONS_FILE",)),
)

BY_NAME: dict[str, Component] = {component.name: component for component in COMPONENTS}


def init() -> None:
    """Prepare a deployment, idempotently: Airflow's metadata DB, the hub's DB and tables, the admin's password."""
    from hub.state.store import StateStore  # here, not at the top: the health checks import this module often

    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True)
    hub_url = os.environ["HUB_DATABASE_URL"]
    ensure_database(hub_url)
    StateStore(hub_url).close()  # creates or migrates the hub's tables now, before the workers race to
    passwords = Path(os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
    passwords.parent.mkdir(parents=True, exist_ok=True)
    passwords.write_text(json.dumps({os.environ["HUB_AIRFLOW_USER"]: os.environ["HUB_AIRFLOW_PASSWORD"]}))
    passwords.chmod(0o600)


def ensure_database(url: str) -> None:
    """Create the PostgreSQL database ``url`` names if it does not exist (other databases: nothing to do)."""
    import sqlalchemy as sa

    target = sa.make_url(url)
    if target.get_backend_name() != "postgresql" or not target.database:
        return
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": target.database})
            if not exists:
                quoted = conn.dialect.identifier_preparer.quote(target.database)
                conn.execute(sa.text(f"CREATE DATABASE {quoted}"))
    finally:
        admin.dispose()


def http_health(port: str, path: str) -> None:
    """Exit 0 when ``http://127.0.0.1:<port><path>`` answers 200 (a health check without curl in the image)."""
    import httpx

    try:
        status = httpx.get(f"http://127.0.0.1:{port}{path}", timeout=5).status_code
    except httpx.HTTPError as exc:
        sys.exit(f"not answering: {exc}")
    if status != 200:
        sys.exit(f"HTTP {status}")


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    {"init": init, "http-health": http_health}[command](*args)
