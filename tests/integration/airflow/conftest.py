"""Airflow for the DAG tests: a SQLite metadata DB in a temporary AIRFLOW_HOME, set before anything imports airflow
(Airflow reads its configuration once, at import). The DAGs are the project's dags/; each test points
``HUB_MAPPINGS_DIR`` at the mappings it needs. All DAG tests run in this one process: the first ``dag.test()``
costs ~9 s, later ones well under a second.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
_HOME = Path(tempfile.mkdtemp(prefix="hub-airflow-tests-"))
atexit.register(shutil.rmtree, _HOME, ignore_errors=True)

os.environ.update({
    "AIRFLOW_HOME": str(_HOME),
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_HOME / 'airflow.db'}",
    "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__LAZY_DISCOVER_PROVIDERS": "False",  # the hub's provider: connection types, run notes
})

import pytest  # noqa: E402

MAPPINGS = Path(__file__).resolve().parent / "mappings"


@pytest.fixture(scope="session")
def airflow_db() -> Iterator[Path]:
    """A fresh Airflow metadata database for the session."""
    from airflow.utils import db

    db.resetdb()
    yield _HOME


@pytest.fixture
def hub_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The hub's own database for the tasks of this test (an empty SQLite file)."""
    monkeypatch.setenv("HUB_HOME", str(tmp_path / "hub"))
    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite:///{tmp_path / 'hub.db'}")
    return tmp_path


@pytest.fixture
def dagbag() -> Callable[[], Any]:
    """Parse dags/ now (call it after setting HUB_MAPPINGS_DIR); parsing needs no database."""
    from airflow.models import DagBag

    return lambda: DagBag(dag_folder=str(ROOT / "dags"))
