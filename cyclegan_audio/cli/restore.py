"""``cyclegan-audio restore TILE.png [...] --manifest M -o out.wav``: tiles back to audio.

Tiles are joined in the order given and turned into one signal with the
manifest's spec (fast Griffin-Lim). 8-bit and RGB PNGs of the right size are
accepted, so tiles that went through another CycleGAN implementation come back.
"""

from __future__ import annotations

import argparse

from .. import audio
from .. import phase as P
from ..restore import restore_tiles
from . import user_errors

PHASES = ("random", "source") + (("pghi",) if hasattr(P, "pghi_phase") else ())


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cyclegan-audio restore", description=__doc__.splitlines()[0])
    p.add_argument("tiles", nargs="+", help="tile PNGs, in time order")
    p.add_argument(
        "--manifest", required=True, help="manifest.json (or its folder) that holds the spec"
    )
    p.add_argument("-o", "--output", required=True, help="audio file to write (wav, flac, ogg …)")
    p.add_argument(
        "--phase",
        choices=PHASES,
        default="random",
        help="initial phase: random, source (the tiles' source file, when they are consecutive "
        "tiles of one file in the manifest)"
        + (", pghi (phase-gradient integration)" if "pghi" in PHASES else ""),
    )
    p.add_argument(
        "--n-iter",
        type=int,
        default=P.DEFAULT_N_ITER,
        help="Griffin-Lim iterations (default: %(default)s)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the random initial phase")
    return p


@user_errors
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    restored = restore_tiles(
        args.tiles, args.manifest, phase=args.phase, n_iter=args.n_iter, seed=args.seed
    )
    protect = [*args.tiles, args.manifest] + ([restored.source] if restored.source else [])
    out = audio.save(args.output, restored.y, restored.spec.sample_rate, protect=tuple(protect))
    seconds = len(restored.y) / restored.spec.sample_rate
    print(
        f"wrote {out}: {seconds:.2f} s at {restored.spec.sample_rate} Hz from {len(args.tiles)} tiles "
        f"(phase {args.phase}, {args.n_iter} iterations)"
    )
    if restored.lsd_db is not None:
        print(f"log-spectral distance to the source ({restored.source}): {restored.lsd_db:.2f} dB")
    return 0
