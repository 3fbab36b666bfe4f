"""docker-compose.yml is a valid Compose file and describes the topology the CeleryExecutor system test runs.

The Compose Specification's JSON Schema is vendored next to this file (compose-spec/compose-spec,
``schema/compose-spec.json`` at commit 170098ba07d9f53c383a41bfd4c5166b0a4529a6, Apache License 2.0): tests run
without internet. ``airflow_hub.topology`` is the one description both this file and the system test use.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from airflow_hub.topology import BY_NAME, COMPONENTS, DEPLOYMENT_ENV, FIXED_ENV, Component, Deployment

ROOT = Path(__file__).resolve().parents[3]
SCHEMA = Path(__file__).resolve().parent / "compose-spec.json"
INFRASTRUCTURE = {"postgres", "redis"}  # run by the machine itself in the system test
PROXY = "intake-proxy"  # nginx in front of the intake's replicas (the system test runs one intake, no proxy)
SECRET_KEYS = ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__CORE__FERNET_KEY", "HUB_AIRFLOW_PASSWORD")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def schema_errors(document: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))
    return [f"{'/'.join(map(str, error.path))}: {error.message}" for error in validator.iter_errors(document)]


def service(compose: dict[str, Any], component: Component) -> dict[str, Any]:
    return compose["services"][component.name]  # type: ignore[no-any-return]


def container_shell(command: str) -> str:
    """A CMD-SHELL command as the container's shell gets it (Compose turns ``$$`` into ``$``)."""
    return command.replace("$$", "$")


def test_the_file_follows_the_compose_specification(compose: dict[str, Any]) -> None:
    assert schema_errors(compose) == []


def test_the_specification_check_catches_a_mistake(compose: dict[str, Any]) -> None:
    broken = copy.deepcopy(compose)
    services = broken["services"]
    services["airflow-scheduler"]["healthchek"] = services["airflow-scheduler"].pop("healthcheck")
    services["airflow-worker"]["deploy"]["replica"] = 3
    services["redis"]["healthcheck"]["retries"] = [5]
    errors = schema_errors(broken)
    assert any("healthchek" in error for error in errors)
    assert any(error.startswith("services/airflow-worker/deploy") and "replica" in error for error in errors)
    assert any(error.startswith("services/redis/healthcheck/retries") for error in errors)


def test_every_component_is_a_service_with_its_command_and_replicas(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {component.name for component in COMPONENTS} | INFRASTRUCTURE | {PROXY}
    for component in COMPONENTS:
        assert tuple(service(compose, component)["command"]) == component.command, component.name
        assert service(compose, component).get("deploy", {}).get("replicas", 1) == component.replicas, component.name


def test_health_checks_are_the_topology_s(compose: dict[str, Any]) -> None:
    for component in COMPONENTS:
        check = service(compose, component).get("healthcheck")
        if component.health is None:
            assert check is None, component.name
        else:
            kind, command = check["test"]
            assert (kind, container_shell(command)) == ("CMD-SHELL", component.health), component.name


def test_each_service_gets_the_environment_the_topology_derives(compose: dict[str, Any]) -> None:
    """The deployment-specific values are read from the file; everything derived from them must agree."""
    env = service(compose, BY_NAME["airflow-apiserver"])["environment"]
    deployment = Deployment(
        metadata_db_url=env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], hub_db_url=env["HUB_DATABASE_URL"],
        broker_url=env["AIRFLOW__CELERY__BROKER_URL"], api_url=env["HUB_AIRFLOW_URL"],
        api_port=env["AIRFLOW__API__PORT"], jwt_secret=env["AIRFLOW__API_AUTH__JWT_SECRET"],
        fernet_key=env["AIRFLOW__CORE__FERNET_KEY"], dags_folder=env["AIRFLOW__CORE__DAGS_FOLDER"],
        mappings_dir=env["HUB_MAPPINGS_DIR"], passwords_file=env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"],
        admin_password=env["HUB_AIRFLOW_PASSWORD"])
    for component in COMPONENTS:
        declared = service(compose, component)["environment"]
        assert set(declared) == component.env_keys(), component.name
        own = set(component.own_env)
        assert {k: v for k, v in declared.items() if k not in own} == component.environment(deployment), component.name
    assert set(env) >= set(FIXED_ENV) | set(DEPLOYMENT_ENV)


def test_dags_mappings_and_config_are_mounted_where_the_environment_says(compose: dict[str, Any]) -> None:
    for component in COMPONENTS:
        mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in service(compose, component)["volumes"]}
        env = service(compose, component)["environment"]
        assert mounts[env["HUB_MAPPINGS_DIR"]] == "./mappings", component.name
        assert mounts["/opt/hub/config"] == "./config", component.name
        if component.role != "ingress":
            assert mounts[env["AIRFLOW__CORE__DAGS_FOLDER"]] == "./dags", component.name
            assert mounts[str(Path(env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]).parent)] == "airflow-auth"


def test_no_secret_is_written_in_the_file(compose: dict[str, Any]) -> None:
    for component in COMPONENTS:
        env = service(compose, component)["environment"]
        for key in SECRET_KEYS:
            if key in env:
                assert env[key].startswith("${") and env[key].endswith("}"), (component.name, key)
        for key, value in env.items():
            if "://" in value and "@" in value:  # a URL with credentials: the password comes from .env
                assert "${POSTGRES_PASSWORD" in value, (component.name, key)


def test_the_intake_scales_behind_the_proxy(compose: dict[str, Any]) -> None:
    """``docker compose up --scale hub-intake=N`` works: no replica binds a host port, the proxy does, and it
    sends to the service name (every replica) with a read timeout above the intake's commit timeout."""
    from connectors.website.app import COMMIT_TIMEOUT

    intake, proxy = compose["services"]["hub-intake"], compose["services"][PROXY]
    assert "ports" not in intake
    assert intake["expose"] == ["8080"]
    assert proxy["ports"] == ["${HUB_INTAKE_PORT:-18080}:8080"]
    source, mounted = proxy["volumes"][0].split(":")[:2]
    assert mounted == "/etc/nginx/conf.d/default.conf"
    conf = (ROOT / source).read_text(encoding="utf-8")
    assert "set $intake http://hub-intake:8080;" in conf and "proxy_pass $intake;" in conf
    read_timeout = int(re.search(r"proxy_read_timeout (\d+)s;", conf).group(1))  # type: ignore[union-attr]
    assert read_timeout > COMMIT_TIMEOUT
    assert "--forwarded-allow-ips" in intake["command"]  # rate limits see the sender, not the proxy
