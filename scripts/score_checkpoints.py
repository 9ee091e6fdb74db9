#!/usr/bin/env python3
"""Validation score of saved checkpoints, re-computed on as many val tiles as you like.

    scripts/score_checkpoints.py --data data/prepared checkpoints/run/*.ckpt
    scripts/score_checkpoints.py --data data/prepared best.ckpt --n-val-tiles 16 --subsets 12

Scores exactly as validation during training does (lower is better), on
``--n-val-tiles`` tiles per domain spread over the val recordings (the training
default), so epochs saved with a noisier setting can be re-ranked. ``--subsets K``
also scores K random subsets of that size and prints their mean and spread: the
sampling noise of the score at that many tiles.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from cyclegan_audio.checkpoint import read_checkpoint  # noqa: E402
from cyclegan_audio.cli import int_at_least, user_errors  # noqa: E402
from cyclegan_audio.data import TileDataModule, load_tile  # noqa: E402
from cyclegan_audio.errors import CheckpointError  # noqa: E402
from cyclegan_audio.model import CycleGan  # noqa: E402
from cyclegan_audio.training import RunConfig  # noqa: E402


def load_model(path: Path, device: str) -> tuple[CycleGan, dict]:
    info = read_checkpoint(path)
    model = CycleGan(info.spec, info.network)
    missing = model.load_state_dict(info.state_dict, strict=False).missing_keys
    if any(k.startswith(("g_ab.", "g_ba.")) for k in missing):
        raise CheckpointError(f"{path}: holds no full pair of generators")
    return model.to(device).eval(), info.meta


@user_errors
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoints", nargs="+", type=Path)
    p.add_argument("--data", type=Path, required=True, help="the prepared folder trained on")
    p.add_argument(
        "--n-val-tiles", type=int_at_least(2), default=RunConfig.n_val_tiles, help="per domain"
    )
    p.add_argument(
        "--pick",
        choices=("spread", "first"),
        default="spread",
        help="which val tiles: spread over the recordings (training's choice) or the first N "
        "in manifest order (the old choice, to compare)",
    )
    p.add_argument("--subsets", type=int_at_least(0), default=0, help="also score K random subsets")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    a = p.parse_args(argv)
    dm = TileDataModule(a.data, num_workers=0, n_val_tiles=a.n_val_tiles)

    def stack(paths: list[Path]) -> torch.Tensor:
        return torch.stack([load_tile(q, dm.spec) for q in paths])

    picked = (
        dm.val_paths if a.pick == "spread" else {d: dm.val_pool(d)[: a.n_val_tiles] for d in "AB"}
    )
    chosen = [stack(picked[d]) for d in "AB"]
    pool = {d: dm.val_pool(d) for d in "AB"} if a.subsets else {}
    rng = np.random.default_rng(a.seed)
    draws = [  # the same random subsets for every checkpoint
        [stack(list(rng.choice(pool[d], min(a.n_val_tiles, len(pool[d])), replace=False)))
         for d in "AB"]
        for _ in range(a.subsets)
    ]  # fmt: skip
    print(
        f"{'checkpoint':48s} {'step':>7s} {'score':>7s} {'recorded':>9s}  "
        f"(n = {a.n_val_tiles} per domain, {a.pick}; recorded = val/score saved during training)"
    )
    for path in a.checkpoints:
        model, meta = load_model(path, a.device)
        line = f"{str(path):48s} {meta.get('generator_steps', '?')!s:>7s} "
        recorded = (meta.get("val_score") or {}).get("score")
        line += f"{model.score_tiles(*chosen)['score']:7.3f} "
        line += f"{recorded:9.3f}" if recorded is not None else f"{'-':>9s}"
        if draws:
            scores = [model.score_tiles(*pair)["score"] for pair in draws]
            line += (
                f"  random subsets: {np.mean(scores):.3f} ± {np.std(scores):.3f} ({len(scores)})"
            )
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
