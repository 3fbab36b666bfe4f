"""Connections, check(), describe(): URL building, error classes, type mapping, unique keys."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from connectors.crm_db import CrmDbConnector
from hub.connections import Connection
from hub.connector import connector_class
from hub.errors import AuthError, ConfigError, RetriableError
from hub.sql import engine_url
from hub.testing.databases import MARIADB_URL, POSTGRES_URL

from .support import SETTINGS, Backend, Statements

SECRET = "s3cr3t-Pa55"


def _connection(url: str, **fields: object) -> Connection:
    """A connection built from fields (host, port, login, ...) of a test server URL."""
    parsed = sa.make_url(url)
    values = {"conn_id": "crm", "conn_type": parsed.get_backend_name(), "host": parsed.host, "port": parsed.port,
              "login": parsed.username, "schema": parsed.database, **fields}
    return Connection(**values)  # type: ignore[arg-type]


def test_the_package_manifest_provides_the_connector() -> None:
    assert connector_class("crm_db") is CrmDbConnector


@pytest.mark.parametrize("fields, expected", [
    ({"conn_type": "postgres", "host": "db", "port": 5433, "login": "crm", "schema": "sales"},
     "postgresql+psycopg://crm:***@db:5433/sales"),
    ({"conn_type": "crm_db", "extra": {"dialect": "mariadb"}, "host": "db", "login": "crm", "schema": "sales"},
     "mysql+pymysql://crm:***@db/sales?charset=utf8mb4"),
    ({"conn_type": "sqlite", "schema": "/var/crm.db"}, "sqlite:////var/crm.db"),
    ({"conn_type": "crm_db", "extra": {"url": "postgresql://crm:pw@db/sales"}}, "postgresql+psycopg://crm:***@db/sales"),
])
def test_engine_urls_are_built_from_the_connection(fields: dict[str, object], expected: str) -> None:
    connection = Connection(conn_id="crm", password=SECRET, **fields)  # type: ignore[arg-type]
    assert engine_url(connection).render_as_string(hide_password=True) == expected


def test_a_connection_without_a_known_dialect_is_a_config_error_without_secrets() -> None:
    connection = Connection(conn_id="crm", conn_type="oracle", host="db", login="crm", password=SECRET)
    with pytest.raises(ConfigError, match=r"extra\.dialect") as caught:
        CrmDbConnector(connection, SETTINGS).check()
    assert SECRET not in str(caught.value)


def test_check_reports_the_server(backend: Backend, connector: CrmDbConnector) -> None:
    status = connector.check()
    assert status.startswith("crm (crm_db)")
    assert ("sqlite" if backend.name == "sqlite" else backend.name.replace("postgres", "postgresql")
            .replace("mariadb", "mysql")) in status


@pytest.mark.mariadb
def test_a_wrong_password_is_an_auth_error_that_does_not_repeat_it() -> None:
    connection = _connection(MARIADB_URL, password=SECRET)
    with CrmDbConnector(connection, SETTINGS) as connector, pytest.raises(AuthError) as caught:
        connector.check()
    assert "Access denied" in str(caught.value) and SECRET not in str(caught.value)


@pytest.mark.postgres
def test_an_unknown_role_is_an_auth_error() -> None:
    connection = _connection(POSTGRES_URL, login="no_such_role_hub", password=SECRET)
    with CrmDbConnector(connection, SETTINGS) as connector, pytest.raises(AuthError, match="no_such_role") as caught:
        connector.check()
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize("url", [pytest.param(POSTGRES_URL, marks=pytest.mark.postgres, id="postgres"),
                                 pytest.param(MARIADB_URL, marks=pytest.mark.mariadb, id="mariadb")])
def test_an_unknown_database_is_a_config_error(url: str) -> None:
    connection = _connection(url, schema="no_such_database_hub")
    with CrmDbConnector(connection, SETTINGS) as connector, pytest.raises(ConfigError, match="no_such_database_hub"):
        connector.check()


@pytest.mark.parametrize("conn_type", ["postgres", "mariadb"])
def test_an_unreachable_server_is_retriable(conn_type: str) -> None:
    # port 9 (discard) is closed on the test machines: the connection is refused at once
    connection = Connection(conn_id="crm", conn_type=conn_type, host="127.0.0.1", port=9, login="x",
                            password=SECRET, schema="test", extra={"connect_timeout": 3})
    with CrmDbConnector(connection, SETTINGS) as connector, pytest.raises(RetriableError) as caught:
        connector.check()
    assert "crm (" in str(caught.value) and SECRET not in str(caught.value)


def test_an_unknown_time_zone_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="Mars/Olympus"):
        CrmDbConnector(Connection(conn_id="crm", conn_type="sqlite", extra={"timezone": "Mars/Olympus"}), SETTINGS)


# -- describe ----------------------------------------------------------------------------------------------

def _typed_table(backend: Backend) -> sa.Table:
    metadata = sa.MetaData()
    name = backend.table_name("typed")
    columns = [
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("code", sa.String(12), nullable=False),
        sa.Column("region", sa.String(10), nullable=False),
        sa.Column("notes", sa.Text),
        sa.Column("amount", sa.Numeric(14, 2)),
        sa.Column("ratio", sa.Float),
        sa.Column("active", sa.Boolean),
        sa.Column("born_on", sa.Date),
        sa.Column("seen_at", sa.DateTime),
        sa.Column("payload", sa.JSON().with_variant(sa.Text, "firebird.firebird")),  # Firebird has no JSON type
        sa.Column("photo", sa.LargeBinary),
        sa.Column("email", sa.String(100)),
        sa.UniqueConstraint("code", "region", name=f"uq_{name}_code"),
    ]
    if backend.name == "postgres":
        columns.append(sa.Column("ref", postgresql.UUID))
    table = sa.Table(name, metadata, *columns)
    sa.Index(f"ix_{name}_email", table.c.email, unique=True)
    if backend.name in ("postgres", "sqlite"):  # a partial unique index cannot back an upsert: not a key
        sa.Index(f"ix_{name}_notes", table.c.ratio, unique=True, postgresql_where=table.c.active,
                 sqlite_where=table.c.active)
    backend.create(table)
    return table


def test_describe_maps_every_column_to_a_field_kind(backend: Backend, connector: CrmDbConnector) -> None:
    table = _typed_table(backend)
    info = connector.describe(table.name)
    assert info is not None
    kinds = {name: field.kind for name, field in info.fields.items()}
    expected = {"id": "integer", "code": "string", "region": "string", "notes": "string", "amount": "decimal",
                "ratio": "float", "active": "boolean", "born_on": "date", "seen_at": "datetime",
                "payload": "json", "photo": "binary", "email": "string"}
    if backend.name in ("mariadb", "firebird"):
        expected["payload"] = "string"  # MariaDB's JSON is LONGTEXT, Firebird's a text BLOB: both reflect as text
    if backend.name == "postgres":
        expected["ref"] = "uuid"
    assert kinds == expected
    assert info.fields["code"].max_length == 12 and info.fields["notes"].max_length is None
    assert info.fields["code"].nullable is False and info.fields["notes"].nullable is True
    assert info.fields["id"].nullable is False
    assert info.primary_key == ("id",)
    assert sorted(info.unique_keys) == [("code", "region"), ("email",)]


def test_reflection_is_cached_per_connector(backend: Backend, connector: CrmDbConnector,
                                            statements: Statements) -> None:
    table = _typed_table(backend)
    connector.describe(table.name)
    sql = statements(connector)
    connector.describe(table.name)
    connector.prepare(table.name, {"code": "A"})
    assert sql == []


def test_target_key_field_is_the_single_column_primary_key(backend: Backend, connector: CrmDbConnector) -> None:
    table = _typed_table(backend)
    assert connector.target_key_field(table.name) == "id"
    assert connector.target_key_field("no_such_table_hub") is None
