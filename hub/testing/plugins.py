"""Connector packages for tests: registered in this process only, or installed the real way (a ``.dist-info``
with its entry points on ``sys.path``, seen by ``importlib.metadata`` exactly as a pip-installed package is)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

from hub import registry
from hub.manifest import Manifest


@contextlib.contextmanager
def registered(manifest: Manifest) -> Iterator[Manifest]:
    """``manifest`` registered in this process for the block."""
    registry.register(manifest)
    try:
        yield manifest
    finally:
        registry.unregister(manifest.name)


def install_on_path(root: Path, distribution: str, entry_points: Mapping[str, str],
                    version: str = "0.0.1") -> Path:
    """Make ``root`` (holding the package's modules) an installed distribution with these ``hub.connectors``
    entry points: a ``.dist-info`` next to the modules and ``root`` on ``sys.path``. Returns the ``.dist-info``
    directory."""
    dist_info = root / f"{distribution.replace('-', '_')}-{version}.dist-info"
    dist_info.mkdir(parents=True, exist_ok=True)
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n",
                                        encoding="utf-8")
    lines = [f"[{registry.GROUP}]", *(f"{name} = {value}" for name, value in entry_points.items())]
    (dist_info / "entry_points.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    registry.refresh()
    return dist_info
