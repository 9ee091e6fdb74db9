"""STFT, dB scaling and the [0, 1] tile scale, all driven by one `SpectrogramSpec`.

Shapes: a signal is ``(..., n_samples)``; a spectrogram is ``(..., n_freq, n_frames)``
with frequency bin 0 (DC) first. Image orientation (low frequencies at the
bottom) is applied only in `image_io`.

Every function here has an inverse: ``istft(stft(y)) == y``,
``db_to_magnitude(magnitude_to_db(m)) == m`` inside [floor, ceiling], and
``unit_to_db(db_to_unit(d)) == d``.
"""

from __future__ import annotations

import numpy as np
import torch

from .spec import SpectrogramSpec


def window(spec: SpectrogramSpec, *, device=None, dtype=torch.float32) -> torch.Tensor:
    """The analysis/synthesis window, zero-padded by torch to n_fft when shorter."""
    n = spec.n_fft_window
    if spec.window == "hann":
        return torch.hann_window(n, periodic=True, device=device, dtype=dtype)
    return torch.hamming_window(n, periodic=True, device=device, dtype=dtype)


def _scale(spec: SpectrogramSpec) -> float:
    """Factor that makes a full-scale sine peak at magnitude 1 (0 dB)."""
    return 2.0 / float(window(spec, dtype=torch.float64).sum())


def _as_tensor(x) -> tuple[torch.Tensor, bool]:
    if isinstance(x, torch.Tensor):
        return x, False
    return torch.as_tensor(np.asarray(x)), True


def stft(y, spec: SpectrogramSpec) -> torch.Tensor:
    """Complex STFT of ``y`` (..., n_samples) -> (..., n_freq, n_frames), scaled so 0 dB = full-scale sine."""
    y_t, _ = _as_tensor(y)
    if not y_t.is_floating_point():
        y_t = y_t.float()
    lead = y_t.shape[:-1]
    flat = y_t.reshape(-1, y_t.shape[-1])
    x = torch.stft(
        flat,
        n_fft=spec.n_fft,
        hop_length=spec.hop_length,
        win_length=spec.n_fft_window,
        window=window(spec, device=flat.device, dtype=flat.dtype),
        center=spec.center,
        pad_mode=spec.pad_mode,
        return_complex=True,
    )
    x = x * _scale(spec)
    return x.reshape(*lead, x.shape[-2], x.shape[-1])


def istft(x: torch.Tensor, spec: SpectrogramSpec, *, length: int | None = None) -> torch.Tensor:
    """Inverse of `stft`: (..., n_freq, n_frames) complex -> (..., n_samples) real."""
    lead = x.shape[:-2]
    flat = x.reshape(-1, x.shape[-2], x.shape[-1]) / _scale(spec)
    real_dtype = torch.float64 if flat.dtype == torch.complex128 else torch.float32
    y = torch.istft(
        flat,
        n_fft=spec.n_fft,
        hop_length=spec.hop_length,
        win_length=spec.n_fft_window,
        window=window(spec, device=flat.device, dtype=real_dtype),
        center=spec.center,
        length=length,
    )
    return y.reshape(*lead, y.shape[-1])


def magnitude(y, spec: SpectrogramSpec) -> torch.Tensor:
    """|STFT| of a signal, (..., n_freq, n_frames)."""
    return stft(y, spec).abs()


def magnitude_to_db(mag: torch.Tensor, spec: SpectrogramSpec) -> torch.Tensor:
    """20·log10|X| clipped to [db_floor, db_ceiling]."""
    floor = 10.0 ** (spec.db_floor / 20.0)
    db = 20.0 * torch.log10(torch.clamp(mag, min=floor))
    return torch.clamp(db, spec.db_floor, spec.db_ceiling)


def db_to_magnitude(db: torch.Tensor) -> torch.Tensor:
    return torch.pow(10.0, db / 20.0)


def db_to_unit(db: torch.Tensor, spec: SpectrogramSpec) -> torch.Tensor:
    """[db_floor, db_ceiling] -> [0, 1]."""
    return (db - spec.db_floor) / (spec.db_ceiling - spec.db_floor)


def unit_to_db(unit: torch.Tensor, spec: SpectrogramSpec) -> torch.Tensor:
    """[0, 1] -> [db_floor, db_ceiling]; values outside [0, 1] are clipped first."""
    unit = torch.clamp(unit, 0.0, 1.0)
    return spec.db_floor + unit * (spec.db_ceiling - spec.db_floor)


def magnitude_to_unit(mag: torch.Tensor, spec: SpectrogramSpec) -> torch.Tensor:
    """Linear magnitude -> the [0, 1] tile scale (what a PNG pixel stores)."""
    return db_to_unit(magnitude_to_db(mag, spec), spec)


def unit_to_magnitude(unit: torch.Tensor, spec: SpectrogramSpec) -> torch.Tensor:
    """The [0, 1] tile scale -> linear magnitude."""
    return db_to_magnitude(unit_to_db(unit, spec))


def unit_to_model(unit: torch.Tensor) -> torch.Tensor:
    """[0, 1] tile scale -> [-1, 1] network scale."""
    return unit * 2.0 - 1.0


def model_to_unit(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] network scale -> [0, 1] tile scale (clipped)."""
    return torch.clamp((x + 1.0) * 0.5, 0.0, 1.0)


def audio_to_unit(y, spec: SpectrogramSpec) -> torch.Tensor:
    """Signal (..., n_samples) -> tile-scale spectrogram (..., n_freq, n_frames) in [0, 1]."""
    return magnitude_to_unit(magnitude(y, spec), spec)
