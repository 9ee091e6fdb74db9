"""Cutting signals into clips and tiles, and putting tiles back together.

A signal is cut into clips of ``spec.clip_seconds``; each clip gets its own STFT
(batched over clips) and is cut into tiles of ``spec.tile_frames`` frames. With
the default spec a 20 s clip has 2,052 frames and gives exactly four tiles of
512 frames (~4.99 s each); the few frames left at the end of a full clip are
the clip's built-in slack, not a "remainder". A remainder is what is left of a
short last clip after its whole tiles: it is dropped and counted.

Tile ``k`` of clip ``c`` starts at ``c * clip_samples + k * tile_samples``
samples; `tile_index` turns that offset back into the running index
``c * tiles_per_clip + k`` that names tiles on disk.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from . import spectrogram as S
from .spec import SpectrogramSpec


@dataclass
class TileCut:
    """Tiles of one signal.

    tiles: (n_tiles, n_freq, tile_frames) float32 on the [0, 1] scale.
    offsets_s: start of each tile in the signal, seconds.
    indices: running tile index in the signal (clip * tiles_per_clip + k).
    n_remainders: short last clips whose leftover (>= one hop beyond a full
        clip's slack) was dropped; remainder_s: seconds dropped that way.
    """

    tiles: np.ndarray
    offsets_s: list[float]
    indices: list[int]
    n_remainders: int
    remainder_s: float


def tiles_per_clip(spec: SpectrogramSpec) -> int:
    """Whole tiles in one full clip (4 with the default spec)."""
    return spec.n_frames(spec.clip_samples) // spec.tile_frames


def _clip_slack_samples(spec: SpectrogramSpec) -> int:
    """Samples at the end of a full clip that no tile covers (by design, not a remainder)."""
    return spec.clip_samples - tiles_per_clip(spec) * spec.tile_samples


def cut_tiles(y, spec: SpectrogramSpec) -> TileCut:
    """Cut a mono signal (n_samples,) at ``spec.sample_rate`` into [0, 1] tiles.

    Full clips are transformed in one batched STFT; a shorter last clip gets its
    own STFT (constant padding at its end, as every clip has at its edges).
    """
    y_t = torch.as_tensor(np.asarray(y, dtype=np.float32)).reshape(-1)
    n_clip, n_tile, t_frames = spec.clip_samples, spec.tile_samples, spec.tile_frames
    per_clip = tiles_per_clip(spec)
    n_full = y_t.shape[0] // n_clip
    out: list[torch.Tensor] = []
    offsets: list[float] = []
    indices: list[int] = []
    if n_full:
        unit = S.audio_to_unit(y_t[: n_full * n_clip].reshape(n_full, n_clip), spec)
        tiles = unit[..., : per_clip * t_frames].reshape(n_full, spec.n_freq, per_clip, t_frames)
        out.append(tiles.permute(0, 2, 1, 3).reshape(-1, spec.n_freq, t_frames))
        for c in range(n_full):
            for k in range(per_clip):
                offsets.append((c * n_clip + k * n_tile) / spec.sample_rate)
                indices.append(c * per_clip + k)
    n_remainders, remainder_s = 0, 0.0
    rest = y_t[n_full * n_clip :]
    if rest.shape[0]:
        n_rest_tiles = spec.n_frames(rest.shape[0]) // t_frames
        if n_rest_tiles:
            unit = S.audio_to_unit(rest, spec)[:, : n_rest_tiles * t_frames]
            out.append(unit.reshape(spec.n_freq, n_rest_tiles, t_frames).permute(1, 0, 2))
            for k in range(n_rest_tiles):
                offsets.append((n_full * n_clip + k * n_tile) / spec.sample_rate)
                indices.append(n_full * per_clip + k)
        leftover = rest.shape[0] - n_rest_tiles * n_tile
        if leftover >= _clip_slack_samples(spec) + spec.hop_length:
            n_remainders, remainder_s = 1, leftover / spec.sample_rate
    if out:
        tiles_np = torch.cat(out).contiguous().numpy()
    else:
        tiles_np = np.zeros((0, *spec.tile_shape), np.float32)
    return TileCut(tiles_np, offsets, indices, n_remainders, remainder_s)


def tile_index(offset_s: float, spec: SpectrogramSpec) -> int:
    """Running tile index (clip * tiles_per_clip + k) of a tile starting at ``offset_s``."""
    start = int(round(offset_s * spec.sample_rate))
    clip = start // spec.clip_samples
    k = int(round((start - clip * spec.clip_samples) / spec.tile_samples))
    return clip * tiles_per_clip(spec) + k


def source_stft(y, indices: list[int], spec: SpectrogramSpec) -> torch.Tensor:
    """Complex STFT frames of the given tiles of ``y``, framed exactly as `cut_tiles` frames them.

    Returns (n_stft_bins, len(indices) * tile_frames) on the linear STFT axis (for phase),
    tiles side by side in the given order.
    """
    y_t = torch.as_tensor(np.asarray(y, dtype=np.float32)).reshape(-1)
    per_clip, t_frames = tiles_per_clip(spec), spec.tile_frames
    by_clip: dict[int, torch.Tensor] = {}
    parts = []
    for i in indices:
        clip, k = divmod(i, per_clip)
        if clip not in by_clip:
            seg = y_t[clip * spec.clip_samples : (clip + 1) * spec.clip_samples]
            by_clip[clip] = S.stft(seg, spec)
        x = by_clip[clip][:, k * t_frames : (k + 1) * t_frames]
        if x.shape[-1] != t_frames:
            raise ValueError(f"tile {i} lies beyond the end of the signal")
        parts.append(x)
    return torch.cat(parts, dim=-1)


def concat_tiles(tiles) -> np.ndarray:
    """Tiles (n_tiles, n_freq, tile_frames) or a list of (n_freq, tile_frames) -> (n_freq, n_tiles * tile_frames)."""
    return np.concatenate([np.asarray(t, dtype=np.float32) for t in tiles], axis=-1)


def tile_level_db(tiles, spec: SpectrogramSpec) -> np.ndarray:
    """RMS level of each tile's loudest frame in dB (as `audio.rms_db`: a full-scale sine is -3 dB).

    tiles: (n_tiles, n_freq, n_frames) on the [0, 1] scale -> (n_tiles,) dB.
    Parseval: a frame's signal power is sum|X|^2 * (sum w)^2 / (2 * n_fft * sum w^2)
    with our STFT scaling, so no audio is needed to judge loudness. A log tile's row
    holds the mean power of the bins it stands for, so rows count
    `spectrogram.row_bandwidths` times (a gate's estimate; `to_linear_freq` is exact but
    costs ~1 s per 512 x 512 tile on a CPU core).
    """
    mag = S.unit_to_magnitude(torch.as_tensor(np.asarray(tiles, dtype=np.float32)), spec)
    rows = torch.from_numpy(S.row_bandwidths(spec)).float()[:, None]  # ones when linear
    power = mag.square() * rows
    w = S.window(spec, dtype=torch.float64)
    to_power = float(w.sum() ** 2 / (2.0 * spec.n_fft * (w**2).sum()))
    frame_power = power.sum(dim=-2, dtype=torch.float64) * to_power  # (n_tiles, n_frames)
    peak = frame_power.amax(dim=-1).clamp_min(1e-20)
    return (10.0 * torch.log10(peak)).numpy()
