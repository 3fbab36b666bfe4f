"""Which files a stream names, and what tells a changed file from an unchanged one."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from hub.errors import ConfigError

READ_CHUNK = 1 << 20


@dataclass(frozen=True)
class FileRef:
    path: Path
    name: str  # the path inside the folder, with '/': what records and dead letters name
    mtime_ns: int
    size: int

    def signature(self, sha256: str) -> list[int | str]:
        """What the checkpoint keeps of a file read to its end (JSON-safe)."""
        return [self.mtime_ns, self.size, sha256]

    def same_as(self, signature: list[int | str] | None) -> bool | None:
        """True/False when time and size tell; None when only the content can (time or size moved)."""
        if not signature:
            return False
        return True if signature[:2] == [self.mtime_ns, self.size] else None


def files_of(root: Path, pattern: str) -> list[FileRef]:
    """The files ``pattern`` (a glob inside ``root``) names, by name; never a file outside ``root``."""
    if PurePosixPath(pattern).is_absolute() or ".." in PurePosixPath(pattern).parts:
        raise ConfigError(f"stream {pattern!r}: a glob inside the connection's folder (no '..', not absolute)")
    found = []
    for path in root.glob(pattern):
        if path.is_file() and not path.name.startswith((".", "~$")):  # hidden files, Excel's lock files
            stat = path.stat()
            found.append(FileRef(path, path.relative_to(root).as_posix(), stat.st_mtime_ns, stat.st_size))
    return sorted(found, key=lambda f: f.name)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(READ_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
