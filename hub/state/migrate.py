"""Bring the hub database to the current schema with Alembic (run on every start; cheap when current).

The history is the core's (``hub/state/migrations``) plus one branch per installed connector package that keeps
tables in the hub database (its manifest's :class:`~hub.manifest.Tables`, e.g. ``telephony``): every head is
upgraded, in one version table.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "hub_alembic_version"


def alembic_config() -> Config:
    from hub.registry import branches  # here: the registry loads the installed packages' manifests

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "newline")  # package paths may hold spaces
    locations = [MIGRATIONS / "versions", *(tables.versions for tables in branches())]
    config.set_main_option("version_locations", "\n".join(str(location) for location in locations))
    return config


def is_current(engine: Engine, config: Config | None = None) -> bool:
    heads = set(ScriptDirectory.from_config(config or alembic_config()).get_heads())
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        current = set(context.get_current_heads())
    return current == heads


def upgrade(engine: Engine) -> None:
    config = alembic_config()
    if is_current(engine, config):
        return
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # several workers may start at once: one migrates, the others wait for it
            connection.execute(text("SELECT pg_advisory_xact_lock(7261634)"))
        config.attributes["connection"] = connection
        command.upgrade(config, "heads")
