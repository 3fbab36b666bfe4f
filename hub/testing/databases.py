"""Throwaway databases on the real local servers, for tests: a PostgreSQL schema or a MariaDB database
that exists for one test session and is dropped afterwards (even when the test fails)."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

from sqlalchemy import create_engine, text

POSTGRES_URL = os.environ.get("HUB_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MARIADB_URL = os.environ.get("HUB_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test")


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


@contextlib.contextmanager
def postgres_schema(prefix: str = "hub_test") -> Iterator[str]:
    """A URL whose connections work in a fresh schema (via search_path)."""
    name = unique_name(prefix)
    with _throwaway(POSTGRES_URL, f'CREATE SCHEMA "{name}"', f'DROP SCHEMA "{name}" CASCADE'):
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{name}"


@contextlib.contextmanager
def mariadb_database(prefix: str = "hub_test") -> Iterator[str]:
    """A URL of a fresh database."""
    name = unique_name(prefix)
    with _throwaway(MARIADB_URL, f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
                    f"DROP DATABASE `{name}`"):
        yield MARIADB_URL.rsplit("/", 1)[0] + f"/{name}?charset=utf8mb4"


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
