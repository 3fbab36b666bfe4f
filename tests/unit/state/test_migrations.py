"""The Alembic migrations (the core's and each installed package's branch) build exactly the tables the models
describe, and the codec is lossless."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections import OrderedDict
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from hub.manifest import resolve
from hub.registry import branches
from hub.state import codec
from hub.state.models import Base
from hub.state.store import StateStore
from hub.testing.databases import mariadb_database, postgres_schema


def every_model() -> sa.MetaData:
    """The core's tables and those of every installed package that keeps tables in the hub database."""
    combined = sa.MetaData()
    for metadata in (Base.metadata, *(resolve(tables.metadata) for tables in branches() if tables.metadata)):
        for table in metadata.tables.values():
            table.to_metadata(combined)
    return combined


def test_migrated_database_matches_the_models(tmp_path: Path) -> None:
    assert "telephony" in {tables.branch for tables in branches()}
    store = StateStore(f"sqlite:///{tmp_path / 'hub.db'}")
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": "hub_alembic_version"})
        assert compare_metadata(context, every_model()) == []
    store.close()


def test_tables_a_package_created_itself_before_its_branch_are_kept(tmp_path: Path) -> None:
    """A hub database from before the telephony branch: the listener had created its tables on first use."""
    from connectors.telephony.state import legs_table, metadata

    url = f"sqlite:///{tmp_path / 'hub.db'}"
    engine = sa.create_engine(url)
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(legs_table.insert().values(pbx="pbx", uniqueid="1.1", linkedid="1.1",
                                                      committed_at=dt.datetime(2026, 1, 1)))
    engine.dispose()

    store = StateStore(url)
    with store.engine.connect() as connection:
        assert connection.execute(sa.select(legs_table.c.uniqueid)).scalars().all() == ["1.1"]
        versions = set(connection.execute(sa.text("SELECT version_num FROM hub_alembic_version")).scalars())
    store.close()
    assert "telephony_0001" in versions


def test_opening_a_current_database_again_is_a_no_op(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    StateStore(url).close()
    store = StateStore(url)
    run_id = store.start_run("x", "plan", "v")
    assert store.run(run_id).status == "running"
    store.close()


def test_codec_round_trips_the_types_records_carry() -> None:
    payload = {"amount": Decimal("118000.50"), "when": dt.datetime(2025, 6, 3, 12, 0, tzinfo=dt.UTC),
               "day": dt.date(2025, 6, 3), "raw": b"\x00\xff", "nested": [{"x": Decimal("1.0")}], "text": "Ромашка"}
    assert codec.loads(codec.dumps(payload)) == payload


def test_content_hash_tells_values_and_types_apart() -> None:
    assert codec.content_hash({"a": 1, "b": "x"}) == codec.content_hash({"a": 1, "b": "x"})
    assert codec.content_hash({"a": 1}) != codec.content_hash({"a": 2})
    assert codec.content_hash({"a": "1, 'b': 2"}) != codec.content_hash({"a": "1", "b": 2})
    assert codec.content_hash({"a": Decimal("1.10")}) != codec.content_hash({"a": "1.10"})


def test_content_hash_does_not_depend_on_key_or_set_order() -> None:
    assert codec.content_hash({"a": 1, "b": [{"x": 1, "y": 2}]}) == \
        codec.content_hash({"b": [{"y": 2, "x": 1}], "a": 1})
    assert codec.content_hash({"tags": {"x", "y", "z"}}) == codec.content_hash({"tags": {"z", "y", "x"}})
    assert codec.content_hash({"a": [1, 2]}) != codec.content_hash({"a": [2, 1]})
    assert codec.content_hash({"a": {"x"}}) != codec.content_hash({"a": ["x"]})
    assert codec.content_hash({"a": {}}) != codec.content_hash({"a": set()})


def test_content_hash_tells_nesting_apart_from_text_that_looks_like_it() -> None:
    """Flat records are hashed by a shortcut (their values' repr in one go); nested ones element by element:
    neither may meet the other, nor text that spells the same."""
    assert codec.content_hash({"a": [1]}) != codec.content_hash({"a": (1,)})
    assert codec.content_hash({"a": [1]}) != codec.content_hash({"a": "[1]"})
    assert codec.content_hash({"a": [1, 2]}) != codec.content_hash({"a": [[1, 2]]})
    assert codec.content_hash({"a": 1, "b": [2]}) != codec.content_hash({"a": [1], "b": 2})
    assert codec.content_hash(["x", {"a": 1}]) != codec.content_hash(["x", {"a": 1}, {}])
    assert codec.content_hash({1: "x", "1": "y"}) == codec.content_hash({"1": "y", 1: "x"})  # mixed key types
    assert codec.content_hash({"a": 1}) != codec.content_hash({"a": True})
    ordered = OrderedDict([("b", 2), ("a", 1)])
    assert codec.content_hash([ordered]) == codec.content_hash([{"a": 1, "b": 2}])  # a dict is a dict


def test_the_quick_head_check_agrees_with_alembic() -> None:
    from alembic.script import ScriptDirectory

    from hub.state.migrate import alembic_config, head_revisions

    assert head_revisions() == set(ScriptDirectory.from_config(alembic_config()).get_heads())


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres),
                                     pytest.param("mariadb", marks=pytest.mark.mariadb)])
def test_a_database_behind_the_scripts_is_migrated_and_a_new_one_is_built(backend: str, tmp_path: Path) -> None:
    """The start-up check reads the version without Alembic: a new database (no version table) and one at an
    older revision are both told apart from a current one, and brought up to date."""
    from hub.state.migrate import current_revisions, is_current

    with _database(backend, tmp_path) as url:
        store = StateStore(url, migrate=False)
        assert not is_current(store.engine)  # no version table yet
        store.close()
        store = StateStore(url)
        assert is_current(store.engine)
        core_head = min(current_revisions(store.engine))  # "0007" before "telephony_0001"
        with store.engine.begin() as c:
            c.execute(text("UPDATE hub_alembic_version SET version_num = '0004' WHERE version_num = :head"),
                      {"head": core_head})
        assert not is_current(store.engine)
        with store.engine.begin() as c:  # the head again, as if its upgrade had run
            c.execute(text("UPDATE hub_alembic_version SET version_num = :head WHERE version_num = '0004'"),
                      {"head": core_head})
        assert is_current(store.engine)
        store.close()


@contextlib.contextmanager
def _database(backend: str, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'hub.db'}"
    elif backend == "postgres":
        with postgres_schema("hub_migrate") as url:
            yield url
    else:
        with mariadb_database("hub_migrate") as url:
            yield url


@pytest.mark.postgres
def test_postgres_stores_a_ledger_batch_entry_uncompressed() -> None:
    """A batch entry lives only until its batch's state commit: PostgreSQL keeps it out of line without
    compressing it (migration 0009), and it reads back whole."""
    with postgres_schema("hub_migrate") as url:
        store = StateStore(url)
        try:
            with store.engine.connect() as c:
                storage = c.execute(text("SELECT attstorage FROM pg_attribute WHERE attrelid = "
                                         "'hub_ledger_batch'::regclass AND attname = 'intents'")).scalar()
            assert storage == "e"  # external: out of line, uncompressed (the default, "x", compresses)
            run_id = store.start_run("prices", "apply", "v1")
            intents = [(f"key {n}", f"SKU-{n}", "create", {"sku": f"SKU-{n}"}, None) for n in range(5000)]
            store.intend_batch("prices", run_id, intents)
            assert [effect[:5] for effect in store.pending_effects("prices")] == \
                [(k, s, a, m, t) for k, s, a, m, t in intents]
        finally:
            store.close()
