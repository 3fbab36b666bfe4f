"""Throwaway databases on the real local servers, for tests: a PostgreSQL schema, a MariaDB database or a
Firebird database file that exists for one test session and is dropped afterwards (even when the test fails).

Firebird: the server runs as its own user, so the files live in a directory it can write
(``/var/lib/firebird/3.0/data`` of Debian's firebird3.0-server); SYSDBA's password ``masterkey`` is the one
``.ci/run`` sets for the test server only (override with ``HUB_TEST_FIREBIRD_*``).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from urllib.parse import unquote

from sqlalchemy import create_engine, text

POSTGRES_URL = os.environ.get("HUB_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MARIADB_URL = os.environ.get("HUB_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test")
FIREBIRD_SERVER = os.environ.get("HUB_TEST_FIREBIRD_SERVER", "127.0.0.1:3050")
FIREBIRD_DIR = os.environ.get("HUB_TEST_FIREBIRD_DIR", "/var/lib/firebird/3.0/data")
FIREBIRD_USER = os.environ.get("HUB_TEST_FIREBIRD_USER", "SYSDBA")
FIREBIRD_PASSWORD = os.environ.get("HUB_TEST_FIREBIRD_PASSWORD", "masterkey")


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


@contextlib.contextmanager
def postgres_schema(prefix: str = "hub_test") -> Iterator[str]:
    """A URL whose connections work in a fresh schema (via search_path)."""
    name = unique_name(prefix)
    with _throwaway(POSTGRES_URL, f'CREATE SCHEMA "{name}"', f'DROP SCHEMA "{name}" CASCADE'):
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{name}"


def schema_of(url: str) -> str:
    """The schema a :func:`postgres_schema` URL puts its connections in (for code that takes it apart)."""
    return unquote(url.split("search_path%3D", 1)[1])


@contextlib.contextmanager
def mariadb_database(prefix: str = "hub_test") -> Iterator[str]:
    """A URL of a fresh database."""
    name = unique_name(prefix)
    with _throwaway(MARIADB_URL, f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
                    f"DROP DATABASE `{name}`"):
        yield MARIADB_URL.rsplit("/", 1)[0] + f"/{name}?charset=utf8mb4"


@contextlib.contextmanager
def firebird_database(prefix: str = "hub_test", charset: str = "UTF8") -> Iterator[str]:
    """A URL of a fresh Firebird database file whose default character set is ``charset`` (UTF8, WIN1251).

    The connection charset stays UTF8: the server converts to the database's own charset and back.
    """
    from firebird.driver import connect, create_database

    from connectors.crm_db.firebird_dialect import load_client_library  # fbclient is needed only here

    load_client_library()  # before the driver loads it with a process-wide side effect

    path = f"{FIREBIRD_DIR}/{unique_name(prefix)}.fdb"
    host, port = FIREBIRD_SERVER.rsplit(":", 1)
    dsn = f"{host}/{port}:{path}"
    login = {"user": FIREBIRD_USER, "password": FIREBIRD_PASSWORD}
    create_database(dsn, charset=charset, **login).close()
    try:
        yield f"firebird://{FIREBIRD_USER}:{FIREBIRD_PASSWORD}@{FIREBIRD_SERVER}/{path}?charset=UTF8"
    finally:
        with connect(dsn, **login) as conn:
            conn.drop_database()


@contextlib.contextmanager
def _throwaway(admin_url: str, create: str, drop: str) -> Iterator[None]:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            c.execute(text(create))
        try:
            yield
        finally:
            with admin.connect() as c:
                c.execute(text(drop))
    finally:
        admin.dispose()
