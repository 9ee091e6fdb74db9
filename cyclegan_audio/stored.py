"""Reading a stored artefact (checkpoint meta, manifest): its format version, and errors that
name the file.

Each artefact carries ``format_version``; a reader refuses a version it does not read, with
what to do instead, and a field that is missing, mistyped or invalid becomes one error naming
the file (never a traceback).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import __version__
from .errors import CycleGanAudioError


@dataclass(frozen=True)
class StoredFormat:
    what: str  # "checkpoint", "manifest": the word in messages
    version: int  # the format version this code writes and reads
    error: type[CycleGanAudioError]
    fix: str  # what to do with a version this code does not read

    @contextmanager
    def reading(self, path: str | Path, data: dict[str, Any]) -> Iterator[None]:
        """Check ``data``'s format version, then read its fields inside the ``with``."""
        found = data.get("format_version")
        if found != self.version:
            raise self.error(
                f"{path}: {self.what} format version {found!r} cannot be read by cyclegan-audio "
                f"{__version__} (reads version {self.version}); {self.fix}"
            )
        try:
            yield
        except CycleGanAudioError as exc:  # e.g. a spec from a newer version
            raise self.error(f"{path}: {exc}") from None
        except (KeyError, TypeError) as exc:
            raise self.error(f"{path}: {self.what} is incomplete ({exc})") from None
