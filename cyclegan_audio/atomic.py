"""Atomic file writes: write beside the target, then rename over it.

A reader never sees a half-written tile, manifest, audio file or checkpoint,
and a killed process leaves the previous version in place. Files get the
usual permissions (0666 minus the umask), not mkstemp's private 0600.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Read once: os.umask can only be read by setting it, which would race with other threads
# creating files if done per file.
_FILE_MODE = 0o666 & ~_read_umask()


def temp_beside(path: str | Path) -> Path:
    """An empty temporary file in ``path``'s folder (created, with normal permissions)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent
    )
    os.close(fd)
    os.chmod(tmp, _FILE_MODE)
    return Path(tmp)


def commit(tmp: str | Path, path: str | Path, *, fsync: bool = False) -> Path:
    """Move a finished temporary file onto ``path`` (optionally fsynced first)."""
    if fsync:
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
    os.replace(tmp, path)
    return Path(path)


def discard(tmp: str | Path) -> None:
    if os.path.exists(tmp):
        os.unlink(tmp)


@contextmanager
def atomic_path(path: str | Path, *, fsync: bool = False) -> Iterator[Path]:
    """``with atomic_path(p) as tmp: write(tmp)`` -> ``p`` appears whole, or not at all."""
    tmp = temp_beside(path)
    try:
        yield tmp
        commit(tmp, path, fsync=fsync)
    finally:
        discard(tmp)
