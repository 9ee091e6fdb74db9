#!/usr/bin/env python3
"""Where the translate time goes on this machine: one 512x512 tile through the default
generator (eager and torch.compile'd), its 3x3 residual convolution alone, and the best
large matrix product, each as seconds and GFLOP/s.

    python benchmarks/benchmark_generator.py            # default generator, this machine's threads
    python benchmarks/benchmark_generator.py --no-compile
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from cyclegan_audio.inference import CompiledGenerator  # noqa: E402
from cyclegan_audio.networks import NetworkConfig, build_generator  # noqa: E402
from cyclegan_audio.spec import SpectrogramSpec  # noqa: E402


def seconds(fn, repeats: int) -> float:
    """Best of ``repeats`` timed calls after one warm-up call."""
    with torch.inference_mode():
        fn()
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t0)
    return best


def flops(fn) -> float:
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        fn()
    return float(counter.get_total_flops())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--compile", action=argparse.BooleanOptionalAction, default=True)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    cfg = NetworkConfig()
    g = build_generator(cfg).eval()
    x = torch.rand(1, 1, *SpectrogramSpec().tile_shape) * 2 - 1
    tile_flops = flops(lambda: g(x))
    rows = [("tile, eager", seconds(lambda: g(x), a.repeats), tile_flops)]
    if a.compile:
        fast = CompiledGenerator(g)
        t0 = time.perf_counter()
        with torch.inference_mode():
            fast(x)
        print(f"compile (once): {time.perf_counter() - t0:.1f} s", flush=True)
        rows.append(("tile, --compile", seconds(lambda: fast(x), a.repeats), tile_flops))
    c = cfg.ngf * 4  # channels of the residual blocks
    conv = torch.nn.Conv2d(c, c, 3).eval()
    side = x.shape[-1] // 4 + 2  # the blocks run at a quarter of the tile, reflection-padded
    h = torch.randn(1, c, side, side)
    name = f"residual conv {c}ch {side - 2}x{side - 2}"
    rows.append((name, seconds(lambda: conv(h), 3), flops(lambda: conv(h))))
    m = torch.randn(2048, 2048)
    rows.append(("matrix product 2048^3", seconds(lambda: m @ m, 3), 2 * 2048**3))
    print(f"threads {a.threads}; generator ngf {cfg.ngf}, {cfg.n_blocks} blocks")
    for name, s, f in rows:
        print(f"{name:32s} {s:8.3f} s  {f / 1e9:8.1f} GFLOP  {f / s / 1e9:7.1f} GFLOP/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
