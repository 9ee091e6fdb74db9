"""History of generated tiles that the discriminators see (Shrivastava et al. 2017).

As the reference CycleGAN: until the pool holds ``pool_size`` fakes every new fake
is stored and returned; afterwards each new fake is, with probability 0.5, swapped
for a random stored one (which is returned instead). ``pool_size == 0`` disables it.
The pool is not part of Lightning's checkpoint; `state_dict`/`load_state_dict`
carry it (and its random state) across a resume.

Under DDP every process has its own pools, seeded by rank; `gather_to_rank_zero` brings
them all into the checkpoint that rank 0 writes, and on resume each rank takes its own.
"""

from __future__ import annotations

import random
from typing import Any

import torch
import torch.distributed as dist


class ImagePool:
    def __init__(self, pool_size: int = 50, seed: int = 0):
        if pool_size < 0:
            raise ValueError(f"pool_size must be >= 0, got {pool_size}")
        self.pool_size = pool_size
        self.images: list[torch.Tensor] = []  # each (1, C, F, T), detached
        self._rng = random.Random(seed)

    def reseed(self, seed: int) -> None:
        self._rng.seed(seed)

    def __len__(self) -> int:
        return len(self.images)

    def query(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, F, T) fresh fakes -> (B, C, F, T) mix of fresh and historical fakes."""
        if self.pool_size == 0:
            return images
        out = []
        for image in images.detach():
            image = image.unsqueeze(0)
            if len(self.images) < self.pool_size:
                self.images.append(image.clone())
                out.append(image)
            elif self._rng.random() > 0.5:
                i = self._rng.randrange(self.pool_size)
                out.append(self.images[i].to(image.device, image.dtype))
                self.images[i] = image.clone()
            else:
                out.append(image)
        return torch.cat(out, 0)

    def state_dict(self) -> dict[str, Any]:
        return {
            "pool_size": self.pool_size,
            "images": [im.detach().cpu() for im in self.images],
            "rng_state": self._rng.getstate(),
        }

    def load_state_dict(self, state: dict[str, Any], device: torch.device | str = "cpu") -> None:
        """The saved history and random state; the pool keeps its own size (a resume may change
        it: a smaller pool keeps the oldest entries)."""
        self.images = [im.to(device) for im in state["images"][: self.pool_size]]
        self._rng.setstate(_as_rng_state(state["rng_state"]))


def gather_to_rank_zero(local: Any) -> list[Any]:
    """Every process's ``local`` on rank 0, in rank order; ``[local]`` elsewhere and without
    torch.distributed. A collective: every rank must call it."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return [local]
    out: list[Any] | None = [None] * dist.get_world_size() if dist.get_rank() == 0 else None
    dist.gather_object(local, out, dst=0)
    return out if out is not None else [local]


def _as_rng_state(state) -> tuple:
    """random.getstate() is nested tuples; a checkpoint round trip may turn them into lists."""
    version, internal, gauss = state
    return (version, tuple(internal), gauss)
