"""The distributed topology (airflow_hub.topology) as plain processes on this machine, for the system tests.

One cluster per session: the init step, then api-server, scheduler, dag-processor, triggerer and two Celery
workers, on a fresh PostgreSQL database (Airflow metadata), fresh hub and CRM databases, and a free Redis
database number as the Celery broker. The DAGs are the project's dags/ over the test mappings next to this file.
Everything is stopped and dropped at the end, also when a test or the start-up fails.

Only adaptations for running several components on ONE host differ from docker-compose.yml: free ports, and
distinct Celery node and log-server names (in Docker each container has its own host name and ports). The
ingress services are not started: the tests commit events to the inbox and wake the exchanges as they do.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest
import redis
from sqlalchemy import create_engine, text

from airflow_hub.api import AirflowApi
from airflow_hub.topology import BY_NAME, COMPONENTS, Component, Deployment
from hub.testing.databases import POSTGRES_URL, unique_name
from hub.testing.network import free_port

ROOT = Path(__file__).resolve().parents[3]
MAPPINGS = Path(__file__).resolve().parent / "mappings"
BIN = Path(sys.executable).parent
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
START_TIMEOUT = 240.0  # seconds for the whole cluster to report healthy (2 cores, other tests running)


@contextlib.contextmanager
def postgres_database(prefix: str, create: bool = True) -> Iterator[str]:
    """A PostgreSQL database URL, the database fresh (or left to the code under test to create when
    ``create`` is false); dropped afterwards, even with connections still open."""
    name = unique_name(prefix)
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    if create:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextlib.contextmanager
def redis_database() -> Iterator[int]:
    """An empty Redis database number (1-15), flushed afterwards."""
    for number in secrets.SystemRandom().sample(range(1, 16), 15):
        client = redis.Redis(REDIS_HOST, REDIS_PORT, db=number)
        # claim it: another session choosing the same number sees the key and moves on
        if client.dbsize() == 0 and client.set("hub-systest-claim", "1", nx=True):
            try:
                yield number
            finally:
                client.flushdb()
                client.close()
            return
        client.close()
    raise RuntimeError("no empty Redis database number")


@dataclass
class Running:
    component: Component
    process: subprocess.Popen[bytes]
    log: Path
    env: dict[str, str]


@dataclass
class Cluster:
    deployment: Deployment
    api: AirflowApi
    crm_url: str
    home: Path
    processes: list[Running] = field(default_factory=list)

    def logs(self, lines: int = 40) -> str:
        parts = []
        for running in self.processes:
            text_lines = running.log.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"==== {running.component.name} ({running.log.name})\n" + "\n".join(text_lines))
        return "\n".join(parts)


def executable(argv: tuple[str, ...]) -> list[str]:
    """The command with this virtualenv's programs (the container image has them on PATH)."""
    program = sys.executable if argv[0] == "python" else str(BIN / argv[0])
    return [program, *argv[1:]]


def same_host_adaptations(component: Component, replica: int, base: str) -> tuple[list[str], dict[str, str]]:
    """What several components on one host need beyond docker-compose.yml: distinct names and free ports."""
    if component.name == "airflow-worker":
        host = f"{base}-worker-{replica}"
        return (["--celery-hostname", f"celery@{host}"],
                {"HOSTNAME": host, "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port())})
    if component.name == "airflow-triggerer":
        return [], {"AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port())}
    if component.name == "airflow-scheduler":
        return [], {"AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(free_port())}
    return [], {}


def start(component: Component, replica: int, deployment: Deployment, home: Path, base: str) -> Running:
    args, extra_env = same_host_adaptations(component, replica, base)
    env = {"PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "HOME": str(home), "AIRFLOW_HOME": str(home),
           "PYTHONDONTWRITEBYTECODE": "1", **component.environment(deployment), **extra_env}
    log = home / f"{component.name}-{replica}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(executable(component.command) + args, env=env, cwd=home, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    return Running(component, process, log, env)


def stop_all(processes: list[Running], grace: float = 20.0) -> None:
    """SIGTERM every process group at once, then SIGKILL what is still there after ``grace`` seconds: the groups,
    and every process they had started (Airflow runs each task in a process group of its own)."""
    alive = [running for running in processes if running.process.poll() is None]
    started = descendants(alive)
    for running in alive:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(running.process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for running in alive:
        with contextlib.suppress(subprocess.TimeoutExpired):
            running.process.wait(max(0.1, deadline - time.monotonic()))
    started |= descendants(alive)  # what the ones that did not stop still have
    for running in alive:
        with contextlib.suppress(ProcessLookupError):  # the group: children outliving their parent too
            os.killpg(running.process.pid, signal.SIGKILL)
        running.process.wait()
    for process in started:
        with contextlib.suppress(psutil.NoSuchProcess):  # psutil checks it is still the same process
            process.kill()


def descendants(processes: list[Running]) -> set[psutil.Process]:
    found: set[psutil.Process] = set()
    for running in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            found.update(psutil.Process(running.process.pid).children(recursive=True))
    return found


def wait_healthy(cluster: Cluster) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    parts = ("metadatabase", "scheduler", "triggerer", "dag_processor")
    while time.monotonic() < deadline:
        dead = [r.component.name for r in cluster.processes
                if r.component.role != "init" and r.process.poll() is not None]
        if dead:
            raise RuntimeError(f"{', '.join(dead)} exited during start-up\n{cluster.logs()}")
        with contextlib.suppress(Exception):
            health = cluster.api.health()
            dags = cluster.api.request("GET", "/api/v2/dags", params={"limit": 100})["total_entries"]
            healthy = all(health[part]["status"] == "healthy" for part in parts)
            if healthy and dags == len(list(MAPPINGS.glob("*.y*ml"))):
                return
        time.sleep(1)
    raise RuntimeError(f"the cluster was not healthy within {START_TIMEOUT:.0f} s\n{cluster.logs()}")


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    home = tmp_path_factory.mktemp("airflow-cluster")
    base = unique_name("hubsys")
    mappings = home / "mappings"
    shutil.copytree(MAPPINGS, mappings)
    with contextlib.ExitStack() as stack:
        metadata_url = stack.enter_context(postgres_database("airflow_systest"))
        hub_url = stack.enter_context(postgres_database("hub_systest", create=False))  # airflow-init creates it
        crm_url = stack.enter_context(postgres_database("crm_systest"))
        redis_db = stack.enter_context(redis_database())
        api_port = free_port()
        deployment = Deployment(
            metadata_db_url=metadata_url, hub_db_url=hub_url, broker_url=f"redis://{REDIS_HOST}:{REDIS_PORT}/{redis_db}",
            api_url=f"http://127.0.0.1:{api_port}", api_port=str(api_port), jwt_secret=secrets.token_urlsafe(24),
            fernet_key=_fernet_key(), dags_folder=str(ROOT / "dags"), mappings_dir=str(mappings),
            passwords_file=str(home / "auth" / "passwords.json"), admin_password=secrets.token_urlsafe(12))
        # a generous timeout: six Airflow processes share two cores with other tests
        api = stack.enter_context(AirflowApi(deployment.api_url, "admin", deployment.admin_password, timeout=30.0))
        cluster = Cluster(deployment, api, crm_url, home)
        stack.callback(stop_all, cluster.processes)

        init = start(BY_NAME["airflow-init"], 0, deployment, home, base)
        cluster.processes.append(init)
        try:
            failed = init.process.wait(START_TIMEOUT) != 0
        except subprocess.TimeoutExpired:
            failed = True
        if failed:
            raise RuntimeError(f"airflow-init failed or did not finish\n{cluster.logs()}")
        for component in COMPONENTS:
            if component.role == "airflow":
                for replica in range(1, component.replicas + 1):
                    cluster.processes.append(start(component, replica, deployment, home, base))
        wait_healthy(cluster)
        yield cluster


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()
