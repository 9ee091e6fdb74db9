"""Unpaired tile batches from a prepared folder (manifest.json + 16-bit PNG tiles).

Training: item i pairs A tile ``i mod n_A`` with a uniformly random B tile (as the
reference's unaligned dataset); the epoch length is the larger domain, and with
``shuffle`` the A order is random each epoch; under DDP each rank draws its own B tiles.
Tiles are (1, F, T) float32 on the [-1, 1] network scale, so batches are (B, 1, F, T).

Validation: a fixed list of ``n_val_tiles`` tiles per domain, evenly spaced through the
val split in manifest order so that every val recording contributes (the first N tiles
would all come from one recording, a biased sample: docs/validation-score.md). A
domain with no val tiles falls back to its train tiles, with a warning. Two loaders,
A then B, unshuffled; under DDP Lightning's sampler pads them with repeated tiles, which
`undo_distributed_padding` removes again after the gather. The score compares tile
statistics, so each domain needs at least ``MIN_VAL_TILES``; that, and every listed tile
being on disk, is checked before training.
"""

from __future__ import annotations

import os
import random
import warnings
from pathlib import Path

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset

from . import image_io
from .errors import ManifestError
from .manifest import Manifest
from .spec import SpectrogramSpec

MIN_VAL_TILES = 2  # per domain: the score's feature statistics need two tiles


def load_tile(path: Path, spec: SpectrogramSpec) -> torch.Tensor:
    """PNG tile -> (1, F, T) float32 on [-1, 1]."""
    unit = image_io.read_png(path, shape=spec.tile_shape)
    return torch.from_numpy(unit).unsqueeze(0).mul_(2.0).sub_(1.0)


class UnpairedTiles(Dataset):
    """Item i -> {"a": A[i mod n_A], "b": B[random]}; len = max(n_A, n_B)."""

    def __init__(self, paths_a: list[Path], paths_b: list[Path], spec: SpectrogramSpec):
        if not paths_a or not paths_b:
            raise ManifestError("both domains need at least one training tile")
        self.paths_a, self.paths_b, self.spec = list(paths_a), list(paths_b), spec

    def __len__(self) -> int:
        return max(len(self.paths_a), len(self.paths_b))

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        # Python's global generator: seeded per worker (and per epoch) by the DataLoader.
        j = random.randrange(len(self.paths_b))
        return {
            "a": load_tile(self.paths_a[i % len(self.paths_a)], self.spec),
            "b": load_tile(self.paths_b[j], self.spec),
        }


class FixedTiles(Dataset):
    """A fixed, ordered list of tiles of one domain -> (1, F, T) each."""

    def __init__(self, paths: list[Path], spec: SpectrogramSpec):
        self.paths, self.spec = list(paths), spec

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> torch.Tensor:
        return load_tile(self.paths[i], self.spec)


def spread(items: list, n: int) -> list:
    """``n`` items evenly spaced through ``items`` (first and last included), in order."""
    if len(items) <= n:
        return list(items)
    if n <= 1:
        return list(items[:n])
    step = (len(items) - 1) / (n - 1)  # >= 1, so the rounded indices are distinct
    return [items[round(i * step)] for i in range(n)]


def undo_distributed_padding(gathered: torch.Tensor, n: int) -> torch.Tensor:
    """Per-item values gathered from the ranks of an unshuffled DistributedSampler,
    (world, n_per_rank, ...) -> (n, ...): dataset order, each item once.

    The sampler pads the n items to world * n_per_rank by repeating the first ones and deals
    position i to rank i % world; so position i sits at [i % world, i // world] and the
    padding is every position >= n.
    """
    return gathered.transpose(0, 1).reshape(-1, *gathered.shape[2:])[:n]


def default_num_workers() -> int:
    return max(0, min(8, (os.cpu_count() or 1) - 1))


class TileDataModule(pl.LightningDataModule):
    def __init__(
        self,
        data_dir: str | Path,
        *,
        batch_size: int = 1,
        num_workers: int | None = None,
        n_val_tiles: int = 32,
        seed: int = 0,
    ):
        """``seed``: of each DDP rank's B-tile draws in the main process (``num_workers=0``)."""
        super().__init__()
        self.seed = seed
        self.data_dir = Path(data_dir)
        self.manifest = Manifest.load(self.data_dir)  # fail early, before any Trainer exists
        self.spec: SpectrogramSpec = self.manifest.spec
        self.batch_size = batch_size
        self.num_workers = default_num_workers() if num_workers is None else num_workers
        self.n_val_tiles = n_val_tiles
        for domain in ("A", "B"):
            if self.manifest.count(domain, "train") == 0:
                raise ManifestError(
                    f"{self.data_dir}: domain {domain} has no training tiles; re-run prepare"
                )
        self._check_tiles_on_disk()
        self.val_paths = {d: self._val_paths(d) for d in ("A", "B")}
        for domain, paths in self.val_paths.items():
            if len(paths) < MIN_VAL_TILES:
                raise ManifestError(
                    f"{self.data_dir}: domain {domain} has {len(paths)} validation tile; the "
                    f"validation score needs at least {MIN_VAL_TILES} per domain: prepare more "
                    "audio, a larger --val-fraction, or longer files"
                )

    def _check_tiles_on_disk(self) -> None:
        """Every tile the manifest lists exists: a missing one would stop training mid-epoch."""
        missing = [
            t.path for t in self.manifest.tiles if not (self.manifest.root / t.path).is_file()
        ]
        if missing:
            raise ManifestError(
                f"{self.data_dir}: {len(missing)} of {len(self.manifest.tiles)} tiles listed in "
                f"the manifest are missing on disk (first: {missing[0]}); re-run prepare"
            )

    def setup(self, stage: str) -> None:
        trainer = self.trainer
        if trainer is not None and trainer.world_size > 1:
            # Lightning seeds Python's generator alike on every rank; without workers the B
            # tiles are drawn from it here, so every rank would train on the same pairs.
            # (Lightning seeds worker processes by rank itself.)
            random.seed(self.seed + 1_000_003 * trainer.global_rank)

    def val_pool(self, domain: str) -> list[Path]:
        """Every tile validation may draw from: the val split, or the train split if empty."""
        return self.manifest.tile_paths(domain, "val") or self.manifest.tile_paths(domain, "train")

    def _val_paths(self, domain: str) -> list[Path]:
        paths = self.val_pool(domain)
        if not self.manifest.count(domain, "val"):
            warnings.warn(
                f"{self.data_dir}: domain {domain} has no val tiles; the validation score uses "
                f"{min(len(paths), self.n_val_tiles)} training tiles instead",
                stacklevel=2,
            )
        return spread(paths, self.n_val_tiles)

    def _loader(self, dataset: Dataset, shuffle: bool) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            pin_memory=torch.cuda.is_available(),
        )

    def train_dataloader(self) -> DataLoader:
        ds = UnpairedTiles(
            self.manifest.tile_paths("A", "train"),
            self.manifest.tile_paths("B", "train"),
            self.spec,
        )
        return self._loader(ds, shuffle=True)

    def val_dataloader(self) -> list[DataLoader]:
        return [self._loader(FixedTiles(self.val_paths[d], self.spec), False) for d in ("A", "B")]
