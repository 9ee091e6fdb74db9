"""What one training step of a quality-benchmark config costs: FLOPs and seconds.

A config's training time in the benchmark's rows depends on what else ran beside it; this
measures the configs against each other under the same load. For each config it builds the
model at the config's spec, networks and loss weights and counts the FLOPs of one training
step (both generators and both discriminators, forward, backward and Adam; counted, so the same
on any machine), then times steps round-robin over the configs (each config's median, so
a load that changes during the run affects all alike).

    python benchmarks/step_cost.py cycle5-pitch cycle5-pitch-blocks6 --steps 30
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from benchmarks.benchmark_train import make_optimizers, train_step  # noqa: E402
from benchmarks.quality import CONFIGS  # noqa: E402
from cyclegan_audio.model import CycleGan, TrainConfig  # noqa: E402
from cyclegan_audio.networks import NetworkConfig  # noqa: E402
from cyclegan_audio.spec import SpectrogramSpec  # noqa: E402


class _Step:
    """One config's model and a fixed pair of random tiles; ``__call__`` = one training step
    (benchmark_train.train_step: both optimiser steps, without Lightning)."""

    def __init__(self, name: str, seed: int = 0):
        c = CONFIGS[name]
        torch.manual_seed(seed)
        self.spec = SpectrogramSpec(**c["spec"])
        self.model = CycleGan(self.spec, NetworkConfig(**c["net"]), TrainConfig(**c["train"]))
        self.model.train()
        shape = (1, 1, *self.spec.tile_shape)
        self.a, self.b = (torch.rand(shape) * 2 - 1 for _ in range(2))
        self.opt_g, self.opt_d = make_optimizers(self.model, fused=False)

    def __call__(self) -> None:
        train_step(self.model, self.a, self.b, self.opt_g, self.opt_d, None)

    def parameters(self) -> tuple[int, int]:
        """(parameters of one generator, of one discriminator)."""
        m = self.model
        return (sum(p.numel() for p in m.g_ab.parameters()),
                sum(p.numel() for p in m.d_a.parameters()))  # fmt: skip


def step_flops(step: _Step) -> float:
    counter = FlopCounterMode(display=False)
    with counter:
        step()
    return float(counter.get_total_flops())


def measure(names: list[str], steps: int, warmup: int = 2) -> list[dict]:
    """One row per config: parameters, FLOPs per step, median seconds per step."""
    runs = {n: _Step(n) for n in names}
    flops = {n: step_flops(s) for n, s in runs.items()}
    times: dict[str, list[float]] = {n: [] for n in names}
    for i in range(warmup + steps):
        for n, s in runs.items():
            t0 = time.perf_counter()
            s()
            if i >= warmup:
                times[n].append(time.perf_counter() - t0)
    first = names[0]
    rows = []
    for n in names:
        g, d = runs[n].parameters()
        sec = statistics.median(times[n])
        rows.append(dict(
            config=n, tile=list(runs[n].spec.tile_shape), generator_params=g,
            discriminator_params=d, gflop_per_step=round(flops[n] / 1e9, 3),
            flops_vs_first=round(flops[n] / flops[first], 3), s_per_step=round(sec, 4),
            time_vs_first=round(sec / statistics.median(times[first]), 3),
            threads=torch.get_num_threads(), steps=steps,
        ))  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("configs", nargs="+", help="quality.py config names; the first is the yardstick")
    p.add_argument("--steps", type=int, default=30, help="timed steps per config (round-robin)")
    p.add_argument("--out", type=Path, help="append the rows here (JSON lines)")
    a = p.parse_args(argv)
    unknown = [n for n in a.configs if n not in CONFIGS]
    if unknown or a.steps < 1:
        what = f"unknown config {', '.join(unknown)}" if unknown else "--steps must be 1 or more"
        print(f"error: {what}; see benchmarks/quality.py CONFIGS", file=sys.stderr)
        return 2
    rows = measure(a.configs, a.steps)
    for r in rows:
        print(json.dumps(r))
    if a.out:
        with a.out.open("a") as f:
            f.writelines(json.dumps(r) + "\n" for r in rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
