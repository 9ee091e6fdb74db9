#!/usr/bin/env python3
"""Shim for `cyclegan-audio evaluate`; see cyclegan_audio/cli/evaluate.py."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cyclegan_audio.cli.evaluate import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
