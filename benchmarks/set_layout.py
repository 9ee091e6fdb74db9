"""What the scripts that render development sets (voice_set.py, instrument_set.py) share:
the checks made before any audio is rendered, so a missing tool or an existing folder costs
one line and touches nothing."""

from __future__ import annotations

import shutil
from pathlib import Path


def cannot_start(script: str, out: Path, tool: str, install: str) -> str | None:
    """The one line that stops ``script`` before it renders anything (``tool`` missing from
    PATH, or ``out`` already there: a set is never written over), else None."""
    if shutil.which(tool) is None:
        return f"{script}: {tool} is not on PATH (apt-get install {install})"
    if out.exists():
        return f"{script}: {out} exists; choose a new folder"
    return None
