"""``cyclegan-audio score``: re-score and rank saved checkpoints with today's validation score.

    cyclegan-audio score --data data/prepared checkpoints/run/epoch-*.ckpt
    cyclegan-audio score --data data/prepared checkpoints/run/*.ckpt --n-val-tiles 16 --subsets 12
    best=$(cyclegan-audio score --data data/prepared checkpoints/run/epoch-*.ckpt --pick)

One line per checkpoint: epoch, generator steps, the score (lower is better) and its
parts, and ``recorded``, the val/score saved during training (an older score for older
checkpoints). ``--pick`` prints only the path of the best checkpoint on stdout (the table
goes to stderr). ``--subsets K`` also scores K random subsets: the score's sampling noise.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from ..rescore import TILE_CHOICES, CheckpointScore, best, score_checkpoints
from ..training import RunConfig
from . import int_at_least, user_errors

PARTS = ("domain_ab", "domain_ba", "pitch", "onset", "cycle")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cyclegan-audio score", description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoints", nargs="+", type=Path)
    p.add_argument("--data", type=Path, required=True, help="the prepared folder trained on")
    p.add_argument(
        "--n-val-tiles", type=int_at_least(2), default=RunConfig.n_val_tiles, help="per domain"
    )
    p.add_argument(
        "--tiles",
        choices=TILE_CHOICES,
        default="spread",
        help="which val tiles: spread over the recordings (training's choice, default) or the "
        "first N in manifest order (the old choice, to compare)",
    )
    p.add_argument(
        "--weights",
        choices=("ema", "raw"),
        default="ema",
        help="score the generators' moving average (default; raw when a checkpoint has none) "
        "or the raw weights",
    )
    p.add_argument("--subsets", type=int_at_least(0), default=0, help="also score K random subsets")
    p.add_argument("--seed", type=int, default=0, help="seed of the random subsets")
    p.add_argument("--pick", action="store_true", help="print only the best checkpoint's path")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    return p


def _row(s: CheckpointScore) -> str:
    def num(x: float | None) -> str:
        return f"{x:.3f}" if x is not None else "-"

    epoch = "?" if s.epoch is None else str(s.epoch)
    steps = "?" if s.generator_steps is None else str(s.generator_steps)
    cells = [f"{epoch:>5s}", f"{steps:>7s}", f"{s.weights:>4s}", f"{num(s.result['score']):>7s}"]
    cells += [f"{num(s.result.get(k)):>9s}" for k in PARTS]
    cells.append(f"{num(s.recorded):>8s}")
    line = f"{str(s.path):40s} " + " ".join(cells)
    if s.subset_scores:
        mean, sd = float(np.mean(s.subset_scores)), float(np.std(s.subset_scores))
        line += f"  random subsets: {mean:.3f} ± {sd:.3f} ({len(s.subset_scores)})"
    return line


@user_errors
def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    table = sys.stderr if a.pick else sys.stdout
    head = ["epoch", "step", "wts", "score", *PARTS, "recorded"]
    widths = [5, 7, 4, 7, *[9] * len(PARTS), 8]
    columns = " ".join(f"{h:>{w}s}" for h, w in zip(head, widths))
    note = f"(n = {a.n_val_tiles} per domain, {a.tiles}; lower is better)"
    print(f"{'checkpoint':40s} {columns}   {note}", file=table)
    scores = []
    same_name = {k: getattr(a, k) for k in ("n_val_tiles", "tiles", "subsets", "seed", "device")}
    scored = score_checkpoints(a.checkpoints, a.data, use_ema=a.weights == "ema", **same_name)
    for s in scored:
        scores.append(s)
        print(_row(s), file=table, flush=True)
    top = best(scores)
    if a.pick:
        print(top.path)
    else:
        print(f"best: {top.path} (epoch {top.epoch}, score {top.result['score']:.3f})")
    return 0
