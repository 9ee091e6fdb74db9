#!/usr/bin/env python3
"""The whole pipeline in one command (``make demo``), sized for a 2-core CPU.

synthesise demo data -> prepare (a small CPU spec: 16 kHz, 128 bins x 128 frames)
-> train a small CycleGAN -> translate the paired test set -> evaluate -> report.

Everything it writes is its own: data/demo, data/demo_prepared, checkpoints/demo,
reports/demo (each removed first, so a rerun starts clean).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# The demo's small spec and network (the defaults stay the 512 x 512 design).
DEMO_SPEC = [
    "--sample-rate",
    "16000",
    "--n-fft",
    "254",
    "--hop-length",
    "128",
    "--tile-frames",
    "128",
]
DEMO_NET = ["--ngf", "8", "--ndf", "8", "--n-blocks", "3"]


def _stage(name: str, fn, args: list[str]) -> float:
    print(f"\n=== {name}: {' '.join(args)}", flush=True)
    t0 = time.perf_counter()
    rc = fn(args)
    if rc:
        raise SystemExit(f"demo stopped: {name} failed (exit {rc})")
    seconds = time.perf_counter() - t0
    print(f"=== {name} done in {seconds:.0f} s", flush=True)
    return seconds


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--root", default=".", help="folder to write data/, checkpoints/, reports/ under"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-train", type=int, default=12, help="training files per domain (20 s each)")
    p.add_argument("--n-test", type=int, default=3, help="paired test files")
    p.add_argument("--epochs", type=int, default=6, help="epochs at the initial learning rate")
    p.add_argument("--decay-epochs", type=int, default=6, help="epochs of linear decay after them")
    args = p.parse_args(argv)

    os.environ.setdefault("WANDB_MODE", "disabled")
    import torch

    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    from cyclegan_audio.cli import evaluate, make_demo_data, prepare, train

    root = Path(args.root)
    raw, prepared = root / "data" / "demo", root / "data" / "demo_prepared"
    ckpt_dir, report = root / "checkpoints", root / "reports" / "demo"
    for path in (raw, prepared, ckpt_dir / "demo", report):
        shutil.rmtree(path, ignore_errors=True)

    t0 = time.perf_counter()
    times = {}
    times["data"] = _stage("make demo data", make_demo_data.main, [
        "--out", str(raw), "--seed", str(args.seed), "--n-train", str(args.n_train),
        "--n-test", str(args.n_test), "--seconds", "20",
    ])  # fmt: skip
    times["prepare"] = _stage("prepare", prepare.main, [
        str(raw / "train" / "A"), str(raw / "train" / "B"), "--out", str(prepared),
        "--seed", str(args.seed), *DEMO_SPEC,
    ])  # fmt: skip
    times["train"] = _stage("train", train.main, [
        "--data", str(prepared), "--gpus", "0", "--num-workers", "0", "--seed", str(args.seed),
        "--run-name", "demo", "--checkpoint-dir", str(ckpt_dir), "--logger", "csv",
        "--log-dir", str(raw / "logs"), "--log-media-every", "0", "--no-progress-bar",
        "--n-epochs", str(args.epochs), "--n-epochs-decay", str(args.decay_epochs), *DEMO_NET,
    ])  # fmt: skip
    times["translate + evaluate"] = _stage("translate + evaluate", evaluate.main, [
        "--test-dir", str(raw / "test"), "--train-dir", str(raw / "train"),
        "--notes", str(raw / "meta.json"), "--ckpt", str(ckpt_dir / "demo" / "best.ckpt"),
        "--out", str(report), "--device", "cpu",
    ])  # fmt: skip
    total = time.perf_counter() - t0
    print(
        "\nstage times: "
        + ", ".join(f"{k} {v:.0f} s" for k, v in times.items())
        + f"; total {total:.0f} s"
    )
    print(f"open {report / 'report.html'} in a browser (works offline)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
