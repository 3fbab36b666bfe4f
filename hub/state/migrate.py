"""Bring the hub database to the current schema with Alembic (run on every start; cheap when current).

Whether the database is current is checked without Alembic: importing it costs a second of a run's start-up
on a busy machine (a cursor run that finds nothing to do takes about as long), and it is only needed when
there is something to migrate.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "hub_alembic_version"
_REVISION = re.compile(r"^revision\s*(?::\s*str\s*)?=\s*['\"]([^'\"]+)['\"]", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision\s*(?::[^=]*)?=\s*(.+)$", re.MULTILINE)


def alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str | None:
    """The one head of the migration scripts, read from their ``revision`` and ``down_revision`` lines;
    None when they do not make a plain chain (branches, merges): Alembic decides then."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in (MIGRATIONS / "versions").glob("*.py"):
        source = script.read_text(encoding="utf-8")
        revision, down = _REVISION.search(source), _DOWN_REVISION.search(source)
        if revision is None or down is None:
            return None
        revisions.add(revision.group(1))
        parents.update(re.findall(r"['\"]([^'\"]+)['\"]", down.group(1)))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; None when it has none yet (no version table)."""
    try:
        with engine.connect() as connection:
            rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
    except DBAPIError:  # no version table: a new database
        return None
    return rows[0][0] if len(rows) == 1 else None


def is_current(engine: Engine) -> bool:
    head = head_revision()
    if head is not None:
        return current_revision(engine) == head
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    with engine.connect() as connection:
        current = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE}).get_current_revision()
    return current == head


def upgrade(engine: Engine) -> None:
    if is_current(engine):
        return
    from alembic import command

    config = alembic_config()
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # several workers may start at once: one migrates, the others wait for it
            connection.execute(text("SELECT pg_advisory_xact_lock(7261634)"))
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
