"""Register shift: move a tile's frequency axis by a number of semitones.

A voice conversion moves the voice's register (male -> female: about an octave up) and keeps
its intonation; the converters that work (CycleGAN-VC and its successors) transform the
pitch explicitly, by the log-F0 difference of the two speakers' training data, and leave
the network the spectral envelope. A convolutional generator on tiles cannot learn an
octave's move itself: measured on the voice set, the small ResNet either moved the register
and lost the intonation (linear rows) or kept the intonation and not the register (log rows;
docs/quality.md).

`FrequencyWarp` does the move before a generator sees its input: every output row reads the
input at its own frequency divided by 2^(semitones/12), interpolated between the two nearest
rows (on log-frequency rows a shift, on linear ones a stretch of the axis); rows that would
read from beyond the tile's range are silence (-1). The A -> B generator gets +semitones, the
B -> A one the opposite, so the cycle undoes the move and each network is left the timbre.
Off (0) by default: an instrument translation keeps its notes.

`measure_register` estimates the semitones from training tiles: the median pitch of each
domain's voiced frames (val_score's tracker).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from . import spectrogram as S
from . import val_score as V
from .spec import SpectrogramSpec


def envelope_smoother(spec: SpectrogramSpec, sigma_hz: float) -> np.ndarray:
    """(n_freq, n_freq) float64 rows of a Gaussian over frequency (standard deviation
    ``sigma_hz``), each summing to 1: the spectral envelope of a column of unit-scale rows.
    Over linear Hz, not octaves, so that a voice's lowest harmonics (an octave apart) are
    smoothed into the envelope like its highest: the width must exceed the pitch."""
    f = S.tile_freqs_hz(spec).astype(np.float64)
    d = (f[:, None] - f[None, :]) / sigma_hz
    g = np.exp(-0.5 * d * d)
    return g / g.sum(1, keepdims=True)


def warp_matrix(spec: SpectrogramSpec, semitones: float, envelope_hz: float = 0.0) -> torch.Tensor:
    """(n_freq, n_freq) float32 M for unit-scale rows (0 = silence), out = M @ in.

    The move W: row k reads the input at tile_freqs_hz[k] / 2^(semitones/12), linearly
    interpolated; a row whose source lies outside the tile's rows has all-zero weights
    (silence). With ``envelope_hz`` > 0 only the fine structure moves and the spectral
    envelope stays: M = W + E - E W, E = `envelope_smoother` (a voice's pitch moves up, its
    formants do not)."""
    n = spec.n_freq
    src_hz = torch.as_tensor(S.tile_freqs_hz(spec), dtype=torch.float64) * 2.0 ** (-semitones / 12)
    with np.errstate(divide="ignore"):
        pos = S.hz_to_row(src_hz, spec).numpy()  # log rows: -inf at 0 Hz never occurs
    w = np.zeros((n, n))
    inside = (pos >= 0) & (pos <= n - 1)
    rows = np.nonzero(inside)[0]
    lo = np.minimum(np.floor(pos[rows]).astype(np.int64), n - 2)
    frac = pos[rows] - lo
    w[rows, lo] = 1.0 - frac
    w[rows, lo + 1] = frac
    if envelope_hz > 0:
        e = envelope_smoother(spec, envelope_hz)
        w = w + e - e @ w
    return torch.from_numpy(w).float()


class FrequencyWarp(nn.Module):
    """(B, C, F, T) tiles on [-1, 1] -> the same tiles moved by ``semitones`` (see module doc).

    The matrix is a non-persistent buffer: it is rebuilt from the spec and the network
    config, so checkpoints hold no extra tensors."""

    def __init__(self, spec: SpectrogramSpec, semitones: float, envelope_hz: float = 0.0):
        super().__init__()
        self.semitones, self.envelope_hz = float(semitones), float(envelope_hz)
        w = warp_matrix(spec, semitones, envelope_hz)
        self.register_buffer("weight", w, persistent=False)
        # On the model's [-1, 1] scale: 2 M (x + 1) / 2 - 1 = M x - (1 - M 1).
        self.register_buffer("fill", 1.0 - w.sum(1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w, fill = self.weight.to(x.dtype), self.fill.to(x.dtype)
        y = torch.einsum("kf,bcft->bckt", w, x) - fill[:, None]
        return y.clamp(-1.0, 1.0) if self.envelope_hz else y

    def extra_repr(self) -> str:
        return f"semitones={self.semitones:+g}, envelope_hz={self.envelope_hz:g}"


def direction_warp(spec: SpectrogramSpec, net, direction: str) -> nn.Module:
    """The move before the ``direction`` ("AtoB" or "BtoA") generator of a network config
    (``net.register_shift``, ``net.register_envelope``): +shift before A -> B, -shift before
    B -> A; `nn.Identity` when the shift is 0 (the reference networks)."""
    shift = net.register_shift if direction == "AtoB" else -net.register_shift
    return FrequencyWarp(spec, shift, net.register_envelope) if shift else nn.Identity()


def median_pitch_hz(tiles: torch.Tensor, spec: SpectrogramSpec) -> tuple[float, float]:
    """(median pitch in Hz, share of frames voiced) of tiles (N, 1, F, T) on [-1, 1]: frames
    louder than their tile's mean with a confident pitch (val_score's tracker)."""
    hz, confidence = V.pitch_and_confidence(tiles, spec)
    voiced = V.voiced_frames(tiles, confidence) > 0
    if not bool(voiced.any()):
        return float("nan"), 0.0
    return float(torch.exp(torch.log(hz[voiced]).median())), float(voiced.float().mean())


def measure_register(
    tiles_a: torch.Tensor, tiles_b: torch.Tensor, spec: SpectrogramSpec
) -> tuple[float, dict[str, float]]:
    """(semitones from A's median pitch to B's, {"A": Hz, "B": Hz}); ValueError with the
    reason when a domain has no voiced frames or its median sits at the tracker's range end
    (the tiles do not resolve its harmonics: linear rows coarser than its pitch)."""
    med = {}
    for name, tiles in (("A", tiles_a), ("B", tiles_b)):
        hz, share = median_pitch_hz(tiles, spec)
        if not share:
            raise ValueError(f"domain {name} has no voiced frames to measure a register on")
        lo, hi = V.PITCH_RANGE_HZ
        if not lo * 2 ** (1 / 12) < hz < hi * 2 ** (-1 / 12):
            raise ValueError(
                f"domain {name}'s median pitch ({hz:.0f} Hz) sits at the tracker's range end "
                f"({lo:.0f}-{hi:.0f} Hz): these tiles do not resolve its harmonics; give "
                "--register-shift yourself or use finer tiles (log-frequency rows)"
            )
        med[name] = hz
    return 12.0 * float(np.log2(med["B"] / med["A"])), med
