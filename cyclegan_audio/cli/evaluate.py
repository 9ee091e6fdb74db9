"""``evaluate``: score translations of a paired test set and write results.json + report.html."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..evaluation import EvalConfig, evaluate, summary
from . import user_errors
from .config_args import HelpFormatter, add_fields, from_args

SOURCES = ("ckpt", "translated_dir")  # one or neither


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cyclegan-audio evaluate",
        description="Translate a paired test set (or take translated files) and score pitch accuracy, "
        "target-style share and log-spectral distance against identity and ground truth.",
        formatter_class=HelpFormatter,
    )
    add_fields(p, EvalConfig, ["test_dir", "train_dir"])
    add_fields(p.add_mutually_exclusive_group(), EvalConfig, SOURCES)
    skip = ("test_dir", "train_dir", *SOURCES)
    add_fields(p, EvalConfig, skip=skip, defaults={"out_dir": None})  # None: `_default_out`
    return p


def _default_out(args) -> str:
    if args.ckpt:
        ckpt = Path(args.ckpt)
        return str(Path("reports") / (ckpt.parent.name or ckpt.stem))
    if args.translated_dir:
        return str(Path("reports") / (Path(args.translated_dir).resolve().name or "translated"))
    return str(Path("reports") / "references")


@user_errors
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    cfg = from_args(EvalConfig, args, out_dir=args.out_dir or _default_out(args))
    results = evaluate(cfg)
    print(summary(results))
    print(
        f"\nreport: {Path(cfg.out_dir) / 'report.html'}  (scores: {Path(cfg.out_dir) / 'results.json'})"
    )
    return 0
