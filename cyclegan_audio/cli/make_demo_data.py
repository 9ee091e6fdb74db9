"""``make-demo-data``: synthesise a two-instrument demo data set (no download needed)."""

from __future__ import annotations

import argparse

from ..synth import make_demo_dataset
from . import user_errors


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cyclegan-audio make-demo-data",
        description="Synthesise domain A (breathy pipe with vibrato) and domain B (plucked string) "
        "from random melodies: unpaired train/A, train/B, a paired test set and meta.json.",
    )
    p.add_argument("--out", default="data/demo", help="output folder (default: data/demo)")
    p.add_argument("--seed", type=int, default=0, help="random seed; same seed, same bytes")
    p.add_argument("--n-train", type=int, default=16, help="training files per domain")
    p.add_argument("--n-test", type=int, default=4, help="paired test files")
    p.add_argument("--seconds", type=float, default=20.0, help="length of every file, s")
    p.add_argument("--sample-rate", type=int, default=16000, help="Hz (default 16000)")
    return p


@user_errors
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.n_train < 1 or args.n_test < 1 or args.seconds < 2.0 or args.sample_rate < 8000:
        build_parser().error(
            "need --n-train >= 1, --n-test >= 1, --seconds >= 2, --sample-rate >= 8000"
        )
    make_demo_dataset(**vars(args), progress=True)  # every flag is a parameter of the same name
    print(
        f"demo data: {args.out} ({args.n_train} train files per domain, {args.n_test} test pairs)"
    )
    return 0
