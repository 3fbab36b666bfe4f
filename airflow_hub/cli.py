"""``hub airflow``: Airflow standalone on SQLite with the hub's DAGs and the demo simulators.

Everything lives in the current directory: Airflow's home (metadata DB, logs, the admin's password) in
``./airflow-home``, the hub's state in ``./var/airflow-demo``. The demo parts (named in the connector packages'
manifests) start their simulators in this process and export their connections as ``AIRFLOW_CONN_*``, which
Airflow's tasks inherit.
Once Airflow answers, the demo's events (form submissions, calls) are sent, so the event-driven exchanges are
woken the way the ingress services wake them in production.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated

import typer

from airflow_hub.api import AirflowApi
from hub.errors import ConfigError, FatalError
from hub.settings import HubSettings

PROJECT = Path(__file__).resolve().parent.parent
ADMIN = "admin"
STARTUP_TIMEOUT = 180.0  # seconds; the first start migrates the metadata DB (~20 s) before serving


def airflow_command(
    port: Annotated[int, typer.Option(help="port of the Airflow UI and REST API")] = 8080,
    home: Annotated[Path, typer.Option(help="AIRFLOW_HOME (metadata DB, logs, admin password)")] = Path("airflow-home"),
    demo: Annotated[bool, typer.Option(help="start the demo simulators and send their events")] = True,
    paused: Annotated[bool, typer.Option(help="new exchange DAGs start paused")] = False,
) -> None:
    """Run Airflow standalone (SQLite) with one DAG per mapping; the demo exchanges run from the UI."""
    home = home.resolve()
    hub_home = Path("var/airflow-demo").resolve()
    for directory in (home, hub_home):
        directory.mkdir(parents=True, exist_ok=True)
    _require_free(port)
    password_file = home / "simple_auth_manager_passwords.json.generated"
    url = f"http://127.0.0.1:{port}"
    env = standalone_env(home, hub_home, port, admin_password(password_file), paused)
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops Airflow and the simulators too, like Ctrl-C
    os.environ.update({key: env[key] for key in ("HUB_AIRFLOW_URL", "HUB_AIRFLOW_USER", "HUB_AIRFLOW_PASSWORD")})
    with _demo(hub_home, demo) as produce:
        process = _start({**os.environ, **env}, home / "standalone.log")  # with the demo's AIRFLOW_CONN_*
        try:
            _wait_until_up(url, process, home / "standalone.log")
            typer.echo(f"Airflow UI: {url}  (user {ADMIN}; the password is in {password_file})")
            typer.echo(f"Airflow log: {home / 'standalone.log'}; hub state: {hub_home}")
            if produce is not None:
                produce()
            typer.echo("Ctrl-C stops Airflow and the simulators.")
            process.wait()
            raise FatalError(f"airflow standalone exited with {process.returncode}; see {home / 'standalone.log'}")
        except KeyboardInterrupt:
            typer.echo("stopping...")
        finally:
            _stop(process)


def standalone_env(home: Path, hub_home: Path, port: int, password: str, paused: bool) -> dict[str, str]:
    """What ``airflow standalone`` gets on top of this process's environment: Airflow on SQLite sized for a small
    machine, the hub's DAGs and state."""
    settings = HubSettings.from_env()
    return {
        # standalone starts `airflow scheduler`, `airflow api-server`... by name: this environment's first
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "4",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": str(paused),
        "AIRFLOW__CORE__LAZY_DISCOVER_PROVIDERS": "False",  # registers the hub's run-notes listener
        "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN}:admin",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",  # default: port 8080
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",  # a new mapping file becomes a DAG within 30 s
        "HUB_HOME": str(hub_home),
        "HUB_DATABASE_URL": f"sqlite:///{hub_home / 'hub.db'}",
        "HUB_MAPPINGS_DIR": str(settings.mappings_dir.resolve()),
        "HUB_AIRFLOW_URL": f"http://127.0.0.1:{port}",
        "HUB_AIRFLOW_USER": ADMIN,
        "HUB_AIRFLOW_PASSWORD": password,
    }


def admin_password(password_file: Path) -> str:
    """The admin's password: kept from an earlier run, else generated (Airflow keeps what the file says)."""
    if password_file.exists():
        known = json.loads(password_file.read_text(encoding="utf-8") or "{}")
        if known.get(ADMIN):
            return str(known[ADMIN])
    password = secrets.token_urlsafe(12)
    password_file.write_text(json.dumps({ADMIN: password}), encoding="utf-8")
    password_file.chmod(0o600)
    return password


@contextlib.contextmanager
def _demo(hub_home: Path, enabled: bool) -> Iterator[Callable[[], None] | None]:
    """The demo's systems running in this process (their connections exported); yields a callable that sends
    the demo's events, or None without the demo."""
    if not enabled:
        yield None
        return
    from hub.demo import DemoEnv, demo_settings, running

    env = DemoEnv(home=hub_home, settings=demo_settings(hub_home))
    with running(env) as parts:
        for note in env.notes:
            typer.echo(note)
        env.notes.clear()

        def produce() -> None:
            for part in parts:
                try:
                    part.produce(env)
                except Exception as exc:  # one part's scenario failing leaves Airflow and the others running
                    typer.echo(f"demo {part.name}: sending its events failed: {type(exc).__name__}: {exc}", err=True)
                else:
                    typer.echo(f"demo {part.name}: events sent")
            for note in env.notes:
                typer.echo(note)

        yield produce


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _require_free(port: int) -> None:
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            raise ConfigError(f"port {port} is in use; pass --port")


def _start(env: dict[str, str], log_file: Path) -> subprocess.Popen[bytes]:
    # the task output Airflow echoes here is not masked: it goes to a file, not the terminal
    with log_file.open("ab") as log:
        return subprocess.Popen([sys.executable, "-m", "airflow", "standalone"], env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log_file: Path) -> None:
    typer.echo(f"starting Airflow at {url} (the first start takes a minute)...")
    deadline = time.monotonic() + STARTUP_TIMEOUT
    with AirflowApi(url, ADMIN, "") as api:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise FatalError(f"airflow standalone exited with {process.returncode}; see {log_file}")
            with contextlib.suppress(Exception):
                health = api.health()
                if all(health.get(part, {}).get("status") == "healthy" for part in ("metadatabase", "scheduler")):
                    return
            time.sleep(1)
    raise FatalError(f"Airflow did not answer within {STARTUP_TIMEOUT:.0f} s; see {log_file}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop standalone and everything it started (its own process group)."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
