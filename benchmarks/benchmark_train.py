#!/usr/bin/env python3
"""Training throughput of the CycleGAN: our configurations vs the reference loop, in one run.

Every configuration times full training steps (both generators, both discriminators,
all losses, image pools, both optimiser steps) of the default 512x512 model:

* ``reference``: as the reference PyTorch CycleGAN trains it: fp32, eager, batch 1,
  plain ``torch.optim.Adam``, tiles already in memory;
* ours: bf16 autocast (GPU) or fp32, batch sizes, fused Adam, ``torch.compile`` of the
  four networks (in place, ``nn.Module.compile``), and data loading from 16-bit PNG
  tiles through the training DataLoader (on) vs synthetic in-memory batches (off).

Beside the configurations, the same run reports:

* ``train.py loop``: the fastest configuration again, but through the real training
  loop (``run_training``: Lightning, data loading, logging, progress bar, NaN check),
  so the Lightning overhead is measured, not assumed;
* ``loader alone``: tiles/s the training DataLoader delivers with nothing else running,
  i.e. the headroom of the data pipeline over the training step;
* ``bf16 numerics``: one generator step in bf16 autocast vs fp32 on the same tiles and
  weights (relative loss-term differences, gradient cosine), the health check for
  instance norm under autocast.

FLOPs per tile are counted with ``torch.utils.flop_counter`` on one fp32 step at batch 1
(convolutions and matmuls, forward + backward). Model FLOP utilisation =
tiles/s x FLOPs/tile / ``--peak-tflops`` (default: the GPU's dense bf16 peak for H100/H200).

    benchmarks/benchmark_train.py                  # GPU: default model, all configurations
    benchmarks/benchmark_train.py --tiny --steps 3 # CPU smoke test: tiny spec and networks
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytorch_lightning as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from cyclegan_audio import image_io  # noqa: E402
from cyclegan_audio.data import TileDataModule  # noqa: E402
from cyclegan_audio.manifest import Manifest, TileRecord  # noqa: E402
from cyclegan_audio.model import CycleGan, TrainConfig  # noqa: E402
from cyclegan_audio.networks import NetworkConfig, tiny_config  # noqa: E402
from cyclegan_audio.spec import SpectrogramSpec, tiny_spec  # noqa: E402
from cyclegan_audio.training import RunConfig, run_training  # noqa: E402

# Dense (no sparsity) bf16 tensor-core peaks, TFLOP/s, SXM parts.
PEAK_BF16_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0}


@dataclass(frozen=True)
class Config:
    name: str
    precision: str = "32"  # "32" or "bf16"
    batch_size: int = 1
    compile: bool = False
    fused_adam: bool = False
    data_loading: bool = False
    reference: bool = False


def set_requires_grad(nets, flag: bool) -> None:
    for net in nets:
        for p in net.parameters():
            p.requires_grad_(flag)


def make_optimizers(model: CycleGan, fused: bool):
    kw = dict(lr=2e-4, betas=(0.5, 0.999))
    if fused:
        kw["fused"] = True
    g = [*model.g_ab.parameters(), *model.g_ba.parameters()]
    d = [*model.d_a.parameters(), *model.d_b.parameters()]
    return torch.optim.Adam(g, **kw), torch.optim.Adam(d, **kw)


def train_step(model: CycleGan, real_a, real_b, opt_g, opt_d, dtype) -> None:
    """One full CycleGAN step, the same math as CycleGan.training_step without Lightning."""
    device_type = real_a.device.type
    autocast = (
        torch.autocast(device_type, dtype=dtype) if dtype is not None else contextlib.nullcontext()
    )
    set_requires_grad((model.d_a, model.d_b), False)
    with autocast:
        loss_g, _, fake_a, fake_b = model.generator_loss(real_a, real_b)
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    opt_g.step()
    set_requires_grad((model.d_a, model.d_b), True)
    with autocast:
        loss_d, _ = model.discriminator_loss(real_a, real_b, fake_a, fake_b)
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()


def count_flops_per_tile(spec, net_cfg, device) -> float:
    model = CycleGan(spec, net_cfg, TrainConfig()).to(device)
    opt_g, opt_d = make_optimizers(model, False)
    x = torch.rand(2, 1, 1, *spec.tile_shape, device=device) * 2 - 1
    with FlopCounterMode(display=False) as counter:
        train_step(model, x[0], x[1], opt_g, opt_d, None)
    return float(counter.get_total_flops())


def write_tiles(root: Path, spec: SpectrogramSpec, n_per_domain: int) -> Path:
    rng = np.random.default_rng(0)
    tiles = []
    for domain in ("A", "B"):
        for split, count in (("train", n_per_domain), ("val", 2)):
            for i in range(count):
                rel = f"{domain}/{split}/{i:04d}.png"
                image_io.write_png(root / rel, rng.random(spec.tile_shape))
                tiles.append(TileRecord(rel, domain, split, "synthetic", 0.0))
    Manifest(spec=spec, root=root, tiles=tiles).save()
    return root


def batches(cfg: Config, spec, device, data_dir: Path | None, num_workers: int):
    """Endless (real_a, real_b) on ``device``: from PNGs through the DataLoader, or synthetic."""
    if cfg.data_loading:
        dm = TileDataModule(data_dir, batch_size=cfg.batch_size, num_workers=num_workers)
        while True:
            for b in dm.train_dataloader():
                yield (
                    b["a"].to(device, non_blocking=True),
                    b["b"].to(device, non_blocking=True),
                )
    g = torch.Generator(device="cpu").manual_seed(0)
    pool = [
        (torch.rand(cfg.batch_size, 1, *spec.tile_shape, generator=g) * 2 - 1).to(device)
        for _ in range(4)
    ]
    i = 0
    while True:
        yield pool[i % 4], pool[(i + 1) % 4]
        i += 1


def sync(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_config(cfg: Config, spec, net_cfg, device, args, data_dir) -> dict:
    torch.manual_seed(0)
    model = CycleGan(spec, net_cfg, TrainConfig(compile=cfg.compile)).to(device)
    opt_g, opt_d = make_optimizers(model, cfg.fused_adam)
    dtype = torch.bfloat16 if cfg.precision == "bf16" else None
    it = batches(cfg, spec, device, data_dir, args.num_workers)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(args.warmup):
        train_step(model, *next(it), opt_g, opt_d, dtype)
    sync(device)
    warm_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(args.steps):
        train_step(model, *next(it), opt_g, opt_d, dtype)
    sync(device)
    elapsed = time.perf_counter() - t0
    mem = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else float("nan")
    return {
        **cfg.__dict__,
        "tiles_per_s": args.steps * cfg.batch_size / elapsed,
        "step_ms": 1000 * elapsed / args.steps,
        "warmup_s": warm_s,
        "peak_mem_gib": mem,
    }


class StepTimer(pl.Callback):
    """Times batches [warmup, warmup + steps) of the real training loop, then stops it."""

    def __init__(self, warmup: int, steps: int, device: torch.device):
        self.warmup, self.steps, self.device = warmup, steps, device
        self.t_start = self.t0 = time.perf_counter()
        self.warm_s = self.elapsed = float("nan")

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if batch_idx == self.warmup:
            sync(self.device)
            self.t0 = time.perf_counter()
            self.warm_s = self.t0 - self.t_start

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if batch_idx == self.warmup + self.steps - 1:
            sync(self.device)
            self.elapsed = time.perf_counter() - self.t0
            trainer.should_stop = True


def time_lightning(cfg: Config, spec, net_cfg, device, args, data_dir, tmp: Path) -> dict:
    """``cfg`` through run_training (what train.py runs), data loading included."""
    timer = StepTimer(args.warmup, args.steps, device)
    run = RunConfig(
        data=data_dir,
        net=net_cfg,
        train=TrainConfig(compile=cfg.compile, fused_adam=cfg.fused_adam),
        gpus=1 if device.type == "cuda" else 0,
        max_epochs=1,
        batch_size=cfg.batch_size,
        precision="bf16-mixed" if cfg.precision == "bf16" else "32-true",
        num_workers=args.num_workers,
        n_val_tiles=2,
        checkpoint_dir=tmp / "checkpoints",
        run_name="bench",
        logger="none",
    )
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    run_training(run, extra_callbacks=(timer,))
    mem = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else float("nan")
    return {
        **cfg.__dict__,
        "name": "train.py loop: " + cfg.name,
        "data_loading": True,
        "tiles_per_s": args.steps * cfg.batch_size / timer.elapsed,
        "step_ms": 1000 * timer.elapsed / args.steps,
        "warmup_s": timer.warm_s,
        "peak_mem_gib": mem,
    }


def loader_rate(data_dir: Path, batch_size: int, num_workers: int | None, n_batches: int) -> dict:
    """Tiles/s (one A + one B tile per tile counted, as in the step figures) of the loader alone."""
    dm = TileDataModule(data_dir, batch_size=batch_size, num_workers=num_workers)
    loader = dm.train_dataloader()

    def endless():
        while True:
            yield from loader

    it = endless()
    next(it)  # workers started
    t0 = time.perf_counter()
    for _ in range(n_batches):
        next(it)
    elapsed = time.perf_counter() - t0
    return {"tiles_per_s": n_batches * batch_size / elapsed, "num_workers": dm.num_workers}


def loader_table(spec: SpectrogramSpec, args) -> int:
    """Tiles/s of the training DataLoader alone for several worker counts and batch sizes."""
    n_batches = max(args.steps, 20)
    workers = sorted({0, 1, 2, args.num_workers if args.num_workers is not None else 2})
    with tempfile.TemporaryDirectory() as tmp:
        per_domain = max(args.batch_sizes) * 4
        data_dir = write_tiles(Path(tmp), spec, n_per_domain=per_domain)
        print(f"tile {spec.tile_shape}, 16-bit PNG; one tile = one A + one B tile, as in training")
        for w in workers:
            for bs in args.batch_sizes:
                r = loader_rate(data_dir, bs, w, max(1, n_batches * max(1, w) // bs))
                print(f"workers {w:2d}  batch {bs:2d}: {r['tiles_per_s']:8.1f} tiles/s", flush=True)
    return 0


def bf16_numerics(spec, net_cfg, device) -> dict:
    """One generator loss + backward in bf16 autocast vs fp32: same weights, same tiles."""
    torch.manual_seed(0)
    model = CycleGan(spec, net_cfg, TrainConfig()).to(device)
    g = torch.Generator(device="cpu").manual_seed(1)
    # Spectrogram-like tiles: mostly quiet, a few loud bins (uniform noise would flatter bf16).
    x = ((torch.rand(2, 1, 1, *spec.tile_shape, generator=g) ** 4) * 2 - 1).to(device)
    params = [*model.g_ab.parameters(), *model.g_ba.parameters()]

    def one(dtype):
        model.zero_grad(set_to_none=True)
        ctx = torch.autocast(device.type, dtype=dtype) if dtype else contextlib.nullcontext()
        with ctx:
            loss, terms, _, _ = model.generator_loss(x[0], x[1])
        loss.backward()
        grads = torch.cat([p.grad.float().flatten() for p in params])
        return {k: float(v.detach()) for k, v in terms.items()}, grads

    t32, g32 = one(None)
    t16, g16 = one(torch.bfloat16)
    rel = {k: abs(t16[k] - t32[k]) / max(abs(t32[k]), 1e-12) for k in t32}
    return {
        "max_rel_loss_term_diff": max(rel.values()),
        "worst_term": max(rel, key=rel.get),
        "grad_cosine": float(torch.nn.functional.cosine_similarity(g16, g32, dim=0)),
        "grad_rel_err": float((g16 - g32).norm() / g32.norm()),
        "finite": all(math.isfinite(v) for v in t16.values()),
    }


def configurations(args, device) -> list[Config]:
    gpu = device.type == "cuda"
    prec = "bf16" if gpu else "32"
    fused = gpu or args.tiny  # fused Adam on CPU is proven by the smoke run, not timed seriously
    out = [
        Config("reference", reference=True),
        Config(f"{prec} bs1 fused", prec, 1, fused_adam=fused),
    ]
    if gpu:
        out.append(Config("32 bs1 fused", "32", 1, fused_adam=True))
    if args.compile:
        out.append(Config(f"{prec} bs1 fused compile", prec, 1, True, fused))
    for bs in args.batch_sizes:
        if bs > 1:
            out.append(
                Config(
                    f"{prec} bs{bs} fused{' compile' if args.compile else ''}",
                    prec,
                    bs,
                    args.compile,
                    fused,
                )
            )
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tiny", action="store_true", help="tiny spec and networks (CPU smoke test)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--steps", type=int, default=20, help="timed steps per configuration")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps (compile happens here)")
    p.add_argument(
        "--batch-sizes", type=lambda s: [int(x) for x in s.split(",")], default=[1, 4, 8]
    )
    p.add_argument(
        "--compile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="include torch.compile configurations (default: on with a GPU)",
    )
    p.add_argument("--num-workers", type=int, default=None, help="DataLoader workers")
    p.add_argument(
        "--peak-tflops",
        type=float,
        default=None,
        help="peak TFLOP/s for the MFU figure (default: dense bf16 of H100/H200)",
    )
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    p.add_argument(
        "--loader-only",
        action="store_true",
        help="only the DataLoader's tiles/s for 0, 1, 2, ... workers (no training, any machine)",
    )
    args = p.parse_args(argv)
    device = torch.device(args.device)
    if args.loader_only:
        return loader_table(tiny_spec() if args.tiny else SpectrogramSpec(), args)
    if args.compile is None:
        args.compile = device.type == "cuda"
    spec, net_cfg = (
        (tiny_spec(), tiny_config()) if args.tiny else (SpectrogramSpec(), NetworkConfig())
    )
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        name = torch.cuda.get_device_name(device)
        peak = args.peak_tflops or next((v for k, v in PEAK_BF16_TFLOPS.items() if k in name), None)
    else:
        name, peak = "cpu", args.peak_tflops
    flops = count_flops_per_tile(spec, net_cfg, device)
    print(
        f"device: {name}; tile {spec.tile_shape}; model ngf {net_cfg.ngf} ndf {net_cfg.ndf} "
        f"blocks {net_cfg.n_blocks}; {flops / 1e9:.4g} GFLOP per tile per training step"
    )
    results: list[dict] = []
    report: dict = {"device": name, "flops_per_tile": flops, "peak_tflops": peak}

    def save() -> None:  # after every figure: a run cut short still leaves what it measured
        if args.json:
            args.json.write_text(json.dumps({**report, "results": results}, indent=1))

    def show(r: dict) -> None:
        ref = results[0]["tiles_per_s"]
        tflops = r["tiles_per_s"] * flops / 1e12  # achieved model TFLOP/s
        r["tflops"] = tflops
        r["mfu"] = tflops / peak if peak else None
        r["x_reference"] = r["tiles_per_s"] / ref
        mfu = f"{100 * r['mfu']:5.1f}%" if peak else "   n/a"
        print(
            f"{r['name']:40s} {r['tiles_per_s']:9.2f} {r['step_ms']:9.1f} "
            f"{r['x_reference']:6.2f} {tflops:8.4g} {mfu} {r['peak_mem_gib']:8.2f}",
            flush=True,
        )
        save()

    numerics = bf16_numerics(spec, net_cfg, device)
    report["bf16_numerics"] = numerics
    print(
        f"bf16 numerics (one generator step vs fp32): loss terms within "
        f"{100 * numerics['max_rel_loss_term_diff']:.2f} % (worst {numerics['worst_term']}), "
        f"gradient cosine {numerics['grad_cosine']:.5f}, relative error "
        f"{numerics['grad_rel_err']:.4f}, finite {numerics['finite']}",
        flush=True,
    )
    print(
        f"{'configuration':40s} {'tiles/s':>9s} {'ms/step':>9s} {'x ref':>6s} "
        f"{'TFLOP/s':>8s} {'MFU':>6s} {'mem GiB':>8s}",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as tmp:
        per_domain = max(8, (args.warmup + args.steps) * max(args.batch_sizes))
        data_dir = write_tiles(Path(tmp) / "tiles", spec, n_per_domain=per_domain)
        for cfg in configurations(args, device):
            results.append(time_config(cfg, spec, net_cfg, device, args, data_dir))
            show(results[-1])
        # Data loading on, for the fastest synthetic configuration.
        best = max(results[1:], key=lambda r: r["tiles_per_s"])
        best_cfg = Config(
            best["name"], best["precision"], best["batch_size"], best["compile"], best["fused_adam"]
        )
        on = Config(**{**best_cfg.__dict__, "name": best["name"] + " +data", "data_loading": True})
        results.append(time_config(on, spec, net_cfg, device, args, data_dir))
        show(results[-1])
        results.append(time_lightning(best_cfg, spec, net_cfg, device, args, data_dir, Path(tmp)))
        show(results[-1])
        loader = loader_rate(data_dir, best["batch_size"], args.num_workers, args.steps)
        report["loader_alone"] = loader
        save()
    print(
        f"loader alone ({loader['num_workers']} workers, batch {best['batch_size']}): "
        f"{loader['tiles_per_s']:.1f} tiles/s = {loader['tiles_per_s'] / best['tiles_per_s']:.1f}x "
        f"what the fastest configuration consumes"
    )
    data_on, loop = results[-2], results[-1]
    print(
        f"data loading on vs in-memory: {100 * (data_on['tiles_per_s'] / best['tiles_per_s'] - 1):+.1f} %; "
        f"train.py loop vs bare loop: {100 * (loop['tiles_per_s'] / data_on['tiles_per_s'] - 1):+.1f} %"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
