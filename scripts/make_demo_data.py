#!/usr/bin/env python3
"""Shim for `cyclegan-audio make-demo-data`; see cyclegan_audio/cli/make_demo_data.py."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cyclegan_audio.cli.make_demo_data import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
