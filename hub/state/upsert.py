"""A portable ``INSERT ... ON CONFLICT DO UPDATE`` for the hub's own tables (SQLite, PostgreSQL, MariaDB)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import mysql, postgresql, sqlite


def upsert(connection: Connection, table: Table, rows: Sequence[dict[str, Any]], conflict: Sequence[str],
           update: Sequence[str]) -> None:
    if not rows:
        return
    dialect = connection.dialect.name
    if dialect in ("mysql", "mariadb"):
        stmt = mysql.insert(table)
        stmt = stmt.on_duplicate_key_update({c: stmt.inserted[c] for c in update})
    else:
        module = postgresql if dialect == "postgresql" else sqlite
        stmt = module.insert(table)
        if update:
            stmt = stmt.on_conflict_do_update(index_elements=list(conflict),
                                              set_={c: stmt.excluded[c] for c in update})
        else:
            stmt = stmt.on_conflict_do_nothing(index_elements=list(conflict))
    connection.execute(stmt, list(rows))
