"""What only Firebird has: WIN1251 databases, ids from generators filled by triggers, upper-case unquoted
names, read-committed reads that never wait for a writer, and concurrent-update errors that are retriable.
The generic connector suites run on Firebird too (``conftest.BACKENDS``)."""

from __future__ import annotations

import decimal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from connectors.crm_db import CrmDbConnector
from hub.connections import Connection
from hub.connector import WriteAction
from hub.errors import AuthError, ConfigError, DataError, RetriableError
from hub.testing.connector_kit import StreamCase, read_all, read_request
from hub.testing.databases import firebird_database

from .support import SETTINGS, Backend

pytestmark = pytest.mark.firebird

#: Cyrillic with ё, typographic quotes, a dash and the numero sign: all in WIN1251
RUSSIAN = "ООО «Ёлочка-Плюс» — склад №5, Пётр Щукин"


@pytest.fixture(scope="module", params=["UTF8", "WIN1251"])
def fb(request: pytest.FixtureRequest) -> Iterator[Backend]:
    """A Firebird database whose own character set is UTF8, or WIN1251 as in older Russian CRMs."""
    with firebird_database("hub_fb", charset=request.param) as url:
        backend = Backend("firebird", url)
        yield backend
        backend.close()


def _ddl(backend: Backend, *statements: str) -> None:
    with backend.engine.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)


def _create(code: str, **fields: Any) -> WriteAction:
    return WriteAction("create", code, {"code": code, **fields}, {"code": code}, None, f"create-{code}")


def _clients(backend: Backend) -> str:
    """A table the old way: ids from a generator a BEFORE INSERT trigger fills, names unquoted (upper-case)."""
    name = backend.table_name("klienty")
    _ddl(backend,
         f"CREATE SEQUENCE GEN_{name}",
         f"CREATE TABLE {name} (ID INTEGER NOT NULL PRIMARY KEY, CODE VARCHAR(20) NOT NULL,"
         f" NAIMENOVANIE VARCHAR(100), CONSTRAINT UQ_{name} UNIQUE (CODE))",
         f"CREATE TRIGGER BI_{name} FOR {name} BEFORE INSERT AS BEGIN"
         f" IF (NEW.ID IS NULL) THEN NEW.ID = NEXT VALUE FOR GEN_{name}; END",
         f"ALTER SEQUENCE GEN_{name} RESTART WITH 500")
    return name


def test_upper_case_unquoted_names_reflect_as_mappings_spell_them(fb: Backend) -> None:
    name = _clients(fb)
    with fb.connector() as connector:
        info = connector.describe(name)
    assert info is not None
    assert set(info.fields) == {"id", "code", "naimenovanie"}
    assert info.primary_key == ("id",) and info.unique_keys == (("code",),)
    assert info.fields["naimenovanie"].max_length == 100


def test_ids_come_from_the_generator_and_cyrillic_round_trips_exactly(fb: Backend) -> None:
    name = _clients(fb)
    with fb.connector() as connector:
        created = connector.write(name, [_create("A-1", naimenovanie=RUSSIAN), _create("A-2", naimenovanie="Ёж")],
                                  None)  # type: ignore[arg-type]
        again = connector.write(name, [_create("A-1", naimenovanie=RUSSIAN + " (изм.)")], None)  # type: ignore[arg-type]
        [batch] = read_all(connector, read_request(StreamCase(name, key=("id",), rows=[])))
    assert [(r.status, r.target_key) for r in created] == [("created", 501), ("created", 502)]
    assert [(r.status, r.target_key) for r in again] == [("updated", 501)]
    assert [(rec["id"], rec["naimenovanie"]) for rec in batch.records] == [(501, RUSSIAN + " (изм.)"), (502, "Ёж")]
    with fb.engine.connect() as conn:  # what another program reading the database sees
        stored = conn.exec_driver_sql(f"SELECT NAIMENOVANIE FROM {name} WHERE ID = 501").scalar_one()
    assert stored == RUSSIAN + " (изм.)"


def test_a_character_the_database_cannot_store_is_rejected_and_the_rest_written(fb: Backend) -> None:
    name = _clients(fb)
    with fb.connector() as connector:
        actions = [_create("B-1", naimenovanie="Склад 汉字"), _create("B-2", naimenovanie=RUSSIAN)]
        results = connector.write(name, actions, None)  # type: ignore[arg-type]
    with fb.engine.connect() as conn:
        stored = dict(conn.exec_driver_sql(f"SELECT CODE, NAIMENOVANIE FROM {name}").all())
    if _charset(fb) == "WIN1251":
        assert [r.status for r in results] == ["rejected", "created"]
        assert isinstance(results[0].error, DataError) and "汉字" not in str(results[0].error)
        assert stored == {"B-2": RUSSIAN}
    else:  # UTF8 stores every character
        assert [r.status for r in results] == ["created", "created"]
        assert stored == {"B-1": "Склад 汉字", "B-2": RUSSIAN}


def _charset(backend: Backend) -> str:
    with backend.engine.connect() as conn:
        return str(conn.exec_driver_sql("SELECT RDB$CHARACTER_SET_NAME FROM RDB$DATABASE").scalar_one()).strip()


def test_a_read_never_waits_for_a_row_another_program_is_changing(fb: Backend) -> None:
    name = _clients(fb)
    with fb.connector() as connector:
        connector.write(name, [_create("C-1", naimenovanie="до")], None)  # type: ignore[arg-type]
        holder = fb.engine.connect()
        try:
            holder.begin()
            holder.exec_driver_sql(f"UPDATE {name} SET NAIMENOVANIE = 'после' WHERE CODE = 'C-1'")
            [batch] = read_all(connector, read_request(StreamCase(name, key=("id",), rows=[])))
            assert [rec["naimenovanie"] for rec in batch.records] == ["до"]  # the committed version
        finally:
            holder.rollback()
            holder.close()


def test_an_update_conflicting_with_a_concurrent_commit_is_retriable(fb: Backend) -> None:
    name = _clients(fb)
    with fb.connector() as connector:
        [created] = connector.write(name, [_create("D-1", naimenovanie="было")], None)  # type: ignore[arg-type]
    holder = fb.engine.connect()
    holder.begin()
    holder.exec_driver_sql(f"UPDATE {name} SET NAIMENOVANIE = 'другая программа' WHERE CODE = 'D-1'")
    outcome: list[BaseException | None] = []
    update = WriteAction("update", "D-1", {"naimenovanie": "хаб"}, {}, created.target_key, "u")

    def write() -> None:
        with fb.connector() as waiting:
            try:
                waiting.write(name, [update], None)  # type: ignore[arg-type]
                outcome.append(None)
            except RetriableError as exc:
                outcome.append(exc)

    thread = threading.Thread(target=write)
    thread.start()
    try:
        _wait_until_a_statement_waits(fb, name)
        holder.commit()  # the row the hub waits for changed under it: Firebird refuses the hub's update
    finally:
        holder.close()
        thread.join(30)
    [error] = outcome
    assert isinstance(error, RetriableError), error
    with fb.engine.connect() as conn:
        assert conn.exec_driver_sql(f"SELECT NAIMENOVANIE FROM {name}").scalar_one() == "другая программа"


def _wait_until_a_statement_waits(backend: Backend, table: str) -> None:
    """Until the server shows the hub's UPDATE of ``table`` running (it is waiting for the row's lock)."""
    query = ("SELECT COUNT(*) FROM MON$STATEMENTS WHERE MON$STATE = 1 AND MON$SQL_TEXT CONTAINING ?")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with backend.engine.connect() as conn:
            if conn.exec_driver_sql(query, (f"UPDATE {table}",)).scalar_one():
                return
        time.sleep(0.05)
    raise AssertionError("the hub's update never started")


def test_the_connector_says_it_is_connected_to_firebird(fb: Backend) -> None:
    with fb.connector() as connector:
        assert "firebird" in connector.check() and "masterkey" not in connector.check()


def test_wrong_password_is_an_auth_error_naming_no_secret(fb: Backend) -> None:
    url = sa.make_url(fb.url).set(password="wrong-secret").render_as_string(hide_password=False)
    with fb.connector(url=url) as connector, pytest.raises(AuthError) as raised:
        connector.check()
    assert "wrong-secret" not in str(raised.value)


def test_a_dedicated_user_writes_the_granted_tables_and_reads_nothing_else(fb: Backend) -> None:
    """docs/crm.md: the hub connects as its own user with grants on exactly the mapped tables, never SYSDBA."""
    name, secret = _clients(fb), fb.table_name("salaries")
    user = f"HUB_{secret.upper()}"
    _ddl(fb, f"CREATE TABLE {secret} (ID INTEGER NOT NULL PRIMARY KEY)",
         f"CREATE USER {user} PASSWORD 'hub-pass'",
         f"GRANT SELECT, INSERT, UPDATE ON {name} TO USER {user}",
         f"GRANT USAGE ON SEQUENCE GEN_{name} TO TRIGGER BI_{name}")
    url = sa.make_url(fb.url).set(username=user, password="hub-pass").render_as_string(hide_password=False)
    try:
        with fb.connector(url=url) as connector:
            [created] = connector.write(name, [_create("E-1", naimenovanie="Своя учётка")], None)  # type: ignore[arg-type]
            assert created.status == "created"
            with pytest.raises(ConfigError, match="no permission"):
                read_all(connector, read_request(StreamCase(secret, key=("id",), rows=[])))
    finally:
        _ddl(fb, f"DROP USER {user}")


def test_a_connection_given_field_by_field_reaches_the_database_file(fb: Backend) -> None:
    """docs/crm.md: ``extra.dialect: firebird`` with host, port, login, password and the path as ``schema``."""
    url = sa.make_url(fb.url)
    connection = Connection(conn_id="crm", conn_type="hub_crm_db", host=url.host, port=url.port,
                            login=url.username, password=url.password, schema=url.database,
                            extra={"dialect": "firebird"})
    with CrmDbConnector(connection, SETTINGS) as connector:
        assert "connected to firebird" in connector.check()


def test_connecting_leaves_the_hubs_decimal_precision_alone(fb: Backend) -> None:
    """firebird-driver sets the decimal precision to 34 digits when it loads fbclient; the hub's mapping
    expressions (round_money's "too large" check) rely on the default 28. A fresh process shows it."""
    program = """
import decimal, sys
from connectors.crm_db import CrmDbConnector
from hub.connections import Connection
from hub.settings import HubSettings
connection = Connection(conn_id="crm", conn_type="hub_crm_db", extra={"url": sys.argv[1]})
with CrmDbConnector(connection, HubSettings()) as connector:
    connector.check()
print(decimal.getcontext().prec)
"""
    done = subprocess.run([sys.executable, "-c", program, fb.url], capture_output=True, text=True, timeout=60,
                          check=True)
    assert done.stdout.strip() == str(decimal.Context().prec)
