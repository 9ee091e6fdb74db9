"""Spectrogram-spec flags, for the commands with no manifest or checkpoint to read a spec from.

`prepare` (which writes the spec into the manifest) and `stylize` offer them. A flag's
default is None so that `spec_from_flags` can tell a value written on the command line from
one left open: the open ones come from a base spec (a preset's, or that of ``--like``).
"""

from __future__ import annotations

import argparse
import dataclasses

from ..spec import SpectrogramSpec

SPEC_FLAGS = (
    "sample_rate",
    "n_fft",
    "hop_length",
    "tile_frames",
    "clip_seconds",
    "db_floor",
    "db_ceiling",
)


def add_spec_flags(
    parser: argparse.ArgumentParser, title: str, names: tuple[str, ...] = SPEC_FLAGS
) -> None:
    """``--sample-rate`` … for the `SpectrogramSpec` fields ``names``, in a group ``title``."""
    group = parser.add_argument_group(title)
    defaults = SpectrogramSpec()
    for name in names:
        value = getattr(defaults, name)
        group.add_argument(
            f"--{name.replace('_', '-')}", type=type(value), default=None, help=f"default: {value}"
        )


def spec_from_flags(args: argparse.Namespace, base: SpectrogramSpec) -> SpectrogramSpec:
    """``base`` with the spec flags written on the command line in place of its values."""
    written = {n: getattr(args, n) for n in SPEC_FLAGS if getattr(args, n, None) is not None}
    return dataclasses.replace(base, **written)
