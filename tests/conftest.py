"""Shared fixtures: tiny specs, tiny networks, synthetic signals with known answers."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("WANDB_SILENT", "true")
torch.set_num_threads(min(2, torch.get_num_threads()))

from cyclegan_audio.spec import tiny_spec  # noqa: E402


@pytest.fixture
def spec():
    """64 bins x 64 frames at 8 kHz; a 1.024 s clip holds four tiles."""
    return tiny_spec()


def sine(freq_hz: float, seconds: float, sr: int, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(round(seconds * sr))) / sr
    return (amp * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def harmonic_tone(
    f0_hz: float, seconds: float, sr: int, n_harm: int = 6, amp: float = 0.3, decay: float = 0.0
):
    """A tone with harmonics 1..n_harm at 1/k amplitude, optionally exponentially decaying."""
    t = np.arange(int(round(seconds * sr))) / sr
    y = sum(
        np.sin(2 * np.pi * f0_hz * k * t) / k for k in range(1, n_harm + 1) if f0_hz * k < sr / 2
    )
    env = np.exp(-decay * t) if decay else 1.0
    return (amp * y * env / 1.5).astype(np.float32)
