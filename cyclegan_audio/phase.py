"""Phase reconstruction we own: fast Griffin-Lim (momentum) on torch.stft/istft.

Works on a batch of magnitudes (..., n_freq, n_frames) on whatever device they
live on (GPU when present). STFT conventions come from the spec via
`spectrogram.stft/istft`, so round trips never drift.
"""

from __future__ import annotations

import torch

from . import spectrogram as S
from .spec import SpectrogramSpec

DEFAULT_N_ITER = 100
DEFAULT_MOMENTUM = 0.99


def _initial_phase(mag: torch.Tensor, init, seed: int) -> torch.Tensor:
    """Unit-modulus complex tensor shaped like ``mag``."""
    if isinstance(init, torch.Tensor):
        if init.is_complex():
            angle = torch.angle(init)
        else:
            angle = init
        if angle.shape != mag.shape:
            raise ValueError(f"initial phase shape {tuple(angle.shape)} != magnitude {tuple(mag.shape)}")
        return torch.polar(torch.ones_like(mag), angle.to(mag.device, mag.dtype))
    if init == "random":
        g = torch.Generator(device="cpu").manual_seed(seed)
        angle = (torch.rand(mag.shape, generator=g, dtype=mag.dtype) * 2 - 1) * torch.pi
        return torch.polar(torch.ones_like(mag), angle.to(mag.device))
    if init == "zeros":
        return torch.polar(torch.ones_like(mag), torch.zeros_like(mag))
    raise ValueError(f"unknown phase init {init!r}; use 'random', 'zeros' or a phase tensor")


def griffin_lim(
    mag: torch.Tensor,
    spec: SpectrogramSpec,
    *,
    n_iter: int = DEFAULT_N_ITER,
    momentum: float = DEFAULT_MOMENTUM,
    init="random",
    length: int | None = None,
    seed: int = 0,
) -> torch.Tensor:
    """Fast Griffin-Lim (Perraudin et al. 2013): magnitude (..., F, T) -> signal (..., n_samples).

    ``init``: "random", "zeros", or a tensor of phases (real, radians) or complex
    values whose angle is used (e.g. the source signal's STFT).
    """
    mag = torch.as_tensor(mag)
    if not mag.is_floating_point():
        mag = mag.float()
    length = length if length is not None else spec.frames_to_samples(mag.shape[-1])
    x = mag * _initial_phase(mag, init, seed)
    prev = torch.zeros_like(x)
    for _ in range(n_iter):
        rebuilt = S.stft(S.istft(x, spec, length=length), spec)
        accel = rebuilt + momentum * (rebuilt - prev)
        prev = rebuilt
        x = mag * accel / accel.abs().clamp_min(1e-12)
    return S.istft(x, spec, length=length)


def spectral_convergence_db(mag: torch.Tensor, y: torch.Tensor, spec: SpectrogramSpec) -> float:
    """20·log10(‖|STFT(y)| − mag‖ / ‖mag‖) in dB (lower is better)."""
    est = S.magnitude(y, spec)
    n = min(est.shape[-1], mag.shape[-1])
    num = torch.linalg.vector_norm(est[..., :n] - mag[..., :n])
    den = torch.linalg.vector_norm(mag[..., :n]).clamp_min(1e-12)
    return float(20.0 * torch.log10(num / den + 1e-20))
