"""Objective measures of audio: log-spectral distance (more to come: pitch, domain classifier)."""

from __future__ import annotations

import numpy as np
import torch

from . import spectrogram as S
from .spec import SpectrogramSpec


def log_spectral_distance(
    y_est, y_ref, spec: SpectrogramSpec, *, top_db: float = 80.0
) -> float:
    """Log-spectral distance in dB between two signals (same rate as ``spec``).

    Per frame: RMS over frequency of the dB difference of the STFT magnitudes;
    then the mean over frames. Both magnitudes are floored ``top_db`` below the
    reference's peak so inaudible bins do not dominate. Signals are trimmed to
    the shorter length. Identical signals give 0.
    """
    a = torch.as_tensor(np.asarray(y_est, dtype=np.float32))
    b = torch.as_tensor(np.asarray(y_ref, dtype=np.float32))
    n = min(a.shape[-1], b.shape[-1])
    ma, mb = S.magnitude(a[..., :n], spec), S.magnitude(b[..., :n], spec)
    floor = mb.max().clamp_min(1e-10) * 10.0 ** (-top_db / 20.0)
    da = 20.0 * torch.log10(torch.maximum(ma, floor))
    db = 20.0 * torch.log10(torch.maximum(mb, floor))
    per_frame = torch.sqrt(torch.mean((da - db) ** 2, dim=-2))
    return float(per_frame.mean())
