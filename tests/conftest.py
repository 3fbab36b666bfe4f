"""Settings shared by the whole suite. Airflow reads its configuration at import, so anything it needs is
set here, before any test module imports it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_SESSION_HOME = Path(tempfile.mkdtemp(prefix="hub-tests-"))

os.environ.setdefault("HUB_HOME", str(_SESSION_HOME / "hub"))
os.environ.setdefault("HUB_DEFAULT_REGION", "RU")
os.environ.setdefault("HUB_TIMEZONE", "Europe/Moscow")
