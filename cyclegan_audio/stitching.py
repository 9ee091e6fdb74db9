"""Running a tile function over a long spectrogram and blending its tiles back seam-free.

The spectrogram is cut into overlapping tiles of ``spec.tile_frames`` frames on a
global grid (`TileGrid`), each tile goes through a function (the generator), and the
tiles are averaged with a smooth window whose weights are normalised to sum to 1
(`blend`), so an identity function gives its input back exactly. Translation uses
the pieces (`run_tiles`, `blend`) chunk by chunk; `apply_tiled` is the whole thing
in one call.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch

from .spec import SpectrogramSpec

# A quarter-tile hop (the design had half a tile): every frame is the blend of four tile
# positions instead of two, which averages out what the generator makes of a frame's place in
# its tile. Lower LSD on all 14 checkpoints screened (six pairs, two seeds of each development
# set, the voice and two pairs from another SoundFont among them: -0.01 to -0.12 dB) for 2-19 % more translation time with the cpu
# presets' small generators (docs/quality.md, "Translating with a quarter-tile hop").
DEFAULT_TILE_OVERLAP = 0.75
DEFAULT_BATCH_SIZE = 4  # tiles per call of the tile function for `apply_tiled` used on its own

TileFn = Callable[[torch.Tensor], torch.Tensor]


def tile_window(n_frames: int) -> torch.Tensor:
    """Raised-cosine blending weights (n_frames,): sin² offset by half a frame, so never 0.

    At a half-tile hop the shifted copies already sum to 1; `blend` normalises by
    the sum anyway, so any hop and the signal's edges are exact too.
    """
    n = torch.arange(n_frames, dtype=torch.float64)
    return (torch.sin(math.pi * (n + 0.5) / n_frames) ** 2).float()


def _reflect(index: torch.Tensor, n: int) -> torch.Tensor:
    """Map any frame index into [0, n) by mirror reflection (np.pad "reflect"), repeatedly."""
    if n == 1:
        return torch.zeros_like(index)
    period = 2 * (n - 1)
    index = torch.remainder(index, period)
    return torch.where(index >= n, period - index, index)


@dataclass(frozen=True)
class TileGrid:
    """Where the tiles of a signal of ``n_frames`` frames lie.

    The signal is padded by mirror reflection with half a tile in front, so its
    first frame sits at the centre of tile 0; tile k starts at frame
    ``k * hop_frames - pad_frames`` (negative = inside the padding); there are
    just enough tiles for the last frame to lie at or before the last tile's centre.
    """

    n_frames: int
    tile_frames: int
    hop_frames: int

    def __post_init__(self) -> None:
        if not 0 < self.hop_frames <= self.tile_frames:
            raise ValueError(
                f"hop_frames must be in (0, {self.tile_frames}], got {self.hop_frames}"
            )
        if self.n_frames < 1:
            raise ValueError("a signal needs at least one frame")

    @property
    def pad_frames(self) -> int:
        return self.tile_frames // 2

    @property
    def n_tiles(self) -> int:
        return math.ceil((self.n_frames - 1) / self.hop_frames) + 1

    def start(self, k: int) -> int:
        return k * self.hop_frames - self.pad_frames

    def frame_index(self, k: int) -> torch.Tensor:
        """Source frame (in [0, n_frames)) of each of tile k's frames, (tile_frames,)."""
        s = self.start(k)
        return _reflect(torch.arange(s, s + self.tile_frames), self.n_frames)

    def tiles_touching(self, t_lo: int, t_hi: int) -> range:
        """Tiles that overlap frames [t_lo, t_hi)."""
        n, h, p = self.tile_frames, self.hop_frames, self.pad_frames
        k_lo = max(0, (t_lo + p - n) // h + 1)
        k_hi = min(self.n_tiles, -(-(t_hi + p) // h))
        return range(k_lo, k_hi)


def window_frames(spec: SpectrogramSpec, window_tiles: int = 1) -> int:
    """Frames the generator hears at once when translating: ``window_tiles`` tiles of the spec.

    The generators are fully convolutional, so a window wider than the training tiles works;
    every frame then hears more real context and less of a window's edge (`NetworkConfig.
    window_tiles` holds a checkpoint's own value).
    """
    if window_tiles < 1:
        raise ValueError(f"window_tiles must be >= 1, got {window_tiles}")
    return spec.tile_frames * window_tiles


def overlap_hop(
    spec: SpectrogramSpec, overlap: float = DEFAULT_TILE_OVERLAP, window_tiles: int = 1
) -> int:
    """Window hop in frames for the share of a window its neighbour overlaps (0.5 -> half a
    window); a window is ``window_tiles`` tiles (`window_frames`)."""
    return max(1, round(window_frames(spec, window_tiles) * (1.0 - overlap)))


def run_tiles(
    unit: torch.Tensor,
    first_frame: int,
    grid: TileGrid,
    ks: Iterable[int],
    fn: TileFn,
    batch_size: int,
) -> dict[int, torch.Tensor]:
    """fn applied to tiles ``ks`` cut from ``unit`` (C, F, n), whose frame 0 is global ``first_frame``.

    Returns {k: (C, F, tile_frames)}. ``fn`` sees batches (B, F, tile_frames) on the [0, 1] scale.
    """
    ks = list(ks)
    out: dict[int, torch.Tensor] = {}
    for i in range(0, len(ks), batch_size):
        batch = ks[i : i + batch_size]
        idx = torch.stack([grid.frame_index(k) for k in batch]) - first_frame  # (B, T)
        x = unit[..., idx.to(unit.device)].movedim(-2, 0)  # one index copy per batch: (B, C, F, T)
        y = fn(x.reshape(-1, *x.shape[-2:])).reshape(x.shape)
        out.update(zip(batch, y))
    return out


def blend(tiles: dict[int, torch.Tensor], grid: TileGrid, t_lo: int, t_hi: int) -> torch.Tensor:
    """Window-weighted average of the tiles over frames [t_lo, t_hi) -> (C, F, t_hi - t_lo).

    ``tiles`` must hold every tile in ``grid.tiles_touching(t_lo, t_hi)``.
    """
    first = tiles[grid.tiles_touching(t_lo, t_hi)[0]]
    window = tile_window(grid.tile_frames).to(first.device)
    num = torch.zeros(*first.shape[:-1], t_hi - t_lo, dtype=first.dtype, device=first.device)
    den = torch.zeros(t_hi - t_lo, dtype=first.dtype, device=first.device)
    for k in grid.tiles_touching(t_lo, t_hi):
        s = grid.start(k)
        a, b = max(s, t_lo), min(s + grid.tile_frames, t_hi)
        w = window[a - s : b - s]
        num[..., a - t_lo : b - t_lo] += tiles[k][..., a - s : b - s] * w
        den[a - t_lo : b - t_lo] += w
    return num / den


def apply_tiled(
    mag_unit: torch.Tensor,
    fn: TileFn,
    spec: SpectrogramSpec,
    *,
    hop_frames: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    window_tiles: int = 1,
) -> torch.Tensor:
    """Run a tile->tile function over a long [0, 1] magnitude (..., F, T) and blend seam-free.

    Tiles are ``window_tiles * spec.tile_frames`` wide with a hop of ``hop_frames``
    (`overlap_hop`'s default: a quarter of that); ``fn`` maps (B, F, W) -> the same shape.
    Returns (..., F, T).
    With the identity function the input comes back exactly (to float error), for
    any T >= 1, including T shorter than one tile.
    """
    x = torch.as_tensor(mag_unit, dtype=torch.float32)
    flat = x.reshape(-1, *x.shape[-2:])
    hop = hop_frames or overlap_hop(spec, window_tiles=window_tiles)
    grid = TileGrid(flat.shape[-1], window_frames(spec, window_tiles), hop)
    tiles = run_tiles(flat, 0, grid, range(grid.n_tiles), fn, batch_size)
    return blend(tiles, grid, 0, grid.n_frames).reshape(x.shape)
