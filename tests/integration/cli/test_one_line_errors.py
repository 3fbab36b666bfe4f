"""The real ``hub`` executable, as an operator meets it: a hub database that is down, a URL with a typo, a
corrupt file. Each is one line on stderr naming what is wrong and a non-zero exit, never a traceback and
never the password."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hub.testing.databases import POSTGRES_URL, postgres_schema
from hub.testing.network import free_port

HUB = str(Path(sys.executable).with_name("hub"))
ROOT = Path(__file__).resolve().parents[3]
PASSWORD = "Zq9-p@ssword-7731"  # distinctive: it must appear in no output
WEBSITE_SOURCES = ("tilda", "cf7", "elementor", "gravity", "wpforms", "bitrix", "yandex_forms", "marquiz",
                   "google_forms", "landing", "shop_api")


def hub(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    connections = {f"AIRFLOW_CONN_WEBSITE_{name.upper()}": json.dumps({"conn_type": "hub_website", "password": "t"})
                   for name in WEBSITE_SOURCES}
    full_env = {**os.environ, "HUB_HOME": str(home), "HUB_MAPPINGS_DIR": str(ROOT / "mappings"), **connections,
                "AIRFLOW_CONN_CRM": json.dumps({"conn_type": "hub_crm_db", "extra": {"url": "sqlite:///crm.db"}}),
                **env}
    return subprocess.run([HUB, *args], env=full_env, capture_output=True, text=True, timeout=120, check=False)


def assert_one_line(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert result.returncode != 0, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert PASSWORD not in result.stderr + result.stdout
    for text in expected:
        assert text in lines[0], lines[0]


COMMANDS = [("runs",), ("run", "website_leads"), ("serve", "intake", "--port", "0"), ("db", "upgrade")]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c))
def test_an_unreachable_hub_database_is_one_line(tmp_path: Path, command: tuple[str, ...]) -> None:
    url = f"postgresql://hub:{PASSWORD.replace('@', '%40')}@127.0.0.1:{free_port()}/hub"
    result = hub(tmp_path, *command, HUB_DATABASE_URL=url)
    assert_one_line(result, "the hub database postgresql+psycopg://hub:***@127.0.0.1:", "is not reachable",
                    "Connection refused")


@pytest.mark.parametrize(("url", "expected"), [
    ("postgresql://hub:pw@127.0.0.1:54x2/hub", "HUB_DATABASE_URL): the port is not a number"),
    (f"postgresql://hub:{PASSWORD}@127.0.0.1:5432/hub", "an '@' in the user name or password must be written as %40"),
    ("postgresql+psycopg2://hub:pw@127.0.0.1/hub", "names the driver 'postgresql+psycopg2'"),
], ids=["port", "at-sign", "driver"])
def test_a_mistake_in_the_hub_database_url_is_one_line(tmp_path: Path, url: str, expected: str) -> None:
    for command in COMMANDS[::2]:  # (checked where every command opens the hub database)
        assert_one_line(hub(tmp_path, *command, HUB_DATABASE_URL=url), expected)


def test_a_non_numeric_port_in_a_connection_url_is_one_line(tmp_path: Path) -> None:
    crm = json.dumps({"conn_type": "hub_crm_db", "extra": {"url": f"postgresql://crm:{PASSWORD}@db:5x32/crm"}})
    assert_one_line(hub(tmp_path, "check", "crm", "--connector", "crm_db", AIRFLOW_CONN_CRM=crm),
                    "connection crm", "extra.url has more than one '@'")
    crm = json.dumps({"conn_type": "hub_crm_db", "extra": {"url": "postgresql://crm:secret@db:5x32/crm"}})
    assert_one_line(hub(tmp_path, "check", "crm", "--connector", "crm_db", AIRFLOW_CONN_CRM=crm),
                    "connection crm", "extra.url: the port is not a number")
    assert_one_line(hub(tmp_path, "check", "crm", "--connector", "crm_db",
                        AIRFLOW_CONN_CRM=f"postgres://crm:{PASSWORD.replace('@', '%40')}@db:5x32/crm"),
                    "connection 'crm': the port is not a number")


def test_corrupt_input_files_are_one_line(tmp_path: Path) -> None:
    (tmp_path / "hub.db").write_bytes(b"\x00garbage, not SQLite\xff" * 400)
    for command in COMMANDS[1:3]:
        assert_one_line(hub(tmp_path, *command), "hub.db cannot be used: file is not a database")
    (tmp_path / "hub.db").unlink()
    connections = tmp_path / "connections.yaml"
    connections.write_bytes(b"crm:\n  password: \xff\xfe" + PASSWORD.encode())
    env = {"HUB_CONNECTIONS_FILE": str(connections), "AIRFLOW_CONN_CRM": ""}
    assert_one_line(hub(tmp_path, "check", "crm", "--connector", "crm_db", **env),
                    f"{connections}: not UTF-8 text (byte 17)")


def test_a_postgresql_url_without_a_driver_is_psycopg() -> None:
    with postgres_schema("cli_url") as url:
        bare = url.replace("postgresql+psycopg://", "postgresql://")
        assert bare.startswith("postgresql://") and POSTGRES_URL.startswith("postgresql+psycopg://")
        result = hub(Path("."), "db", "upgrade", HUB_DATABASE_URL=bare)
    assert result.returncode == 0, result.stderr
    assert "hub database is current (core, telephony): postgresql+psycopg://" in result.stdout
