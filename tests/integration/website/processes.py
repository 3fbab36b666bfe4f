"""Real ``hub serve intake`` processes for the tests that need them (slow senders, replicas): the
repository's ``website_leads`` mapping with some sources' options changed, and the process on a free port."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from hub.testing.intake_replicas import intake_replicas

from .conftest import ROOT, SOURCES, secret


def intake_env(home: Path, **source_options: dict[str, Any]) -> dict[str, str]:
    """Environment for intake processes sharing one hub database under ``home``; ``source_options`` are
    merged into those sources' options (e.g. ``landing={"limits": {"max_in_flight": 3}}``)."""
    mapping = yaml.safe_load((ROOT / "mappings" / "website_leads.yaml").read_text(encoding="utf-8"))
    for name, options in source_options.items():
        mapping["source"]["options"]["sources"][name].update(options)
    directory = home / "mappings"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "website_leads.yaml").write_text(yaml.safe_dump(mapping, allow_unicode=True), encoding="utf-8")
    env = {"HUB_HOME": str(home), "HUB_MAPPINGS_DIR": str(directory),
           "HUB_DATABASE_URL": f"sqlite:///{home / 'hub.db'}"}
    for source in SOURCES:
        env[f"AIRFLOW_CONN_WEBSITE_{source.upper()}"] = json.dumps(
            {"conn_type": "hub_website", "password": secret(source), "host": "127.0.0.1", "port": 9})
    return env


@contextmanager
def intake_process(env: dict[str, str], *options: str) -> Iterator[str]:
    """``hub serve intake`` with these options; its URL once ``/health`` answers. Stopped with SIGTERM."""
    with intake_replicas(env, 1, *options) as [url]:
        yield url
