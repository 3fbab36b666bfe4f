"""Real ``hub serve intake`` processes for the tests that need them (slow senders, replicas): the
repository's ``website_leads`` mapping with some sources' options changed, and the process on a free port."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml

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
    hub = Path(sys.executable).with_name("hub")
    process = subprocess.Popen([str(hub), "serve", "intake", "--port", "0", "--exchange", "website_leads", *options],
                               env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        line = process.stdout.readline().decode()  # type: ignore[union-attr]
        found = re.search(r"listening on (http://\S+)", line)
        assert found, f"the intake did not start: {line!r}"
        for _ in range(600):
            try:
                httpx.get(found.group(1) + "/health", timeout=5).raise_for_status()
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        yield found.group(1)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()  # type: ignore[union-attr]
