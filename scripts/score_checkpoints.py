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
from cyclegan_audio.cli import user_errors  # noqa: E402
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
    p.add_argument("--n-val-tiles", type=int, default=RunConfig.n_val_tiles, help="per domain")
    p.add_argument("--subsets", type=int, default=0, help="also score K random subsets")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    a = p.parse_args(argv)
    dm = TileDataModule(a.data, num_workers=0, n_val_tiles=a.n_val_tiles)
    every = {
        d: dm.manifest.tile_paths(d, "val") or dm.manifest.tile_paths(d, "train") for d in "AB"
    }
    tiles = {d: torch.stack([load_tile(q, dm.spec) for q in every[d]]) for d in "AB"}
    chosen = {d: [every[d].index(q) for q in dm.val_paths[d]] for d in "AB"}
    rng = np.random.default_rng(a.seed)
    print(f"{'checkpoint':48s} {'step':>7s} {'score':>7s}  (n = {a.n_val_tiles} per domain)")
    for path in a.checkpoints:
        model, meta = load_model(path, a.device)
        res = model.score_tiles(tiles["A"][chosen["A"]], tiles["B"][chosen["B"]])
        line = f"{str(path):48s} {meta.get('generator_steps', '?')!s:>7s} {res['score']:7.3f}"
        if a.subsets:
            n = {d: min(a.n_val_tiles, len(every[d])) for d in "AB"}
            draws = [
                model.score_tiles(
                    *(tiles[d][rng.choice(len(every[d]), n[d], replace=False)] for d in "AB")
                )["score"]
                for _ in range(a.subsets)
            ]
            line += f"  random subsets: {np.mean(draws):.3f} ± {np.std(draws):.3f} ({a.subsets})"
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
