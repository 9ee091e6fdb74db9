#!/usr/bin/env python3
"""The reference PyTorch CycleGAN (junyanz/pytorch-CycleGAN-and-pix2pix) on our tiles (issue #10).

    python benchmarks/reference_cyclegan.py SET_DIR --ref /tmp/refcyclegan --seed 0 --epochs 4
        [--work /tmp/q] [--results FILE] [--max-steps N] [--deps /tmp/refdeps] [--spec-of CONFIG]

``--ref``: a copy of the reference code (never part of this repository); ``--deps``: a folder
of the packages it needs that our environment lacks (dominate, torchvision), put on its
PYTHONPATH. The set is prepared with the "baseline" config's spec (the cpu preset, through
quality.prepare_set and its cache; ``--spec-of CONFIG``: that benchmark config's spec, e.g.
the full band prepare chooses for a trumpet, or a voice's log-frequency rows), its training
tiles exported as 8-bit PNGs, and the reference's own ``train.py`` trains ``--model cycle_gan`` with a 6-block ResNet at the
preset's widths for as many generator steps as ``quality.py --epochs E`` makes. Its G_A then
translates test/A through OUR pipeline (phase, stitching, levels) and is scored exactly as
quality.py scores our checkpoints: rows with config "reference-6blocks" (on another spec:
"reference-6blocks@CONFIG") are appended to ``--results``, beside the set's identity and
ceiling rows, for ``quality.py --summary``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from benchmarks import quality  # noqa: E402
from cyclegan_audio import image_io  # noqa: E402
from cyclegan_audio.checkpoint import level_offset_db  # noqa: E402
from cyclegan_audio.errors import CycleGanAudioError  # noqa: E402
from cyclegan_audio.inference import (  # noqa: E402
    LOUDNESS_POLICIES,
)
from cyclegan_audio.manifest import Manifest, domain_lufs  # noqa: E402
from cyclegan_audio.model import lr_factor  # noqa: E402

CONFIG = "reference-6blocks"
NET_G = "resnet_6blocks"  # the reference's smallest ResNet (ours at the cpu preset has 3 blocks)
BASE = quality.CONFIGS["baseline"]  # the spec and widths we compare at

# The reference has no seed flag: seed Python, NumPy and torch, then run its train.py as
# `python train.py ...` would. Its data loader runs in this process (--num_threads 0), so
# the shuffles, the B draws and the image pools all come from these generators.
SEEDED_TRAIN = (
    "import random, runpy, sys\n"
    "import numpy, torch\n"
    "seed = int(sys.argv.pop(1))\n"
    "random.seed(seed); numpy.random.seed(seed); torch.manual_seed(seed)\n"
    "sys.argv[0] = 'train.py'\n"
    "runpy.run_path('train.py', run_name='__main__')\n"
)


def step_counts(n_a: int, n_b: int, epochs: int, max_steps: int = -1) -> tuple[int, int, int]:
    """(our generator steps, the reference's, tiles per reference epoch) at batch 1.

    Both make one generator step per tile pair and an epoch of max(n_A, n_B) pairs (ours:
    data.UnpairedTiles; the reference: UnalignedDataset). ``max_steps`` > 0 stops ours after
    that many steps; the reference gets ``--max_dataset_size`` ``max_steps // epochs`` (the
    first tiles of each domain), so it keeps its whole lr schedule in fewer steps.
    """
    per_epoch = max(n_a, n_b)
    ours = epochs * per_epoch if max_steps <= 0 else min(max_steps, epochs * per_epoch)
    if max_steps > 0:
        cap = max(1, max_steps // epochs)
        per_epoch = max(min(n_a, cap), min(n_b, cap))
    return ours, epochs * per_epoch, per_epoch


def lr_factors(epochs: int) -> tuple[list[float], list[float]]:
    """The lr factor of each epoch: ours, and the reference's, whose train.py steps its
    scheduler at the START of every epoch, so its epoch e (from 1) runs at our epoch e's
    factor: one epoch ahead, and its last epoch at lr 0."""
    n, n_decay = quality.schedule(epochs)
    ours = [lr_factor(e, n, n_decay) for e in range(epochs)]
    return ours, [lr_factor(e, n, n_decay) for e in range(1, epochs + 1)]


def export_tiles(paths: list[Path], out: Path) -> int:
    """Our tile PNGs -> 8-bit greyscale PNGs of the same orientation (low bins at the bottom).

    The reference reads images with PIL ``.convert('RGB')``, which clips a 16-bit PNG to 255:
    every tile would be white. 8 bits step the tile's [0, 1] scale by 1/255 (0.42 dB at the
    cpu preset's 106 dB range). Files already there are kept (a rerun exports nothing); any
    other PNG there is removed, since the reference trains on every image in the folder.
    """
    out.mkdir(parents=True, exist_ok=True)
    for stale in set(out.glob("*.png")) - {out / p.name for p in paths}:
        stale.unlink()
    for p in paths:
        if not (out / p.name).is_file():
            image_io.write_png(out / p.name, image_io.read_png(p), bits=8)
    return len(paths)


class ReferenceGenerator(torch.nn.Module):
    """The reference's generator on our tiles: (B, 1, F, T) on [-1, 1], bin 0 first.

    It trained on PNG rows, highest bin first, so the frequency axis is flipped on the way in
    and out. Its scale needs nothing: ToTensor then Normalize(0.5, 0.5) maps pixel / 255 to
    2 u - 1, our network scale (spectrogram.unit_to_model).
    """

    def __init__(self, net: torch.nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flip(-2)).flip(-2)


def load_reference_generator(ref: Path, weights: Path, ngf: int) -> ReferenceGenerator:
    """G_A (A -> B) from ``latest_net_G_A.pth``, built by the reference's own define_G. Its
    networks.py is loaded by file path: its package names (models, data, util) stay out of
    this process's imports."""
    spec = importlib.util.spec_from_file_location("reference_networks", ref / "models/networks.py")
    networks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(networks)
    net = networks.define_G(1, 1, ngf, NET_G, "instance", False, "normal", 0.02, [])
    net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return ReferenceGenerator(net).eval()


def reference_argv(data: Path, runs: Path, name: str, epochs: int, tile: tuple[int, int],
                   max_per_domain: int | None = None) -> list[str]:  # fmt: skip
    """The reference train.py's flags: our widths, 1-channel tiles as they are (no resize,
    crop or flip), CPU, batch 1, no visdom or HTML pages; saved once, after the last epoch."""
    n, n_decay = quality.schedule(epochs)
    argv = [
        "--dataroot", str(data), "--name", name, "--checkpoints_dir", str(runs),
        "--model", "cycle_gan", "--input_nc", "1", "--output_nc", "1", "--netG", NET_G,
        "--ngf", str(BASE["net"]["ngf"]), "--ndf", str(BASE["net"]["ndf"]),
        "--load_size", str(max(tile)), "--crop_size", str(max(tile)), "--preprocess", "none",
        "--no_flip", "--display_id", "0", "--no_html", "--gpu_ids", "-1", "--batch_size", "1",
        "--num_threads", "0", "--n_epochs", str(n), "--n_epochs_decay", str(n_decay),
        "--save_epoch_freq", str(epochs),
    ]  # fmt: skip
    if max_per_domain is not None:
        argv += ["--max_dataset_size", str(max_per_domain)]
    return argv


def train_reference(ref: Path, deps: Path, argv: list[str], seed: int, log: Path) -> int:
    """Run the reference's train.py (cwd ``ref``) with ``argv``; returns the tiles per epoch
    it reported. Its output goes to ``log``."""
    env = dict(os.environ, OMP_NUM_THREADS=str(torch.get_num_threads()))
    if deps.is_dir():
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(deps), env.get("PYTHONPATH")]))
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as f:
        cmd = [sys.executable, "-c", SEEDED_TRAIN, str(seed), *argv]
        rc = subprocess.run(cmd, cwd=ref, env=env, stdout=f, stderr=subprocess.STDOUT).returncode
    lines = log.read_text(errors="replace").splitlines()
    if rc != 0:
        last = next((s.strip() for s in reversed(lines) if s.strip()), "no output")
        raise CycleGanAudioError(f"the reference train.py failed (exit {rc}: {last}); see {log}")
    sizes = [int(s.rsplit("=", 1)[1]) for s in lines if "number of training images" in s]
    if not sizes:
        raise CycleGanAudioError(f"the reference train.py did not report its data; see {log}")
    return sizes[0]


def check_inputs(set_dir: Path, ref: Path) -> None:
    if not (ref / "train.py").is_file() or not (ref / "models/networks.py").is_file():
        raise CycleGanAudioError(
            f"--ref {ref}: no reference CycleGAN here (train.py, models/networks.py); give the "
            "folder of a copy of junyanz/pytorch-CycleGAN-and-pix2pix"
        )
    missing = [s for s in ("train/A", "train/B", "test/A", "test/B") if not (set_dir / s).is_dir()]
    if missing:
        raise CycleGanAudioError(
            f"{set_dir}: not a development set (no {', '.join(missing)}); give a folder with "
            "train/A, train/B, test/A and test/B"
        )


def run(args) -> list[dict]:
    set_dir, ref, work, epochs = args.set_dir, args.ref.resolve(), args.work, args.epochs
    check_inputs(set_dir, ref)
    spec_kw = quality.CONFIGS[args.spec_of]["spec"]
    label = CONFIG if spec_kw == BASE["spec"] else f"{CONFIG}@{args.spec_of}"
    t0 = time.perf_counter()
    data = quality.prepare_set(set_dir, spec_kw, work)
    t_prep = time.perf_counter() - t0
    manifest = Manifest.load(data)
    spec = manifest.spec
    tiles = {d: manifest.tile_paths(d, "train") for d in ("A", "B")}
    export = work / "refdata" / (set_dir.name if label == CONFIG else data.name)
    for d, paths in tiles.items():
        export_tiles(paths, export / f"train{d}")
    ours, steps, per_epoch = step_counts(len(tiles["A"]), len(tiles["B"]), epochs, args.max_steps)
    lr_ours, lr_ref = lr_factors(epochs)
    print(
        f"{set_dir.name}: {len(tiles['A'])} A / {len(tiles['B'])} B training tiles, {epochs} "
        f"epochs: our run {ours} generator steps, the reference {steps} ({per_epoch} a epoch)\n"
        f"lr factor per epoch: ours {lr_ours}, the reference {lr_ref}",
        flush=True,
    )
    on = "" if label == CONFIG else f"-{args.spec_of}"
    name = f"{set_dir.name}-reference{on}-s{args.seed}-e{epochs}"
    name += f"-m{args.max_steps}" if args.max_steps > 0 else ""
    runs = work / "refruns"
    weights = runs / name / "latest_net_G_A.pth"
    weights.unlink(missing_ok=True)  # never score an earlier run's weights
    cap = per_epoch if args.max_steps > 0 else None
    argv = reference_argv(export, runs, name, epochs, spec.tile_shape, cap)
    t1 = time.perf_counter()
    reported = train_reference(ref, args.deps, argv, args.seed, runs / f"{name}.log")
    t_train = time.perf_counter() - t1
    if reported != per_epoch or not weights.is_file():
        raise CycleGanAudioError(
            f"the reference trained on {reported} tiles an epoch, not {per_epoch}, or saved no "
            f"{weights.name}; see {runs / f'{name}.log'}"
        )
    g = load_reference_generator(ref, weights, BASE["net"]["ngf"])
    peak_db = manifest.settings.get("peak_db")
    offset = level_offset_db({"domain_lufs": domain_lufs(manifest)}, "AtoB")
    out = work / "eval" / name
    folders = quality.translate_with(g, spec, peak_db, offset, set_dir, out / "last")
    common = dict(
        set=set_dir.name, config=label, spec=spec_kw, seed=args.seed, epochs=epochs,
        steps=steps, train_s=round(t_train, 1), prepare_s=round(t_prep, 1),
        commit=quality._git_commit(), machine=quality._machine(), date=time.strftime("%Y-%m-%d"),
        reference=str(ref),
    )  # fmt: skip
    rows = [dict(common, **r) for r in quality.references(set_dir, spec_kw, spec, work, args.seed)]
    res = quality._evaluate(set_dir, folders[args.eval_policy], out / "last" / "eval", args.seed)
    for policy, folder in folders.items():
        lsd, lsd_gain = quality._lsd_folder(set_dir, folder)
        row = quality._rows_from_eval(res, "model", **common, system="model", ckpt="last")
        row.update(loudness=policy, lsd=lsd, lsd_gain=lsd_gain, ckpt_steps=steps)
        rows.append(row)
    for r in rows:
        r["wall_s"] = round(time.perf_counter() - t0, 1)
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "set_dir", type=Path, help="a development set (train/A, train/B, test/A, test/B)"
    )
    p.add_argument("--ref", type=Path, required=True, help="a copy of the reference CycleGAN code")
    p.add_argument("--deps", type=Path, default=Path("/tmp/refdeps"),
                   help="packages the reference needs beyond ours (on its PYTHONPATH if there)")  # fmt: skip
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=4, help="as quality.py's: half at the full lr")
    p.add_argument("--max-steps", type=int, default=-1, help="smoke runs: about this many steps")
    p.add_argument("--work", type=Path, default=Path("/tmp/cyclegan-quality"))
    p.add_argument("--results", type=Path, default=Path("docs/quality/results.jsonl"))
    p.add_argument("--spec-of", default="baseline", choices=sorted(quality.CONFIGS),
                   help="train and translate on this benchmark config's spec (the widths stay "
                   "the cpu preset's)")  # fmt: skip
    p.add_argument("--eval-policy", default="domain", choices=LOUDNESS_POLICIES,
                   help="loudness policy whose files get the full evaluation (pitch, share)")  # fmt: skip
    args = p.parse_args(argv)
    try:
        rows = run(args)
    except CycleGanAudioError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # quality.prepare_set's failure, after prepare's own message
        if not isinstance(exc.code, str):
            raise
        print(f"Error: {exc.code}", file=sys.stderr)
        return 2
    args.results.parent.mkdir(parents=True, exist_ok=True)
    with args.results.open("a") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    print(quality.summarize(rows, args.eval_policy), flush=True)
    return 0


if __name__ == "__main__":
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    sys.exit(main())
