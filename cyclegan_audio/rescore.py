"""Re-score saved checkpoints with today's validation score, on as many val tiles as you like.

Scores exactly as validation during training does (val_score.py, lower is better), on
``n_val_tiles`` tiles per domain of a prepared folder, spread over the val recordings (the
training default) or the first N (the old choice), so checkpoints of one run, saved with
an older score or a noisier setting, can be re-ranked. ``subsets`` also scores that many
random subsets of the same size: the sampling noise of the score at that many tiles.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from . import ema
from .checkpoint import load_raw, read_meta
from .data import TileDataModule, load_tile
from .errors import CheckpointError
from .model import CycleGan, TrainConfig

TILE_CHOICES = ("spread", "first")


@dataclass
class CheckpointScore:
    """One checkpoint's score: ``result`` is val_score.score's dict ("score" and its parts)."""

    path: Path
    epoch: int | None
    generator_steps: int | None
    weights: str  # "ema" or "raw": which generator weights were scored
    result: dict[str, float]
    recorded: float | None  # the val/score saved in the checkpoint during training
    subset_scores: list[float] = field(default_factory=list)


def load_model(path: str | Path, device: str = "cpu", use_ema: bool = True):
    """(model in eval mode, checkpoint metadata, epoch, weights scored: "ema" or "raw").

    The EMA generators are scored when the checkpoint has them and ``use_ema``; otherwise
    the raw ones (checkpoints written without EMA)."""
    raw = load_raw(path)
    spec, net, meta = read_meta(raw, path)
    state = raw.get("state_dict", {})
    has_ema = ema.has_average(state)
    hparams = TrainConfig.from_dict(meta.get("hparams") or {})
    model = CycleGan(spec, net, dataclasses.replace(hparams, compile=False))
    ema.complete_state_dict(state, model.g_ab_ema is not None)
    missing = model.load_state_dict(state, strict=False).missing_keys
    if any(k.startswith(("g_ab", "g_ba")) for k in missing):
        raise CheckpointError(f"{path}: holds no full pair of generators")
    model.use_ema = use_ema and has_ema
    weights = "ema" if model.use_ema else "raw"
    return model.to(device).eval(), meta, raw.get("epoch"), weights


def val_tiles(dm: TileDataModule, n: int, tiles: str = "spread") -> tuple[torch.Tensor, ...]:
    """The (N, 1, F, T) val tiles of A and of B that validation uses ("spread") or the first
    ``n`` of each val split in manifest order ("first")."""
    if tiles not in TILE_CHOICES:
        raise ValueError(f"tiles must be one of {TILE_CHOICES}, got {tiles!r}")
    picked = dm.val_paths if tiles == "spread" else {d: dm.val_pool(d)[:n] for d in "AB"}
    return tuple(torch.stack([load_tile(q, dm.spec) for q in picked[d]]) for d in "AB")


def score_checkpoints(
    paths: Sequence[str | Path],
    data: str | Path,
    *,
    n_val_tiles: int = 32,
    tiles: str = "spread",
    subsets: int = 0,
    seed: int = 0,
    device: str = "cpu",
    use_ema: bool = True,
) -> Iterator[CheckpointScore]:
    """Score each checkpoint in turn (yielded as soon as it is scored) on the prepared folder
    ``data``; every checkpoint sees the same tiles and the same random subsets."""
    dm = TileDataModule(data, num_workers=0, n_val_tiles=n_val_tiles)
    chosen = val_tiles(dm, n_val_tiles, tiles)
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(subsets):
        pair = []
        for d in "AB":
            pool = dm.val_pool(d)
            pick = rng.choice(len(pool), min(n_val_tiles, len(pool)), replace=False)
            pair.append(torch.stack([load_tile(pool[i], dm.spec) for i in pick]))
        draws.append(pair)
    for path in paths:
        model, meta, epoch, weights = load_model(path, device, use_ema)
        yield CheckpointScore(
            path=Path(path),
            epoch=epoch,
            generator_steps=meta.get("generator_steps"),
            weights=weights,
            result=model.score_tiles(*chosen),
            recorded=(meta.get("val_score") or {}).get("score"),
            subset_scores=[model.score_tiles(*pair)["score"] for pair in draws],
        )


def best(scores: Sequence[CheckpointScore]) -> CheckpointScore:
    """The checkpoint with the lowest score (the first of equals)."""
    return min(scores, key=lambda s: s.result["score"])
