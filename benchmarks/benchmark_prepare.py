#!/usr/bin/env python3
"""Time `prepare` on ~1 hour of synthetic audio (default spec) and a no-op second run.

    python benchmarks/benchmark_prepare.py [--files 180] [--seconds 20] [--workers 2]

Files are 44.1 kHz 16-bit WAV (so resampling is part of the work), half in each
domain, written to a temporary folder that is removed afterwards.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

from cyclegan_audio.preparation import prepare  # noqa: E402


def synth(i: int, seconds: float, sr: int) -> np.ndarray:
    """A few seconds-long notes with harmonics and a little noise; different per file."""
    rng = np.random.default_rng(i)
    t = np.arange(int(seconds * sr)) / sr
    f0 = (
        110.0
        * 2.0 ** (rng.integers(0, 36, size=int(seconds) // 2 + 1) / 12.0)[(t // 2).astype(int)]
    )
    phase = 2 * np.pi * np.cumsum(f0) / sr
    y = sum(np.sin(k * phase) / k for k in range(1, 6)) * (0.2 + 0.1 * np.sin(2 * np.pi * 0.5 * t))
    return (y + 0.003 * rng.standard_normal(t.size)).astype(np.float32)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--files", type=int, default=180)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--input-rate", type=int, default=44100)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-prepare-") as tmp:
        root = Path(tmp)
        for i in range(args.files):
            folder = root / ("A" if i % 2 == 0 else "B")
            folder.mkdir(exist_ok=True)
            sf.write(
                folder / f"f{i:04d}.wav", synth(i, args.seconds, args.input_rate), args.input_rate
            )
        hours = args.files * args.seconds / 3600.0
        kw = dict(out=root / "out", workers=args.workers, echo=print)
        t0 = time.perf_counter()
        summary = prepare(root / "A", root / "B", **kw)
        first_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = prepare(root / "A", root / "B", progress=False, **kw)
        second_s = time.perf_counter() - t0
        n_bytes = sum(f.stat().st_size for f in (root / "out").rglob("*.png"))
    print(f"machine: {os.cpu_count()} cores; {args.workers} workers; default spec")
    print(f"audio: {args.files} files x {args.seconds:g} s = {hours:.2f} h at {args.input_rate} Hz")
    print(
        f"prepare: {first_s:.1f} s -> {summary.n_new_tiles} tiles ({n_bytes / 1e6:.0f} MB of PNG)"
    )
    print(f"second run (nothing new): {second_s:.2f} s, {again.n_new_tiles} new tiles")
    print(f"speed: {hours * 3600 / first_s:.0f}x real time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
