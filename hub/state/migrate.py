"""Bring the hub database to the current schema with Alembic (run on every start; cheap when current).

The history is the core's (``hub/state/migrations``) plus one branch per installed connector package that keeps
tables in the hub database (its manifest's :class:`~hub.manifest.Tables`, e.g. ``telephony``): every head is
upgraded, in one version table.

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


def version_locations() -> list[Path]:
    """The core's migrations, then each installed package's branch."""
    from hub.registry import branches  # here: the registry loads the installed packages' manifests

    return [MIGRATIONS / "versions", *(tables.versions for tables in branches())]


def alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "newline")  # package paths may hold spaces
    config.set_main_option("version_locations", "\n".join(str(location) for location in version_locations()))
    return config


def head_revisions() -> set[str] | None:
    """The heads of the migration scripts (one per branch), read from their ``revision`` and ``down_revision``
    lines; None when a script does not say them plainly: Alembic decides then."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for location in version_locations():
        for script in location.glob("*.py"):
            source = script.read_text(encoding="utf-8")
            revision, down = _REVISION.search(source), _DOWN_REVISION.search(source)
            if revision is None or down is None:
                return None
            revisions.add(revision.group(1))
            parents.update(re.findall(r"['\"]([^'\"]+)['\"]", down.group(1)))
    return revisions - parents


def current_revisions(engine: Engine) -> set[str]:
    """The revisions the database is at (one per branch); empty when it has none yet (no version table)."""
    try:
        with engine.connect() as connection:
            return {row[0] for row in connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))}
    except DBAPIError:  # no version table: a new database
        return set()


def is_current(engine: Engine) -> bool:
    heads = head_revisions()
    if heads is not None:
        return current_revisions(engine) == heads
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    with engine.connect() as connection:
        current = set(MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
                      .get_current_heads())
    return current == heads


def upgrade(engine: Engine) -> None:
    if is_current(engine):
        return
    from alembic import command

    config = alembic_config()
    with engine.begin() as connection:
        # several processes may start at once on a new database: one migrates, the others wait for it, then
        # find it current (alembic reads the version again under the lock)
        mysql = connection.dialect.name in ("mysql", "mariadb")
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(7261634)"))
        elif mysql:  # DDL commits as it goes there: a named lock of the session, released below
            connection.execute(text("SELECT GET_LOCK('hub_migrate', 300)"))
        try:
            config.attributes["connection"] = connection
            command.upgrade(config, "heads")
        finally:
            if mysql:
                connection.execute(text("SELECT RELEASE_LOCK('hub_migrate')"))
