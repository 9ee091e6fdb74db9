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


# prepare flags of `tiny_spec()` (64 bins x 64 frames at 8 kHz, 1.024 s clips)
TINY_SPEC_FLAGS = [
    "--sample-rate", "8000", "--n-fft", "126", "--hop-length", "32",
    "--tile-frames", "64", "--clip-seconds", "1.024",
]  # fmt: skip


def write_two_domains(root, n: int = 3, sr: int = 16000) -> tuple:
    """Folders root/A (sustained tones) and root/B (decaying ones), ``n`` 2.1 s files each."""
    from cyclegan_audio import audio

    for domain, decay in (("A", 0.0), ("B", 6.0)):
        for i in range(n):
            y = harmonic_tone(220.0 * (1 + i / 4), 2.1, sr, decay=decay)
            audio.save(root / domain / f"{domain}{i}.wav", y, sr)
    return root / "A", root / "B"


def fake_tool_and_script(tmp_path, monkeypatch, tool: str, source: str, script: str):
    """Put an executable stand-in for ``tool`` (the Python program ``source``, run by this
    interpreter) first on PATH, and import ``benchmarks/<script>.py`` as a module."""
    import importlib.util
    import sys
    from pathlib import Path

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / tool
    fake.write_text(f"#!{sys.executable}\n{source}")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{script}.py"
    spec = importlib.util.spec_from_file_location(script, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
