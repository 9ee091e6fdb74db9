"""Spectrogram-spec flags, for the commands with no manifest or checkpoint to read a spec from.

`prepare` (which writes the spec into the manifest) and `stylize` offer them. A flag's
default is None so that `spec_from_flags` can tell a value written on the command line from
one left open: the open ones come from a base spec (a preset's, or that of ``--like``).
"""

from __future__ import annotations

import argparse
import dataclasses

from ..spec import FREQ_FIELDS, FREQ_SCALES, SpectrogramSpec

SPEC_FLAGS = (
    "sample_rate",
    "n_fft",
    "hop_length",
    "tile_frames",
    "clip_seconds",
    "db_floor",
    "db_ceiling",
    *FREQ_FIELDS,
)
# Flags whose type or help the default value alone does not give.
_SPECIAL = {
    "freq_scale": dict(
        type=str,
        choices=FREQ_SCALES,
        help="tile rows: linear STFT bins (n_fft // 2 + 1 of them), or log-spaced rows from "
        "--fmin-hz to sample_rate / 2, where a pitch change is a vertical shift "
        "(needs --n-bins; default: linear)",
    ),
    "n_bins": dict(type=int, help="tile height (rows) of --freq-scale log"),
    "fmin_hz": dict(
        type=float,
        help=f"centre of the lowest row of --freq-scale log (default: {SpectrogramSpec().fmin_hz})",
    ),
}


def add_spec_flags(
    parser: argparse.ArgumentParser, title: str, names: tuple[str, ...] = SPEC_FLAGS
) -> None:
    """``--sample-rate`` … for the `SpectrogramSpec` fields ``names``, in a group ``title``."""
    group = parser.add_argument_group(title)
    defaults = SpectrogramSpec()
    for name in names:
        value = getattr(defaults, name)
        options = _SPECIAL.get(name) or dict(type=type(value), help=f"default: {value}")
        group.add_argument(f"--{name.replace('_', '-')}", default=None, **options)


def spec_from_flags(args: argparse.Namespace, base: SpectrogramSpec) -> SpectrogramSpec:
    """``base`` with the spec flags written on the command line in place of its values."""
    written = {n: getattr(args, n) for n in SPEC_FLAGS if getattr(args, n, None) is not None}
    return dataclasses.replace(base, **written)
