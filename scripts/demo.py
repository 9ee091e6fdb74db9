#!/usr/bin/env python3
"""The whole pipeline in one command (``make demo``), sized for a 2-core CPU.

synthesise demo data -> prepare (a small CPU spec: 16 kHz, 128 bins x 128 frames)
-> train a small CycleGAN -> translate the paired test set -> evaluate -> report.

Training shows one progress bar over the whole run (every epoch) with its ETA and
each epoch's validation score. Everything it writes is its own: data/demo,
data/demo_prepared, checkpoints/demo, reports/demo (each removed first, so a rerun
starts clean).
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
DEMO_SPEC = {"sample_rate": 16000, "n_fft": 254, "hop_length": 128, "tile_frames": 128}
DEMO_NET = {"ngf": 8, "ndf": 8, "n_blocks": 3}


def _argv(*positional, **flags) -> list[str]:
    """Command-line words: the positional ones, then ``--name value`` per keyword
    (``_`` in a name becomes ``-``; a value of True is a switch without a value)."""
    words = [str(p) for p in positional]
    for name, value in flags.items():
        words.append("--" + name.replace("_", "-"))
        if value is not True:
            words.append(str(value))
    return words


def _stage(name: str, fn, args: list[str]) -> float:
    print(f"\n=== {name}: {' '.join(args)}", flush=True)
    t0 = time.perf_counter()
    rc = fn(args)
    if rc:
        raise SystemExit(f"demo stopped: {name} failed (exit {rc})")
    seconds = time.perf_counter() - t0
    print(f"=== {name} done in {seconds:.0f} s", flush=True)
    return seconds


def _run_progress():
    """A Lightning callback: one tqdm bar over every training batch of the run, with the
    elapsed time, the ETA, the epochs done and the last validation score beside it."""
    import pytorch_lightning as pl
    from tqdm import tqdm

    class RunProgress(pl.Callback):
        def on_train_start(self, trainer, pl_module):
            total = trainer.max_epochs * trainer.num_training_batches
            self.bar = tqdm(total=total, desc="train", unit="step", dynamic_ncols=True)
            self.bar.set_postfix_str(f"epochs done 0/{trainer.max_epochs}")

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            self.bar.update(1)

        def on_train_epoch_end(self, trainer, pl_module):
            text = f"epochs done {trainer.current_epoch + 1}/{trainer.max_epochs}"
            score = trainer.callback_metrics.get("val/score")
            if score is not None:
                text += f", last val/score {float(score):.3f}"
            self.bar.set_postfix_str(text)
            if trainer.current_epoch + 1 >= trainer.max_epochs:
                self.bar.close()  # before Lightning's "`Trainer.fit` stopped" line

        def on_train_end(self, trainer, pl_module):
            self.bar.close()

    return RunProgress()


def _train(argv: list[str]) -> int:
    """train.py's run with `_run_progress` in place of Lightning's per-epoch bar."""
    from cyclegan_audio.cli import train, user_errors
    from cyclegan_audio.training import run_training

    @user_errors
    def run(argv: list[str]) -> int:
        result = run_training(train.parse(argv), extra_callbacks=(_run_progress(),))
        score = "" if result.best_score is None else f" (val/score {result.best_score:.4f})"
        print(f"trained {result.epochs} epochs; best: {result.best_path}{score}")
        return 0

    return run(argv)


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
    from cyclegan_audio.cli import evaluate, make_demo_data, prepare

    root = Path(args.root)
    raw, prepared = root / "data" / "demo", root / "data" / "demo_prepared"
    ckpt_dir, report = root / "checkpoints", root / "reports" / "demo"
    for path in (raw, prepared, ckpt_dir / "demo", report):
        shutil.rmtree(path, ignore_errors=True)

    t0 = time.perf_counter()
    times = {}
    times["data"] = _stage(
        "make demo data",
        make_demo_data.main,
        _argv(out=raw, seed=args.seed, n_train=args.n_train, n_test=args.n_test, seconds=20),
    )
    times["prepare"] = _stage(
        "prepare",
        prepare.main,
        _argv(raw / "train" / "A", raw / "train" / "B", out=prepared, seed=args.seed, **DEMO_SPEC),
    )
    times["train"] = _stage(
        "train",
        _train,
        _argv(
            data=prepared,
            gpus=0,
            num_workers=0,
            seed=args.seed,
            run_name="demo",
            checkpoint_dir=ckpt_dir,
            logger="csv",
            log_dir=raw / "logs",
            log_media_every=0,
            no_progress_bar=True,  # the demo's own bar covers the whole run
            n_epochs=args.epochs,
            n_epochs_decay=args.decay_epochs,
            **DEMO_NET,
        ),
    )
    times["translate + evaluate"] = _stage(
        "translate + evaluate",
        evaluate.main,
        _argv(
            test_dir=raw / "test",
            train_dir=raw / "train",
            notes=raw / "meta.json",
            ckpt=ckpt_dir / "demo" / "best.ckpt",
            out=report,
            device="cpu",
        ),
    )
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
