"""``cyclegan-audio prepare domainA/ domainB/``: audio folders -> 16-bit PNG tiles + manifest.json.

Spectrogram flags are written into the manifest and everything downstream reads them
from there (`stylize`, which has neither manifest nor checkpoint, takes them too).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

from ..preparation import (
    DEFAULT_OUT,
    DEFAULT_PEAK_DB,
    DEFAULT_SILENCE_DB,
    DEFAULT_VAL_FRACTION,
    bright_target_spec,
    prepare,
)
from ..presets import PRESETS, preset
from ..spec import SpectrogramSpec
from . import user_errors
from .spec_flags import SPEC_FLAGS, add_spec_flags, spec_from_flags


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cyclegan-audio prepare", description=__doc__.splitlines()[0])
    p.add_argument("domain_a", help="folder of domain A audio (searched recursively)")
    p.add_argument("domain_b", help="folder of domain B audio (searched recursively)")
    p.add_argument("--out", default=str(DEFAULT_OUT), help="output folder (default: %(default)s)")
    p.add_argument(
        "--workers", type=int, default=None, help="parallel processes (default: all cores)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the file-level validation split")
    p.add_argument(
        "--val-fraction",
        type=float,
        default=DEFAULT_VAL_FRACTION,
        help="share of files held out per domain (default: %(default)s)",
    )
    p.add_argument(
        "--silence-db",
        type=float,
        default=DEFAULT_SILENCE_DB,
        help="tiles whose loudest frame is below this RMS level are skipped (default: %(default)s)",
    )
    level = p.add_mutually_exclusive_group()
    level.add_argument(
        "--peak-db",
        type=float,
        default=DEFAULT_PEAK_DB,
        help="scale each file so its sample peak is at this dBFS (default: %(default)s)",
    )
    level.add_argument("--keep-level", action="store_true", help="do not normalise files' levels")
    add_spec_flags(p, "spectrogram spec (stored in the manifest)")
    p.add_argument(
        "--preset",
        choices=tuple(PRESETS),
        default=None,
        help="spec of a measured recipe: cpu = 11,025 Hz, n_fft 254, hop 86, 128x128 tiles of "
        "~1 s (train with --preset cpu; a domain B with sound above 5.5 kHz, e.g. a trumpet, "
        "gets 22,050 Hz, n_fft 510, hop 172: 256x128 tiles); cpu-voice = 22,050 Hz, n_fft "
        "1022, hop 172, 256 log-frequency rows from 32.7 Hz x 128 frames (voices; train with --preset "
        "cpu-voice); gpu = the defaults. Spec flags written still win",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _bright_target(args: argparse.Namespace, base: SpectrogramSpec) -> SpectrogramSpec:
    """`preparation.bright_target_spec` unless a spec flag was written; says so when it
    takes the full band."""
    if any(getattr(args, n, None) is not None for n in SPEC_FLAGS):
        return base
    spec, loss = bright_target_spec(args.preset, base, args.domain_b)
    if spec == base:
        return base
    print(
        f"domain B loses {loss:.1f} dB above the preset's {base.sample_rate / 2:,.0f} Hz: "
        f"--preset {args.preset} takes the full band ({spec.sample_rate:,} Hz, n_fft "
        f"{spec.n_fft}, hop {spec.hop_length}: {'x'.join(map(str, spec.tile_shape))} tiles, "
        f"about twice the training time; --sample-rate {base.sample_rate} keeps the narrow band)"
    )
    return spec


@user_errors
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    base = SpectrogramSpec()
    if args.preset:
        base = dataclasses.replace(base, **preset(args.preset)["spec"])
        base = _bright_target(args, base)
    spec = spec_from_flags(args, base)
    same_name = ("out", "workers", "seed", "val_fraction", "silence_db")  # prepare's parameters
    summary = prepare(
        args.domain_a,
        args.domain_b,
        spec=spec,
        peak_db=None if args.keep_level else args.peak_db,
        progress=not args.quiet,
        **{n: getattr(args, n) for n in same_name},
    )
    print("\n".join(summary.lines()))
    if summary.empty_domains:
        names = ", ".join(summary.empty_domains)
        print(
            f"error: domain {names} ended with no training tiles; add usable audio (see skipped files above)",
            file=sys.stderr,
        )
        return 1
    if summary.failed:
        print(
            f"error: {len(summary.failed)} files failed for a reason outside the file (see the "
            "skip lines above); fix it and run prepare again: only they are redone",
            file=sys.stderr,
        )
        return 1
    return 0
