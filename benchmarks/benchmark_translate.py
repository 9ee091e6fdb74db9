#!/usr/bin/env python3
"""Real-time factor and peak memory of `translate` (the CLI's code path: file in, file out).

    benchmarks/benchmark_translate.py                       # 60 s input, default model/overlap/iterations
    benchmarks/benchmark_translate.py --seconds 3600 --memory   # peak RSS of a 1-hour file (runs long)

RTF = processing seconds / audio seconds, split into generator, stitching (tile
cutting + blending), phase (Griffin-Lim), resampling, STFT and final I/O. The
generator has random weights of the default size (timing does not depend on them).
`--memory` translates in a child process and reports its peak resident memory.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from cyclegan_audio import audio, timing  # noqa: E402
from cyclegan_audio.checkpoint import load_generator, make_meta  # noqa: E402
from cyclegan_audio.inference import (  # noqa: E402
    DEFAULT_CHUNK_SECONDS,
    DEFAULT_TILE_OVERLAP,
    CompiledGenerator,
    default_batch_size,
    overlap_hop,
    translate_file,
)
from cyclegan_audio.networks import NetworkConfig, build_generator  # noqa: E402
from cyclegan_audio.phase import DEFAULT_N_ITER  # noqa: E402
from cyclegan_audio.spec import SpectrogramSpec  # noqa: E402


def write_test_audio(path: Path, seconds: float, sr: int) -> None:
    """A melody of harmonic notes plus a little noise, written block by block (bounded memory)."""
    rng = np.random.default_rng(0)
    with audio.AudioWriter(path, sr) as w:
        for start in range(0, int(seconds * sr), sr):
            n = min(sr, int(seconds * sr) - start)
            t = (start + np.arange(n)) / sr
            f0 = 196.0 * 2 ** (rng.integers(0, 12) / 12)
            y = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 8))
            w.write(
                (0.15 * y * np.exp(-2 * (t % 1.0)) + 0.003 * rng.standard_normal(n)).astype(
                    np.float32
                )
            )


def write_checkpoint(path: Path, net: NetworkConfig) -> None:
    torch.manual_seed(0)
    g = build_generator(net)
    state = {f"g_ab.{k}": v for k, v in g.state_dict().items()}
    torch.save({"state_dict": state, "cyclegan_audio": make_meta(SpectrogramSpec(), net)}, path)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--input-rate", type=int, default=44100)
    p.add_argument("--memory", action="store_true", help="measure peak RSS in a child process")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--n-iter", type=int, default=DEFAULT_N_ITER)
    p.add_argument("--batch-size", type=int, default=None, help="default: 1 on CPU, 8 on CUDA")
    p.add_argument("--chunk-seconds", type=float, default=DEFAULT_CHUNK_SECONDS)
    p.add_argument("--ngf", type=int, default=NetworkConfig.ngf)
    p.add_argument("--n-blocks", type=int, default=NetworkConfig.n_blocks)
    p.add_argument("--device", default="cpu")
    p.add_argument(
        "--tile-overlap", type=float, default=DEFAULT_TILE_OVERLAP, help="as translate.py's"
    )
    p.add_argument("--compile", action="store_true", help="as translate.py's")
    p.add_argument(
        "--workdir", type=Path, default=None, help="keep files here (default: a temp dir)"
    )
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    a.batch_size = a.batch_size or default_batch_size(a.device)
    net = NetworkConfig(ngf=a.ngf, n_blocks=a.n_blocks)
    with tempfile.TemporaryDirectory() as tmp:
        work = a.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        inp, ckpt, out = work / "input.wav", work / "model.ckpt", work / "input.AtoB.wav"
        write_test_audio(inp, a.seconds, a.input_rate)
        write_checkpoint(ckpt, net)
        load1 = os.getloadavg()[0]
        print(
            f"input {a.seconds:.0f} s at {a.input_rate} Hz; model ngf={a.ngf} n_blocks={a.n_blocks}; "
            f"n_iter={a.n_iter}; tile overlap {a.tile_overlap}; compile {a.compile}; batch {a.batch_size}; chunk {a.chunk_seconds} s; "
            f"threads {a.threads}; device {a.device}; load average before: {load1:.2f}"
        )
        if a.memory:
            flags = {
                "--ckpt": ckpt,
                "-o": out,
                "--n-iter": a.n_iter,
                "--device": a.device,
                "--chunk-seconds": a.chunk_seconds,
                "--batch-size": a.batch_size,
                "--tile-overlap": a.tile_overlap,
            }
            cmd = [sys.executable, "-m", "cyclegan_audio.cli", "translate", str(inp)]
            cmd += [str(word) for pair in flags.items() for word in pair]
            cmd += ["--compile"] * a.compile
            env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, env=env, cwd=Path(__file__).resolve().parents[1])
            wall = time.perf_counter() - t0
            child = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = child.ru_utime + child.ru_stime
            print(
                f"peak RSS of the translate process: {child.ru_maxrss / 1024:.0f} MB "
                f"({wall:.0f} s wall, RTF {wall / a.seconds:.3f}; CPU {cpu:.0f} s, "
                f"RTF {cpu / a.seconds / a.threads:.3f} if {a.threads} cores were ours alone)"
            )
            return 0
        spec, g = load_generator(ckpt, "AtoB", a.device)
        # librosa loads its resampler on the first call (~2-3 s here): start-up, not a rate.
        t_import = time.perf_counter()
        audio.resample(np.zeros(a.input_rate, np.float32), a.input_rate, spec.sample_rate)
        t_import = time.perf_counter() - t_import
        if a.compile:
            g = CompiledGenerator(g)  # its one-off compile is counted in the generator time
        t0, c0 = time.perf_counter(), time.process_time()
        with timing.recording() as timings:
            translate_file(
                inp,
                out,
                g,
                spec,
                chunk_seconds=a.chunk_seconds,
                n_iter=a.n_iter,
                batch_size=a.batch_size,
                device=a.device,
                progress=True,
                hop_frames=overlap_hop(spec, a.tile_overlap),
            )
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        timings["other (read, loudness, scratch)"] = wall - sum(timings.values())
        print(
            f"real-time factor {wall / a.seconds:.3f} ({wall:.1f} s for {a.seconds:.0f} s of audio)"
        )
        # On a shared machine wall time includes waiting for the CPU; CPU time does not.
        print(
            f"process CPU time {cpu:.1f} s (all threads): CPU-RTF {cpu / a.seconds:.3f}, "
            f"i.e. RTF {cpu / a.seconds / a.threads:.3f} if {a.threads} cores were ours alone"
        )
        for k, v in sorted(timings.items(), key=lambda kv: -kv[1]):
            print(f"  {k:32s} {v:8.2f} s  RTF {v / a.seconds:.4f}  ({100 * v / wall:4.1f} %)")
        print(
            f"load average after: {os.getloadavg()[0]:.2f}; peak RSS {peak_rss_mb():.0f} MB; "
            f"start-up: first resampler call {t_import:.1f} s (not in the figures above)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
