#!/usr/bin/env python3
"""Shim for `cyclegan-audio score`; see cyclegan_audio/cli/score.py.

The old tile choice ``--pick spread|first`` is now ``--tiles``; it is still accepted here.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cyclegan_audio.cli.score import main as _main  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    for i, arg in enumerate(args[:-1]):
        if arg == "--pick" and args[i + 1] in ("spread", "first"):
            args[i] = "--tiles"
    return _main(args)


if __name__ == "__main__":
    sys.exit(main())
