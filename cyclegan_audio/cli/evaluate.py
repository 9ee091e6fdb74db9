"""``evaluate``: score translations of a paired test set and write results.json + report.html."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..evaluation import BASELINES, EvalConfig, evaluate, summary
from ..inference import DEFAULT_LOUDNESS, LOUDNESS_POLICIES
from . import user_errors


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cyclegan-audio evaluate",
        description="Translate a paired test set (or take translated files) and score pitch accuracy, "
        "target-style share and log-spectral distance against identity and ground truth.",
    )
    p.add_argument(
        "--test-dir", required=True, help="folder with A/ and B/ holding same-named files"
    )
    p.add_argument(
        "--train-dir",
        required=True,
        help="folder with A/ and B/ training audio (domain classifier)",
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument("--ckpt", help="checkpoint to translate with")
    src.add_argument(
        "--translated",
        help="folder of already-translated files (same names as the inputs); "
        "with neither, only the references (and --baseline) are scored",
    )
    p.add_argument(
        "--notes", help="meta.json with the test files' true notes (else: the source's pitch)"
    )
    p.add_argument("--direction", choices=("AtoB", "BtoA"), default="AtoB")
    p.add_argument(
        "--baseline", choices=BASELINES, help="also score the training-free style transfer"
    )
    p.add_argument("--out", help="report folder (default: reports/<checkpoint run or folder name>)")
    p.add_argument("--seed", type=int, default=0, help="domain classifier seed")
    p.add_argument(
        "--loudness",
        choices=LOUDNESS_POLICIES,
        default=DEFAULT_LOUDNESS,
        help="with --ckpt: translate's output level policy (default: %(default)s)",
    )
    p.add_argument(
        "--device", help="cpu, cuda, … (default: cpu for the model, auto for the baseline)"
    )
    return p


def _default_out(args) -> str:
    if args.ckpt:
        ckpt = Path(args.ckpt)
        return str(Path("reports") / (ckpt.parent.name or ckpt.stem))
    if args.translated:
        return str(Path("reports") / (Path(args.translated).resolve().name or "translated"))
    return str(Path("reports") / "references")


@user_errors
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    cfg = EvalConfig(
        test_dir=args.test_dir, train_dir=args.train_dir, out_dir=args.out or _default_out(args),
        ckpt=args.ckpt, translated_dir=args.translated, notes=args.notes, direction=args.direction,
        baseline=args.baseline, seed=args.seed, device=args.device, loudness=args.loudness,
    )  # fmt: skip
    results = evaluate(cfg)
    print(summary(results))
    print(
        f"\nreport: {Path(cfg.out_dir) / 'report.html'}  (scores: {Path(cfg.out_dir) / 'results.json'})"
    )
    return 0
