"""Where each chunk of a streamed translation reads, computes and writes.

Translation runs chunk by chunk (`inference.stream_translate`) and must give what one
piece gives. Working back from the samples a chunk emits, each stage needs a little
more than the stage after it: the resampler's filter reaches ``RESAMPLE_MARGIN_S``,
Griffin-Lim spreads one n_fft per iteration, the tiles touching those frames read
their own frames, the STFT of those frames needs n_fft more samples, and those
samples come from a slightly wider stretch of input. `Chunk` names each of those
ranges; `ChunkPlan` computes them, in global positions, aligned where the two sample
rates meet on whole samples so every chunk resamples exactly as the whole would.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .spec import SpectrogramSpec
from .stitching import TileGrid

RESAMPLE_MARGIN_S = 0.1  # soxr_hq's filter reaches well under this (measured: 1e-6 agreement)


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _round_down(n: int, unit: int) -> int:
    """The multiple of ``unit`` at or below ``n`` (also for negative ``n``)."""
    return n // unit * unit


@dataclass(frozen=True)
class Rates:
    """Sample positions between the input's rate and the spec's, exact at aligned points."""

    sr_in: int
    sr_spec: int

    @property
    def unit_in(self) -> int:
        """Input samples per step at which both rates fall on whole samples."""
        return self.sr_in // math.gcd(self.sr_in, self.sr_spec)

    @property
    def unit_spec(self) -> int:
        return self.sr_spec // math.gcd(self.sr_in, self.sr_spec)

    def to_spec(self, n_in: int) -> int:
        return n_in * self.sr_spec // self.sr_in

    def to_spec_ceil(self, n_in: int) -> int:
        """Spec-rate samples of ``n_in`` input samples, rounded up (soxr's output length)."""
        return _ceil_div(n_in * self.sr_spec, self.sr_in)

    def to_in(self, n_spec: int) -> int:
        return n_spec * self.sr_in // self.sr_spec

    def to_in_ceil(self, n_spec: int) -> int:
        return _ceil_div(n_spec * self.sr_in, self.sr_spec)


@dataclass(frozen=True)
class Chunk:
    """What one chunk reads and computes; every range is [lo, hi) in global positions.

    Listed from the output back to the input, each range is what the one before needs:
    emit_in:      input-rate samples this chunk emits (the chunk itself)
    out_spec:     spec-rate output samples whose resampling gives ``emit_in`` as in one piece
    phase_frames: frames Griffin-Lim runs over so that ``out_spec`` comes out as in one piece
    tiles:        the tiles overlapping ``phase_frames``
    tile_frames:  source frames those tiles read (near the edges reflection may reach anywhere)
    stft_spec:    spec-rate samples whose STFT gives ``tile_frames`` exactly; starts on a hop
    read_in:      input-rate samples whose resampling gives ``stft_spec``; covers ``emit_in``
    """

    emit_in: tuple[int, int]
    out_spec: tuple[int, int]
    phase_frames: tuple[int, int]
    tiles: range
    tile_frames: tuple[int, int]
    stft_spec: tuple[int, int]
    read_in: tuple[int, int]


@dataclass(frozen=True)
class ChunkPlan:
    """The chunks of a signal of ``n_in`` input samples and the margins around each."""

    n_in: int
    rates: Rates
    spec: SpectrogramSpec
    grid: TileGrid
    chunk_in: int  # input samples per chunk, a multiple of ``rates.unit_in``
    n_iter: int

    @property
    def n_spec(self) -> int:
        """Samples of the whole signal at the spec's rate (soxr's length)."""
        return self.rates.to_spec_ceil(self.n_in)

    @property
    def resample_margin_spec(self) -> int:
        """Spec-rate samples beyond which the resampler's filter has no effect (aligned)."""
        unit = self.rates.unit_spec
        return _ceil_div(math.ceil(RESAMPLE_MARGIN_S * self.spec.sample_rate), unit) * unit

    @property
    def phase_margin_spec(self) -> int:
        """Griffin-Lim spreads one n_fft per iteration: how far a sample's phase can reach."""
        return (self.n_iter + 2) * self.spec.n_fft

    def chunks(self) -> list[Chunk]:
        starts = range(0, max(self.n_in, 1), self.chunk_in)
        return [self.chunk(q0, min(self.n_in, q0 + self.chunk_in)) for q0 in starts]

    def chunk(self, emit_lo: int, emit_hi: int) -> Chunk:
        """The ranges for emitting input samples [emit_lo, emit_hi)."""
        rates, hop, n_fft, grid = self.rates, self.spec.hop_length, self.spec.n_fft, self.grid
        margin_spec = self.resample_margin_spec
        margin_in = rates.to_in(margin_spec)
        # output at the spec's rate that resampling back needs, from an aligned point
        out_lo = max(0, _round_down(rates.to_spec(emit_lo) - margin_spec, rates.unit_spec))
        out_hi = min(self.n_spec, rates.to_spec_ceil(emit_hi) + margin_spec)
        # frames Griffin-Lim must see for that output to come out as in one piece
        phase_lo = max(0, (out_lo - self.phase_margin_spec) // hop)
        phase_hi = min(grid.n_frames, _ceil_div(out_hi + self.phase_margin_spec, hop) + 1)
        # the tiles over those frames, and every source frame they read
        tiles = grid.tiles_touching(phase_lo, phase_hi)
        read = torch.cat([grid.frame_index(k) for k in tiles])
        frames_lo = min(phase_lo, int(read.min()))
        frames_hi = max(phase_hi, int(read.max()) + 1)
        # samples whose STFT gives those frames as the whole signal's STFT does: a window's
        # width more on each side, starting on a hop so frame k of the piece is a global frame
        stft_lo = max(0, _round_down(frames_lo * hop - n_fft, hop))
        stft_hi = min(self.n_spec, (frames_hi - 1) * hop + n_fft)
        # input to resample into them, from an aligned point; it always covers the emitted
        # stretch, which the input's loudness meter reads
        read_lo = max(0, _round_down(rates.to_in(stft_lo) - margin_in, rates.unit_in))
        read_lo = min(read_lo, _round_down(emit_lo, rates.unit_in))
        read_hi = max(emit_hi, min(self.n_in, rates.to_in_ceil(stft_hi) + margin_in))
        return Chunk(
            emit_in=(emit_lo, emit_hi),
            out_spec=(out_lo, out_hi),
            phase_frames=(phase_lo, phase_hi),
            tiles=tiles,
            tile_frames=(frames_lo, frames_hi),
            stft_spec=(stft_lo, stft_hi),
            read_in=(read_lo, read_hi),
        )

    def phase_length(self, phase_lo: int, phase_hi: int) -> int:
        """Samples the iSTFT of frames [phase_lo, phase_hi) gives (to the end at the last frame)."""
        hop = self.spec.hop_length
        end = self.n_spec if phase_hi == self.grid.n_frames else (phase_hi - 1) * hop
        return end - phase_lo * hop


def plan_chunks(
    n_in: int,
    sr_in: int,
    spec: SpectrogramSpec,
    hop_frames: int,
    n_iter: int,
    chunk_seconds: float,
    tile_frames: int | None = None,
) -> ChunkPlan:
    """Chunks of about ``chunk_seconds`` (whole rate-aligned steps) of ``n_in`` samples at
    ``sr_in``, tiles ``hop_frames`` apart, ``n_iter`` Griffin-Lim iterations; math.inf: one chunk.
    ``tile_frames``: the generator's window (`stitching.window_frames`; None: the spec's tile).
    """
    rates = Rates(sr_in, spec.sample_rate)
    n_spec = rates.to_spec_ceil(n_in)
    grid = TileGrid(spec.n_frames(n_spec), tile_frames or spec.tile_frames, hop_frames)
    chunk_in = _ceil_div(max(1, n_in), rates.unit_in) * rates.unit_in  # one chunk for it all
    if chunk_seconds * sr_in < n_in:
        chunk_in = max(rates.unit_in, _round_down(int(chunk_seconds * sr_in), rates.unit_in))
    return ChunkPlan(n_in, rates, spec, grid, chunk_in, n_iter)
