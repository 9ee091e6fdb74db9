#!/usr/bin/env python3
"""Benchmark our fast Griffin-Lim against librosa.griffinlim, and measure restore quality.

    python benchmarks/benchmark_phase.py [--input CLIP] [--iters 32 100] [--threads 1]

Part 1: on a 20 s clip at the default spec, ours vs librosa (momentum 0.99,
same n_fft/hop/window/center, pad_mode constant, random init, equal iterations):
wall time, time ratio, spectral convergence; and ours with PGHI init.
Part 2: "restore" quality: |STFT| -> tile scale -> 16-bit PNG pixels -> magnitude
-> phase reconstruction; log-spectral distance to the original for random, PGHI
and source-phase initialisation.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from cyclegan_audio import audio, image_io, metrics, phase  # noqa: E402
from cyclegan_audio import spectrogram as S  # noqa: E402
from cyclegan_audio.cli import user_errors  # noqa: E402
from cyclegan_audio.spec import SpectrogramSpec  # noqa: E402

DEFAULT_CLIP_DIR = Path("/work/shared/data/violin_guitar/train/A")


def synthetic_clip(spec: SpectrogramSpec, seconds: float) -> np.ndarray:
    """A violin-like test signal: notes of 10 decaying harmonics with vibrato, float32."""
    sr = spec.sample_rate
    t = np.arange(int(round(seconds * sr))) / sr
    notes_hz = [196.0, 293.7, 440.0, 329.6, 392.0, 261.6, 493.9, 220.0]
    note_s = seconds / len(notes_hz)
    y = np.zeros_like(t)
    for i, f0 in enumerate(notes_hz):
        local = t - i * note_s
        on = (local >= 0) & (local < note_s)
        vib = f0 * (1 + 0.006 * np.sin(2 * np.pi * 5.5 * local[on]))
        inst_phase = 2 * np.pi * np.cumsum(vib) / sr
        env = np.minimum(1.0, local[on] / 0.05) * np.exp(-1.5 * local[on])
        y[on] = env * sum(np.sin(k * inst_phase) / k for k in range(1, 11) if k * f0 < sr / 2)
    return (0.3 * y / np.abs(y).max()).astype(np.float32)


def load_clip(args, spec: SpectrogramSpec) -> tuple[np.ndarray, str]:
    if (
        args.input is None
        and DEFAULT_CLIP_DIR.is_dir()
        and audio.find_audio_files(DEFAULT_CLIP_DIR)
    ):
        args.input = audio.find_audio_files(DEFAULT_CLIP_DIR)[0]
    if args.input is None:
        return synthetic_clip(spec, args.seconds), f"synthetic harmonic signal, {args.seconds:g} s"
    y = audio.load(args.input, spec.sample_rate, duration_s=args.seconds)
    return y, f"{args.input} ({len(y) / spec.sample_rate:.1f} s)"


def librosa_random_phase(shape, seed: int) -> np.ndarray:
    """The initial phase librosa.griffinlim(init="random") draws for this seed (radians)."""
    return 2 * np.pi * np.random.RandomState(seed).random_sample(size=shape)


def librosa_stft_kwargs(spec: SpectrogramSpec) -> dict:
    """The spec's STFT settings under librosa's names."""
    return {
        "n_fft": spec.n_fft,
        "hop_length": spec.hop_length,
        "win_length": spec.n_fft_window,
        "window": spec.window,
        "center": spec.center,
        "pad_mode": spec.pad_mode,
    }


def librosa_griffinlim(mag_lib: np.ndarray, spec: SpectrogramSpec, n_iter: int, length: int, seed):
    import librosa

    # librosa 1.0 renames random_state to rng.
    seed_kw = "rng" if "rng" in inspect.signature(librosa.griffinlim).parameters else "random_state"
    return librosa.griffinlim(
        mag_lib,
        n_iter=n_iter,
        **librosa_stft_kwargs(spec),
        momentum=phase.DEFAULT_MOMENTUM,
        init="random",
        length=length,
        **{seed_kw: np.random.RandomState(seed)},
    )


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def compare_with_librosa(y: np.ndarray, spec: SpectrogramSpec, iters: list[int], seed: int) -> None:
    import librosa

    y_t = torch.from_numpy(y)
    mag = S.magnitude(y_t, spec)
    mag_lib = np.abs(librosa.stft(y, **librosa_stft_kwargs(spec)))
    print(f"\n{'method':<28}{'iters':>6}{'time_s':>9}{'x faster':>10}{'SC_dB':>9}")
    for n_iter in iters:
        y_lib, t_lib = timed(librosa_griffinlim, mag_lib, spec, n_iter, len(y), seed)
        ours = dict(n_iter=n_iter, length=len(y), seed=seed)
        same_start = torch.from_numpy(librosa_random_phase(tuple(mag.shape), seed))
        y_same, t_same = timed(phase.griffin_lim, mag, spec, init=same_start, **ours)
        y_ours, t_ours = timed(phase.griffin_lim, mag, spec, init="random", **ours)
        y_pghi, t_pghi = timed(phase.griffin_lim, mag, spec, init="pghi", **ours)
        rows = [
            ("librosa.griffinlim random", y_lib, t_lib),
            ("ours, librosa's start", y_same, t_same),
            ("ours random", y_ours, t_ours),
            ("ours pghi (incl. init)", y_pghi, t_pghi),
        ]
        for name, out, secs in rows:
            sc = phase.spectral_convergence_db(
                mag, torch.as_tensor(np.asarray(out, np.float32)), spec
            )
            print(f"{name:<28}{n_iter:>6}{secs:>9.2f}{t_lib / secs:>10.1f}{sc:>9.2f}", flush=True)


def restore_quality(y: np.ndarray, spec: SpectrogramSpec, n_iter: int, seed: int) -> None:
    """LSD (dB) of restore: tiles through 16-bit PNG pixels, then phase reconstruction."""
    print(f"\nrestore: |STFT| -> 16-bit PNG pixels -> magnitude -> phase, {n_iter} iterations")
    print(
        f"{'level / floor policy':<40}{'random':>9}{'pghi':>9}{'source':>9}{'source@0':>10}  (LSD dB)"
    )
    peak = float(np.abs(y).max()) or 1.0
    cases = [
        ("as is, unit_to_magnitude", y, False),
        ("as is, floor pixels -> 0", y, True),
        ("peak -1 dBFS, unit_to_magnitude", y / peak * 10 ** (-1 / 20), False),
    ]
    for name, clip, zero_floor in cases:
        clip_t = torch.from_numpy(np.ascontiguousarray(clip, dtype=np.float32))
        unit = S.audio_to_unit(clip_t, spec).numpy()
        unit_q = torch.from_numpy(image_io.pixels_to_unit(image_io.unit_to_pixels(unit, bits=16)))
        mag = S.unit_to_magnitude(unit_q, spec)
        if zero_floor:  # a pixel at the floor means "at most the floor"; silence is closer to it
            mag = torch.where(unit_q > 0, mag, torch.zeros_like(mag))
        source = S.stft(clip_t, spec)
        lsd = []
        for init, n in (("random", n_iter), ("pghi", n_iter), (source, n_iter), (source, 0)):
            out = phase.griffin_lim(mag, spec, n_iter=n, init=init, length=len(clip), seed=seed)
            lsd.append(metrics.log_spectral_distance(out.numpy(), clip, spec))
        print(
            f"{name:<40}" + "".join(f"{v:>9.3f}" for v in lsd[:3]) + f"{lsd[3]:>10.3f}", flush=True
        )


def _numpy_threads(n: int):
    """Limit numpy/BLAS threads when threadpoolctl is installed (it comes with scikit-learn)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=n)


@user_errors
def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--input", type=Path, help="audio clip (default: first violin clip, else synthetic)"
    )
    p.add_argument("--seconds", type=float, default=20.0, help="clip length to use (s)")
    p.add_argument("--iters", type=int, nargs="+", default=[32, 100], help="iteration counts")
    p.add_argument("--restore-iters", type=int, default=phase.DEFAULT_N_ITER)
    p.add_argument("--threads", type=int, default=1, help="torch and numpy threads (both)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--skip-librosa", action="store_true", help="only the restore measurement")
    args = p.parse_args(argv)

    threads_before = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    spec = SpectrogramSpec()
    try:
        with _numpy_threads(args.threads):
            run(args, spec)
    finally:
        torch.set_num_threads(threads_before)
    return 0


def run(args, spec: SpectrogramSpec) -> None:
    y, what = load_clip(args, spec)
    print(
        f"clip: {what}; spec: n_fft {spec.n_fft}, hop {spec.hop_length}, {spec.window}, "
        f"center {spec.center}, pad {spec.pad_mode}; momentum {phase.DEFAULT_MOMENTUM}"
    )
    print(
        f"threads: torch {torch.get_num_threads()}, numpy/BLAS limit {args.threads}, "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}"
    )
    if not args.skip_librosa:
        compare_with_librosa(y, spec, args.iters, args.seed)
    restore_quality(y, spec, args.restore_iters, args.seed)


if __name__ == "__main__":
    sys.exit(main())
