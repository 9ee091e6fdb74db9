"""The shared set layout's checks, each one line and touching nothing: before a script renders
a set (voice_set.py, instrument_set.py: a missing tool, an existing folder) and before one
reads a set's paired test clips (epoch_lsd.py, tone_curve.py)."""

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


def missing_test_pairs(set_dir: Path) -> str | None:
    """The line naming ``set_dir`` when it lacks the layout's test/A and test/B, else None."""
    if (set_dir / "test" / "A").is_dir() and (set_dir / "test" / "B").is_dir():
        return None
    return f"{set_dir}: no test/A and test/B folders (the shared set layout)"
