"""Integrated loudness (ITU-R BS.1770-4, mono): K-weighting, 400 ms blocks, two gates.

`LoudnessMeter` is streaming: feed a signal in pieces of any size and get the same
figure as for the whole signal at once (the K-weighting filter keeps its state, and
block energies are kept per 100 ms step), so an hour-long file is measured in
bounded memory.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import signal as sps

ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0
_OFFSET_DB = -0.691


def k_weighting_sos(sample_rate: int) -> np.ndarray:
    """BS.1770 pre-filter (high shelf) and RLB high-pass as two biquads, for any rate."""
    # Shelf, derived for an arbitrary rate (coefficients as in libebur128 / pyloudnorm).
    gain_db, q, fc = 3.99984385397, 0.7071752369554193, 1681.9744509555319
    k = math.tan(math.pi * fc / sample_rate)
    vh = 10.0 ** (gain_db / 20.0)
    vb = vh**0.4996667741545416
    a0 = 1.0 + k / q + k * k
    shelf_b = [
        (vh + vb * k / q + k * k) / a0,
        2.0 * (k * k - vh) / a0,
        (vh - vb * k / q + k * k) / a0,
    ]
    shelf_a = [1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0]
    shelf = shelf_b + shelf_a  # one second-order section: b0 b1 b2 a0 a1 a2
    q, fc = 0.5003270373253953, 38.13547087613982
    k = math.tan(math.pi * fc / sample_rate)
    a0 = 1.0 + k / q + k * k
    highpass = [1.0, -2.0, 1.0, 1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0]
    return np.array([shelf, highpass], dtype=np.float64)


class LoudnessMeter:
    """Streaming integrated loudness of a mono signal in LUFS (-inf for silence)."""

    def __init__(self, sample_rate: int):
        self.sos = k_weighting_sos(sample_rate)
        self.zi = np.zeros((self.sos.shape[0], 2))
        self.step = max(1, int(round(0.1 * sample_rate)))  # 100 ms: blocks of 4 steps overlap 75 %
        self.step_energies: list[float] = []
        self._partial_sum = 0.0
        self._partial_n = 0

    def add(self, y: np.ndarray) -> None:
        """Feed the next ``(n_samples,)`` piece of the signal."""
        z, self.zi = sps.sosfilt(self.sos, np.asarray(y, dtype=np.float64), zi=self.zi)
        sq = z * z
        i = 0
        if self._partial_n:
            take = min(self.step - self._partial_n, sq.size)
            self._partial_sum += float(sq[:take].sum())
            self._partial_n += take
            i = take
            if self._partial_n == self.step:
                self.step_energies.append(self._partial_sum / self.step)
                self._partial_sum, self._partial_n = 0.0, 0
        n_full = (sq.size - i) // self.step
        if n_full:
            full = sq[i : i + n_full * self.step].reshape(n_full, self.step)
            self.step_energies.extend(full.mean(axis=1).tolist())
            i += n_full * self.step
        if i < sq.size:
            self._partial_sum += float(sq[i:].sum())
            self._partial_n += sq.size - i

    def lufs(self) -> float:
        e = np.asarray(self.step_energies)
        if e.size < 4:  # shorter than one 400 ms block: the ungated mean square
            total = float(e.sum() * self.step) + self._partial_sum
            n = e.size * self.step + self._partial_n
            ms = total / n if n else 0.0
            return _to_lufs(ms)
        blocks = np.convolve(e, np.ones(4) / 4.0, mode="valid")
        with np.errstate(divide="ignore"):
            block_lufs = _OFFSET_DB + 10.0 * np.log10(blocks)
        gated = blocks[block_lufs > ABSOLUTE_GATE_LUFS]
        if gated.size == 0:
            return float("-inf")
        relative = _to_lufs(float(gated.mean())) + RELATIVE_GATE_LU
        gated = blocks[(block_lufs > ABSOLUTE_GATE_LUFS) & (block_lufs > relative)]
        return _to_lufs(float(gated.mean()))


def _to_lufs(mean_square: float) -> float:
    return _OFFSET_DB + 10.0 * math.log10(mean_square) if mean_square > 0 else float("-inf")


def integrated_loudness(y: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness of a whole mono signal, LUFS."""
    meter = LoudnessMeter(sample_rate)
    meter.add(y)
    return meter.lufs()


MAX_PEAK_GAIN_DB = 40.0  # never lift near-silence into the tile range


def peak_gain_db(peak: float, peak_db: float | None) -> float:
    """Gain (dB) that brings a sample peak to ``peak_db`` dBFS (0 when None or silent), at most
    +40 dB. Used by prepare on every file and by translate on its input, so the generator
    sees audio at the level it was trained on.

    Why: the spec's dB range is fixed, so a quiet recording (peak -20 dBFS) would
    lose its quietest ~20 dB below the floor; normalising uses the whole range.
    """
    if peak_db is None or peak <= 0.0:
        return 0.0
    return float(min(MAX_PEAK_GAIN_DB, peak_db - 20.0 * math.log10(peak)))


def matching_gain(
    source_lufs: float, output_lufs: float, output_peak: float, *, max_peak: float = 0.99
) -> float:
    """Linear gain that brings the output to the source's loudness without clipping.

    The gain is lowered so the output's peak stays at or below ``max_peak``
    (quieter rather than clipped). Silence on either side gives gain 1 (or the
    peak limit alone).
    """
    gain = 1.0
    if math.isfinite(source_lufs) and math.isfinite(output_lufs):
        gain = 10.0 ** ((source_lufs - output_lufs) / 20.0)
    if output_peak > 0:
        gain = min(gain, max_peak / output_peak)
    return gain
