"""Settings shared by the whole suite. Airflow reads its configuration at import, so anything it needs is
set here, before any test module imports it."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_SESSION_HOME = Path(tempfile.mkdtemp(prefix="hub-tests-"))
atexit.register(shutil.rmtree, _SESSION_HOME, ignore_errors=True)  # after the session, whatever its end

os.environ.setdefault("HUB_HOME", str(_SESSION_HOME / "hub"))
os.environ.setdefault("HUB_DEFAULT_REGION", "RU")
os.environ.setdefault("HUB_TIMEZONE", "Europe/Moscow")
# Airflow reads its configuration once, when first imported: whichever test imports it first must find a
# private home, never ~/airflow. The Airflow test directories set their own (richer) settings on top.
os.environ.setdefault("AIRFLOW_HOME", str(_SESSION_HOME / "airflow"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{_SESSION_HOME / 'airflow.db'}")


from connectors.onec.metadata import METADATA_CACHE  # noqa: E402  (after the environment above)
from hub.registry import register  # noqa: E402
from hub.testing.memory import MANIFEST as MEMORY  # noqa: E402

register(MEMORY)  # the in-memory test connector is the tests' own, not an installed package


@pytest.fixture(autouse=True)
def _fresh_onec_metadata_cache() -> Iterator[None]:
    """``$metadata`` is cached per process by service address; simulators reuse loopback ports, so one test's 1C
    (say, a trimmed configuration) must never be answered with the metadata of an earlier test's 1C."""
    METADATA_CACHE.clear()
    yield
    METADATA_CACHE.clear()
