"""Objective measures of audio with known answers: log-spectral distance and pitch accuracy.

The domain classifier (target-style share) lives in `domain_classifier.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from . import spectrogram as S
from .spec import SpectrogramSpec

# pyin is the slow part of an evaluation. At 11,025 Hz with 20-cent pitch bins a
# 20 s clip takes about 1 s on one core (at 22,050 Hz / 10-cent bins: ~15 s),
# while 20-cent bins stay well inside the ±50-cent tolerance.
PITCH_SAMPLE_RATE = 11025
PITCH_FRAME_LENGTH = 1024
PITCH_HOP_LENGTH = 256  # ~23 ms
PITCH_RESOLUTION = 0.2  # semitones per pyin pitch bin
# pyin's frame grid, which its frame times must share (librosa's names).
PITCH_GRID = {"sr": PITCH_SAMPLE_RATE, "hop_length": PITCH_HOP_LENGTH}
DEFAULT_MIDI_RANGE = (36.0, 96.0)  # C2..C7 when no notes are given


def _db_pair(y_est, y_ref, spec: SpectrogramSpec, top_db: float):
    """(estimate's dB, reference's dB floored, the floor): STFT magnitudes in dB of the two
    signals trimmed to the shorter, the floor ``top_db`` below the reference's peak."""
    a = torch.as_tensor(np.asarray(y_est, dtype=np.float32))
    b = torch.as_tensor(np.asarray(y_ref, dtype=np.float32))
    n = min(a.shape[-1], b.shape[-1])
    ma, mb = S.magnitude(a[..., :n], spec), S.magnitude(b[..., :n], spec)
    db, floor_db = _floored_db(mb, top_db)
    return 20.0 * torch.log10(ma.clamp_min(1e-20)), db, floor_db


def _floored_db(mag: torch.Tensor, top_db: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(``mag`` in dB floored ``top_db`` below its peak, the floor): the LSD's reference."""
    floor_db = 20.0 * torch.log10(mag.max().clamp_min(1e-10)) - top_db
    return torch.clamp_min(20.0 * torch.log10(mag.clamp_min(1e-20)), floor_db), floor_db


def _lsd_at_gains(y_est, y_ref, spec: SpectrogramSpec, top_db: float):
    """A function gain_db -> LSD of ``y_est`` scaled by that gain against ``y_ref`` (the STFTs
    are taken once)."""
    la, db, floor_db = _db_pair(y_est, y_ref, spec, top_db)

    def lsd(gain_db: float) -> float:
        da = torch.clamp_min(la + gain_db, floor_db)
        return float(torch.sqrt(torch.mean((da - db) ** 2, dim=-2)).mean())

    return lsd


def spectral_error_db(
    y_est, y_ref, spec: SpectrogramSpec, *, top_db: float = 80.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where `log_spectral_distance`'s error sits: ``(diff, freqs_hz, times_s)`` with
    ``diff`` (F, T) the estimate's dB minus the reference's, both floored ``top_db`` below
    the reference's peak exactly as the LSD floors them (so ``sqrt(mean(diff**2, axis=0))``
    averaged over frames is the LSD); ``times_s`` are the frames' centres."""
    la, db, floor_db = _db_pair(y_est, y_ref, spec, top_db)
    diff = (torch.clamp_min(la, floor_db) - db).numpy().astype(np.float64)
    times = np.arange(diff.shape[-1]) * spec.hop_length / spec.sample_rate
    return diff, S.stft_freqs_hz(spec), times


def log_spectral_distance(y_est, y_ref, spec: SpectrogramSpec, *, top_db: float = 80.0) -> float:
    """Log-spectral distance in dB between two signals (same rate as ``spec``).

    Per frame: RMS over frequency of the dB difference of the STFT magnitudes;
    then the mean over frames. Both magnitudes are floored ``top_db`` below the
    reference's peak so inaudible bins do not dominate. Signals are trimmed to
    the shorter length. Identical signals give 0.
    """
    return _lsd_at_gains(y_est, y_ref, spec, top_db)(0.0)


def log_spectral_distance_best_gain(
    y_est, y_ref, spec: SpectrogramSpec, *, top_db: float = 80.0, search_db: float = 40.0
) -> tuple[float, float]:
    """`log_spectral_distance` after the global gain (dB, within +-``search_db``, to 0.1 dB)
    applied to ``y_est`` that minimises it: (lsd_db, gain_db). Separates level errors from
    spectral ones."""
    return _best_gain(_lsd_at_gains(y_est, y_ref, spec, top_db), search_db)


def _best_gain(lsd, search_db: float) -> tuple[float, float]:
    best = min(np.arange(-search_db, search_db + 0.5, 1.0), key=lsd)
    best = min(np.arange(best - 1.0, best + 1.0001, 0.1), key=lsd)
    return lsd(float(best)), float(best)


def log_spectral_distances(
    y_est, y_ref, spec: SpectrogramSpec, *, top_db: float = 80.0
) -> tuple[float, float]:
    """(`log_spectral_distance`, the LSD after the best gain) from one pair of STFTs."""
    lsd = _lsd_at_gains(y_est, y_ref, spec, top_db)
    return lsd(0.0), _best_gain(lsd, 40.0)[0]


def band_limit_loss_db(y, sr: int, rate: int, *, top_db: float = 80.0) -> float:
    """What a spec at ``rate`` Hz cannot hold of ``y`` (mono, at ``sr``): the LSD (dB, at
    ``sr``, `SpectrogramSpec`'s STFT, floored as `log_spectral_distance` floors) between
    ``y`` and ``y`` with every STFT bin above ``rate / 2`` removed (an ideal low-pass, as
    resampling to ``rate`` and back is, less its transition band). 0 when ``sr <= rate``:
    nothing lies above the band. A lower bound of the spec's ceiling: tiles and phase
    reconstruction add their own loss.
    """
    if sr <= rate or len(y) == 0:
        return 0.0
    spec = SpectrogramSpec(sample_rate=sr)
    db, floor_db = _floored_db(
        S.magnitude(torch.as_tensor(np.asarray(y, np.float32)), spec), top_db
    )
    above = torch.as_tensor(S.stft_freqs_hz(spec) > rate / 2)
    diff = torch.where(above[:, None], db - floor_db, torch.zeros_like(db))
    return float(torch.sqrt(torch.mean(diff**2, dim=-2)).mean())


@dataclass(frozen=True)
class PitchTrack:
    """Frame-wise pitch: ``times_s`` (T,), ``midi`` (T,) with NaN where unvoiced."""

    times_s: np.ndarray
    midi: np.ndarray

    @property
    def voiced(self) -> np.ndarray:
        return np.isfinite(self.midi)


def midi_range_for_notes(
    notes: Sequence[Sequence[float]], margin: float = 12.0
) -> tuple[float, float]:
    """Search range for pyin: the notes' range widened by ``margin`` semitones.

    The octave margin lets an output that jumps an octave be detected as wrong
    instead of being forced back into the notes' range.
    """
    midis = [float(n[2]) for n in notes]
    if not midis:
        return DEFAULT_MIDI_RANGE
    return (max(24.0, min(midis) - margin), min(108.0, max(midis) + margin))


def pitch_track(
    y: np.ndarray, sample_rate: int, midi_range: tuple[float, float] = DEFAULT_MIDI_RANGE
) -> PitchTrack:
    """pyin pitch of a mono signal ``y`` (n_samples,) at ``sample_rate`` Hz.

    The signal is resampled to `PITCH_SAMPLE_RATE` first (speed); the upper end
    of the range is capped below that rate's Nyquist frequency.
    """
    import librosa

    from .audio import resample

    y = resample(np.asarray(y, dtype=np.float32), sample_rate, PITCH_SAMPLE_RATE)
    fmin = float(librosa.midi_to_hz(midi_range[0]))
    fmax = min(float(librosa.midi_to_hz(midi_range[1])), 0.45 * PITCH_SAMPLE_RATE)
    if y.size < PITCH_FRAME_LENGTH:
        y = np.pad(y, (0, PITCH_FRAME_LENGTH - y.size))
    f0_hz, _, _ = librosa.pyin(
        y,
        fmin=fmin,
        fmax=fmax,
        frame_length=PITCH_FRAME_LENGTH,
        resolution=PITCH_RESOLUTION,
        **PITCH_GRID,
    )
    times_s = librosa.times_like(f0_hz, **PITCH_GRID)
    with np.errstate(invalid="ignore", divide="ignore"):
        midi = np.where(
            np.isfinite(f0_hz) & (f0_hz > 0), 69.0 + 12.0 * np.log2(f0_hz / 440.0), np.nan
        )
    return PitchTrack(times_s=times_s, midi=midi)


def pitch_accuracy_vs_notes(
    est: PitchTrack,
    notes: Sequence[Sequence[float]],
    *,
    tolerance_cents: float = 50.0,
    edge_s: float = 0.05,
) -> float:
    """Share of frames inside a note where ``est`` is voiced and within ``tolerance_cents``.

    ``notes``: ``[[start_s, end_s, midi, velocity], ...]``. Frames within
    ``edge_s`` of a note's start or end are not scored (onsets and note changes
    fall between frames). Overlapping notes: any sounding note counts as a hit.
    Returns NaN when no frame lies inside a note.
    """
    t = est.times_s
    scored = np.zeros(t.shape, dtype=bool)
    hit = np.zeros(t.shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        for start_s, end_s, midi, *_ in notes:
            inside = (t >= start_s + edge_s) & (t <= end_s - edge_s)
            scored |= inside
            hit |= inside & (np.abs(est.midi - float(midi)) * 100.0 <= tolerance_cents)
    n = int(scored.sum())
    return float(hit.sum() / n) if n else float("nan")


def median_transposition(est: PitchTrack, ref: PitchTrack) -> float:
    """Median of ``est`` - ``ref`` in semitones over the frames voiced in both (same frame grid,
    the shorter sets the length); NaN when no frame is."""
    n = min(est.midi.size, ref.midi.size)
    diff = est.midi[:n] - ref.midi[:n]
    diff = diff[np.isfinite(diff)]
    return float(np.median(diff)) if diff.size else float("nan")


def pitch_accuracy_vs_track(
    est: PitchTrack, ref: PitchTrack, *, tolerance_cents: float = 50.0, transposed: bool = False
) -> float:
    """Share of the reference's voiced frames where ``est`` is voiced and within ``tolerance_cents``.

    Both tracks must come from `pitch_track` (same frame grid); the shorter one sets the length.
    ``transposed``: first remove the `median_transposition` of ``est`` from ``ref``, so a
    contour kept in another register counts as kept (a voice moved up an octave keeps its
    intonation); the move itself is what `median_transposition` reports.
    Returns NaN when the reference has no voiced frame.
    """
    n = min(est.midi.size, ref.midi.size)
    ref_midi, est_midi = ref.midi[:n], est.midi[:n]
    if transposed:
        shift = median_transposition(est, ref)
        est_midi = est_midi - (0.0 if np.isnan(shift) else shift)
    scored = np.isfinite(ref_midi)
    with np.errstate(invalid="ignore"):
        hit = scored & (np.abs(est_midi - ref_midi) * 100.0 <= tolerance_cents)
    n_scored = int(scored.sum())
    return float(hit.sum() / n_scored) if n_scored else float("nan")
